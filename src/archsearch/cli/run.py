"""`archsearch run`: the main job (search, final training, test, export, report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from archsearch.cli.common import (
    Progress,
    add_scheduler_options,
    key_value_option,
    parse_objectives,
)
from archsearch.core.trial import Budget
from archsearch.study.config import build_components


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: search a network for a dataset, retrain, test, export, report",
        description="With no arguments: a CNN for scikit-learn's digits in a few minutes.",
    )
    p.add_argument(
        "--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10 or npz:FILE"
    )
    p.add_argument(
        "--data-dir", help="where datasets are (default: $ARCHSEARCH_DATA, then system places)"
    )
    p.add_argument("--space", default="chain", help="search space (default: chain)")
    p.add_argument(
        "--space-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="space setting, e.g. max_layers=8 or filters=[32,64,128] (repeatable)",
    )
    p.add_argument("--strategy", default="re", help="search strategy (default: re)")
    p.add_argument(
        "--strategy-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    add_scheduler_options(p)
    p.add_argument(
        "--time-budget", default="4m", help="search and final training together, e.g. 30m"
    )
    p.add_argument(
        "--search-share", type=float, default=0.6, help="share of the budget spent searching"
    )
    p.add_argument(
        "--search-epochs", type=int, default=5, help="epochs per candidate (low fidelity)"
    )
    p.add_argument(
        "--final-epochs", type=int, default=100, help="most epochs for the final training"
    )
    p.add_argument(
        "--data-fraction", type=float, default=1.0, help="share of the training data per candidate"
    )
    p.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of the training split held out"
    )
    p.add_argument(
        "--resolution", type=int, help="train candidates at this input size (low fidelity)"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop and flip in the final training (default: on for CIFAR-10 only)",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps (default: auto)",
    )
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="autocast precision of training on a GPU (default: fp32)",
    )
    p.add_argument("--workers", type=int, default=2, help="trials at once, one process each")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per trial")
    p.add_argument("--max-params", type=int, help="reject larger networks before training")
    p.add_argument("--max-flops", type=float, help="reject networks with more FLOPs per sample")
    p.add_argument("--max-latency-ms", type=float, help="reject slower networks (CPU, batch 1)")
    p.add_argument(
        "--objectives",
        help="multi-objective mode, e.g. val_acc:max,params:min (the report draws the front)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--study", type=Path, help="study folder (default: runs/run-DATASET-SPACE-STRATEGY-sSEED)"
    )
    p.add_argument("--quiet", action="store_true")


def main(args: argparse.Namespace) -> None:
    from archsearch.jobs.run import SUMMARY_KEYS, RunConfig, default_folder, run

    config = RunConfig.parse(
        {
            "dataset": args.dataset,
            "data_dir": args.data_dir,
            "space": args.space,
            "space_options": dict(args.space_option),
            "strategy": args.strategy,
            "strategy_options": dict(args.strategy_option),
            "scheduler": args.scheduler,
            "scheduler_options": dict(args.scheduler_option),
            "time_budget": args.time_budget,
            "search_share": args.search_share,
            "search_epochs": args.search_epochs,
            "final_epochs": args.final_epochs,
            "data_fraction": args.data_fraction,
            "val_fraction": args.val_fraction,
            "resolution": args.resolution,
            "batch_size": args.batch_size,
            "augment": args.augment,
            "device": args.device,
            "precision": args.precision,
            "workers": args.workers,
            "threads": args.threads,
            "max_params": args.max_params,
            "max_flops": args.max_flops,
            "max_latency_ms": args.max_latency_ms,
            "objectives": parse_objectives(args.objectives),
            "seed": args.seed,
        }
    )
    folder = args.study or default_folder(config)
    budget = Budget(seconds=config.budget_seconds() * config.search_share)
    build_components(config.study_config())  # report bad names before any output
    with Progress(budget, args.quiet, 0) as progress:
        summary = run(config, folder, log=progress.log, callbacks=(progress.update,))
    table = Table(title=f"archsearch run: {folder}", show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    for key in (*SUMMARY_KEYS, "genotype_file", "weights_file", "onnx_file", "report"):
        value = summary.get(key)
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)
