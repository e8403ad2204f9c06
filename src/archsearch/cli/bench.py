"""`archsearch bench`: look a cell up in a tabular benchmark."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from archsearch.cli.common import TABULAR_EVALUATORS


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="look a cell up in a tabular benchmark")
    p.add_argument("benchmark", choices=TABULAR_EVALUATORS)
    p.add_argument("--arch", required=True, help="arch string, official index or JSON genotype")
    p.add_argument("--dataset", help="one dataset (default: all)")


def main(args: argparse.Namespace) -> None:
    from rich.console import Console

    from archsearch.benchmarks.nb201 import DATASETS, NB201Table, dataset_name
    from archsearch.space.nb201 import NB201Space

    space, table = NB201Space(), NB201Table()
    arch = space.parse(args.arch)
    index = space.index(arch)
    datasets = DATASETS if args.dataset is None else (dataset_name(args.dataset),)
    out = Table(title=f"NAS-Bench-201 #{index}: {space.to_arch_str(arch)}")
    for column in (
        "dataset",
        "valid 12ep",
        "test 12ep",
        "valid 200ep",
        "test 200ep",
        "params M",
        "train s",
    ):
        out.add_column(column, justify="right", no_wrap=column == "dataset")
    for ds in datasets:
        out.add_row(
            ds,
            f"{table.valid_acc(index, ds, 12):.2f}",
            f"{table.test_acc(index, ds, 12):.2f}",
            f"{table.valid_acc(index, ds, 200):.2f}",
            f"{table.test_acc(index, ds, 200):.2f}",
            f"{table.params_m(index, ds):.3f}",
            f"{table.train_time_s(index, ds, 200):.0f}",
        )
    Console().print(out)
