"""`archsearch transfer`: NASNet's search on a small proxy, then the cells stacked larger
and trained on the target (`archsearch.jobs.transfer`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import run_with_progress
from archsearch.cli.flags import add_config_flags, config_from_args, print_config
from archsearch.core.atomic import atomic_write_text
from archsearch.jobs.transfer import TransferConfig


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "transfer",
        help="NASNet: search cells on a small proxy, train them stacked larger on the target",
        description="Search normal and reduction cells (darts space) on a small, briefly "
        "trained proxy network, then stack more cells with more filters, train with "
        "ScheduledDropPath and test; prints the proxy and target accuracies together.",
    )
    add_config_flags(p, TransferConfig)
    p.add_argument("--study", type=Path, help="job folder (default: runs/JOB-SETTINGS-sSEED)")
    p.add_argument("--output", type=Path, help="also write the result as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def main(args: argparse.Namespace) -> int:
    config = config_from_args(args, TransferConfig)
    if args.print_config:
        print_config(config)
        return 0
    result = run_with_progress(config, args.study, args, show=False)
    line = (
        f"proxy val {result['proxy_val_acc']:.2f} % ({result['proxy_trials']} trials) -> "
        f"target test {result['target_test_acc']:.2f} %"
    )
    if "baseline_test_acc" in result:
        line += f"; ResNet-style baseline {result['baseline_test_acc']:.2f} %"
    print(line)
    if args.output is not None:
        import json

        atomic_write_text(args.output, json.dumps(result, indent=2) + "\n")
    return 0
