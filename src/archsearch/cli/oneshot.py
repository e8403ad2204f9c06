"""`archsearch oneshot`: a one-shot (weight-sharing) search from the command line.

    archsearch oneshot --space nb201 --method gdas --dataset cifar10 --epochs 50 --out runs/x

Prints one line per epoch and the derived cell with its NB201 test accuracies at the
end. Running the same command again after an interruption continues from the
checkpoint in `--out`. Torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

#: CLI flag -> method option; passed only when given
_METHOD_FLAGS = {
    "order": "order",
    "arch_lr": "arch_lr",
    "warmup": "warmup",
    "beta0": "beta0",
    "tune_epochs": "tune_epochs",
    "keep": "keep",
    "stop_skips": "stop_skips",
    "n_derive": "n_derive",
    "controller_steps": "controller_steps",
}


#: record keys the progress line prints itself; the method's own numbers follow them
_SHOWN = ("epoch", "train_loss", "seconds", "arch", "skip_share", "none_share", "cifar10_test")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `oneshot` subcommand on an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "oneshot",
        help="one-shot NAS with weight sharing (DARTS, DrNAS, SNAS, GDAS, ENAS, RSPS)",
        description="Train a weight-sharing supernet, derive a cell, look it up in NB201.",
    )
    p.add_argument("--space", default="nb201", help="cell space: nb201, darts")
    p.add_argument(
        "--method",
        default="gdas",
        help="darts, darts- or darts-pt (collapse remedies), drnas, snas, gdas, enas, rsps",
    )
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files")
    p.add_argument("--out", required=True, help="run folder (checkpoint, result.json)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells-per-stage", type=int, default=5)
    p.add_argument("--train-size", type=int, default=None, help="images of the weights' half")
    p.add_argument("--val-size", type=int, default=None, help="images of the arch's half")
    p.add_argument("--resolution", type=int, default=None, help="resize images to this side")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--partial-channels", type=int, default=1, help="PC-DARTS K (1: off)")
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--order", type=int, default=None, help="darts: 1 or 2")
    p.add_argument("--arch-lr", type=float, default=None)
    p.add_argument("--warmup", type=float, default=None, help="fraction with alpha frozen")
    p.add_argument("--beta0", type=float, default=None, help="darts-: initial aux skip weight")
    p.add_argument(
        "--tune-epochs", type=int, default=None, help="darts-pt: epochs between edge decisions"
    )
    p.add_argument(
        "--keep", type=int, default=None, help="drnas: ops kept per edge after half the search"
    )
    p.add_argument("--stop-skips", type=int, default=None, help="DARTS+ early stop")
    p.add_argument("--n-derive", type=int, default=None, help="enas/rsps: cells scored")
    p.add_argument("--controller-steps", type=int, default=None, help="enas")
    p.add_argument(
        "--retrain-epochs", type=int, default=None, help="retrain the derived cell (darts space)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the search the arguments describe; 0 on success (errors raise
    `ArchsearchError`, which the CLI prints)."""
    from archsearch.oneshot.driver import search

    options = {
        key: getattr(args, flag)
        for flag, key in _METHOD_FLAGS.items()
        if getattr(args, flag) is not None
    }

    def progress(record: dict[str, Any]) -> None:
        extra = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in record.items()
            if k
            not in (
                "epoch",
                "train_loss",
                "seconds",
                "arch",
                "skip_share",
                "none_share",
                "cifar10_test",
            )
        )
        cell = record["arch"] or "-"
        print(
            f"epoch {record['epoch']}/{args.epochs} loss {record['train_loss']:.4f} "
            f"{record['seconds']:.0f}s skip {record['skip_share']:.2f} none "
            f"{record['none_share']:.2f} cell {cell} {extra}".rstrip(),
            flush=True,
        )

    result = search(
        space=args.space,
        method=args.method,
        dataset=args.dataset,
        epochs=args.epochs,
        channels=args.channels,
        cells_per_stage=args.cells_per_stage,
        train_size=args.train_size,
        val_size=args.val_size,
        resolution=args.resolution,
        batch_size=args.batch_size,
        partial_channels=args.partial_channels,
        eval_size=args.eval_size,
        seed=args.seed,
        out_dir=args.out,
        data_dir=args.data_dir,
        method_options=options,
        threads=args.threads,
        on_epoch=progress,
        retrain_epochs=args.retrain_epochs,
    )
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
        return 0
    print(f"derived cell: {result.arch_str}")
    if result.nb201_test:
        tests = ", ".join(f"{d} {v:.2f}" for d, v in result.nb201_test.items())
        print(f"NB201 200-epoch test accuracy: {tests}")
    if result.retrain is not None:
        print(f"retrained from scratch: test accuracy {result.retrain['test_acc']:.2f}")
    print(
        f"search: {result.epochs_run} epochs, {result.search_seconds:.0f} s, "
        f"peak RSS {result.peak_rss_mb:.0f} MiB"
        + (" (stopped early: skip connections dominate)" if result.stopped_early else "")
    )
    return 0
