"""`archsearch transfer`: NASNet's search on a small proxy, then the cells stacked larger
and trained on the target (`archsearch.jobs.transfer`)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.jobs.transfer import search_and_transfer


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `transfer` subcommand on an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "transfer",
        help="NASNet: search cells on a small proxy, train them stacked larger on the target",
        description="Search normal and reduction cells (darts space) on a small, briefly "
        "trained proxy network, then stack more cells with more filters, train with "
        "ScheduledDropPath and test; prints the proxy and target accuracies together.",
    )
    p.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files")
    p.add_argument("--strategy", default="re", help="any registered strategy (re, random, ...)")
    p.add_argument("--trials", type=int, default=10, help="proxy candidates to train")
    p.add_argument("--proxy-cells", type=int, default=5)
    p.add_argument("--proxy-channels", type=int, default=8)
    p.add_argument("--proxy-epochs", type=int, default=3)
    p.add_argument("--data-fraction", type=float, default=0.5, help="of the proxy's train split")
    p.add_argument("--target-cells", type=int, default=8)
    p.add_argument("--target-channels", type=int, default=16)
    p.add_argument("--target-epochs", type=int, default=10)
    p.add_argument("--drop-path-prob", type=float, default=0.2, help="ScheduledDropPath's final")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", action="store_true", help="also train the ResNet-style cells")
    p.add_argument("--output", type=Path, help="also write the result as JSON here")
    return p


def main(args: argparse.Namespace) -> int:
    """Run `search_and_transfer` with the arguments; print and optionally save the result."""
    if not math.isfinite(args.data_fraction) or not 0.0 < args.data_fraction <= 1.0:
        raise ConfigError(f"--data-fraction must be in (0, 1], got {args.data_fraction}")
    result = search_and_transfer(
        args.dataset,
        data_dir=args.data_dir,
        strategy=args.strategy,
        trials=args.trials,
        proxy_cells=args.proxy_cells,
        proxy_channels=args.proxy_channels,
        proxy_epochs=args.proxy_epochs,
        data_fraction=args.data_fraction,
        target_cells=args.target_cells,
        target_channels=args.target_channels,
        target_epochs=args.target_epochs,
        drop_path_prob=args.drop_path_prob,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        baseline=args.baseline,
        log=print,
    )
    line = (
        f"proxy val {result['proxy_val_acc']:.2f} % ({result['proxy_trials']} trials) -> "
        f"target test {result['target_test_acc']:.2f} %"
    )
    if "baseline_test_acc" in result:
        line += f"; ResNet-style baseline {result['baseline_test_acc']:.2f} %"
    print(line)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0
