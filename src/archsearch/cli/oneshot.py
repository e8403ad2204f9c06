"""`archsearch oneshot`: a one-shot (weight-sharing) search from the command line.

    archsearch oneshot --space nb201 --method gdas --dataset cifar10 --epochs 50 --study runs/x

Prints one line per epoch and the derived cell with its NB201 test accuracies at the
end. Running the same command again after an interruption continues from the
checkpoint in the folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from archsearch.cli.common import run_with_progress
from archsearch.cli.flags import add_config_flags, config_from_args, print_config
from archsearch.jobs.oneshot import OneShotConfig


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "oneshot",
        help="one-shot NAS with weight sharing (DARTS, DrNAS, SNAS, GDAS, ENAS, RSPS)",
        description="Train a weight-sharing supernet, derive a cell, look it up in NB201.",
    )
    add_config_flags(p, OneShotConfig)
    p.add_argument(
        "--study",
        "--out",
        dest="study",
        type=Path,
        help="job folder (default: runs/JOB-SETTINGS-sSEED)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def main(args: argparse.Namespace) -> int:
    config = config_from_args(args, OneShotConfig)
    if args.print_config:
        print_config(config)
        return 0
    summary = run_with_progress(config, args.study, args, show=False)
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    print(f"derived cell: {summary['architecture']}")
    tests = {k.removeprefix("nb201_test_"): v for k, v in summary.items() if "nb201_test_" in k}
    if tests:
        print(
            "NB201 200-epoch test accuracy: " + ", ".join(f"{d} {v:.2f}" for d, v in tests.items())
        )
    if "retrain_test_acc" in summary:
        print(f"retrained from scratch: test accuracy {summary['retrain_test_acc']:.2f}")
    print(
        f"search: {summary['epochs_run']} epochs, {summary['search_seconds']:.0f} s"
        + (" (stopped early: skip connections dominate)" if summary["stopped_early"] else "")
    )
    return 0
