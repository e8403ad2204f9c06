"""NASNet's search-small-transfer-large workflow (Zoph, Vasudevan, Shlens and Le, CVPR
2018): cells searched on a small proxy, stacked larger and trained with ScheduledDropPath
on the target; a hand-designed ResNet-style cell pair trained with the same target
protocol in the same run.

    nice -n 10 python benchmarks/transfer.py [--dataset digits] [--trials 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reporting import RESULTS, header, write

from archsearch.jobs.transfer import search_and_transfer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--strategy", default="re")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--proxy-cells", type=int, default=5)
    parser.add_argument("--proxy-channels", type=int, default=8)
    parser.add_argument("--proxy-epochs", type=int, default=3)
    parser.add_argument("--data-fraction", type=float, default=0.5)
    parser.add_argument("--target-cells", type=int, default=8)
    parser.add_argument("--target-channels", type=int, default=16)
    parser.add_argument("--target-epochs", type=int, default=15)
    parser.add_argument("--drop-path-prob", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS / "transfer.md")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    r = search_and_transfer(
        args.dataset,
        data_dir=None if args.data_dir is None else str(args.data_dir),
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
        seed=args.seed,
        baseline=True,
        log=print,
    )
    lines = [
        *header("NASNet search-small-transfer-large", "transfer.py", argv),
        f"- dataset {args.dataset}; darts cell space; {args.strategy} seed {args.seed}, "
        f"{args.trials} proxy candidates.",
        f"- proxy: {args.proxy_cells} cells x {args.proxy_channels} channels, "
        f"{args.proxy_epochs} epochs on {args.data_fraction:.0%} of the training split, "
        "scored on the validation split (20 % of the training data).",
        f"- target: {args.target_cells} cells x {args.target_channels} channels, "
        f"{args.target_epochs} epochs on all training data, ScheduledDropPath up to "
        f"{args.drop_path_prob}, SGD lr 0.05 cosine, batch 64; tested once on the test split.",
        "",
        "| network | proxy val % | target test % | target params | seconds |",
        "|---|---|---|---|---|",
        f"| searched cells (proxy winner, transferred) | {r['proxy_val_acc']:.2f} | "
        f"{r['target_test_acc']:.2f} | {r['target_params']:,.0f} | "
        f"{r['search_seconds']:.0f} search + {r['target_seconds']:.0f} target |",
        f"| ResNet-style cells (hand-designed) | - | {r['baseline_test_acc']:.2f} | "
        f"{r['baseline_params']:,.0f} | {r['baseline_seconds']:.0f} |",
        "",
        f"- transferred minus ResNet-style: {r['target_test_acc'] - r['baseline_test_acc']:+.2f} "
        "points (one seed, one training each).",
        "",
        f"Winner: `{r['architecture']}`",
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
