"""`archsearch calibrate`: how well cheap estimates rank architectures, and their cost."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from archsearch.cli.common import run_with_progress
from archsearch.cli.flags import add_config_flags, config_from_args, print_config
from archsearch.core.atomic import atomic_write_text
from archsearch.jobs.calibrate import CalibrateConfig


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="rank correlation of cheap estimates (few epochs, data fraction, resolution, "
        "zero-cost proxies) with full training, and their cost",
        description="Trains a sample of architectures at the reference setting and at each "
        "cheap one, then prints Kendall's tau and Spearman's rho against the reference.",
    )
    add_config_flags(p, CalibrateConfig)
    p.add_argument("--study", type=Path, help="job folder (default: runs/JOB-SETTINGS-sSEED)")
    p.add_argument("--output", type=Path, help="also write the results as JSON here")
    p.add_argument("--quiet", action="store_true")


def main(args: argparse.Namespace) -> None:
    config = config_from_args(args, CalibrateConfig)
    if args.print_config:
        print_config(config)
        return
    summary = run_with_progress(config, args.study, args, show=False)
    table = Table(
        title=f"calibration on {config.dataset}: {len(summary['architectures'])} {config.space} "
        f"architectures, reference {config.reference} "
        f"({summary['reference_seconds_per_arch']:.1f} s each)"
    )
    for column in ("estimate", "Kendall tau", "Spearman", "s / arch", "cost ratio", "failed"):
        table.add_column(column)
    for row in summary["estimates"]:
        table.add_row(
            row["label"],
            f"{row['kendall_tau']:.3f}",
            f"{row['spearman']:.3f}",
            f"{row['seconds_per_arch']:.2f}",
            f"{row['cost_ratio']:.3f}",
            str(row["failed"]),
        )
    Console().print(table)
    if args.output is not None:
        atomic_write_text(args.output, json.dumps(summary, indent=2))
