"""Hierarchical evolution against flat and hierarchical random search on Fashion-MNIST
(Liu, Simonyan, Vinyals, Fernando and Kavukcuoglu, "Hierarchical Representations for
Efficient Architecture Search", ICLR 2018), real training, with a hand-designed
ResNet-style cell trained by the same protocol in the same run.

Three searches with the same budget (trials), the same evaluator settings and seed:
tournament evolution on the hierarchical space (`tournament`), random search on the
hierarchical space and random search on the flat space. Every candidate trains from
scratch for `--epochs` on `--data-fraction` of the training split at `--resolution`
pixels and is scored on the validation split (the search signal). The baseline (two
ResNet basic blocks per cell, in the same skeleton) is trained the same way, and each
search's winner and the baseline are then retrained on all training data for
`--final-epochs` and tested once (skip with `--final-epochs 0`).

    nice -n 10 python benchmarks/hierarchical.py [--trials 10] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reporting import RESULTS, header, write

import archsearch.space.hierarchical  # noqa: F401  (registers the spaces)
from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.space.base import SearchSpace
from archsearch.space.hierarchical import FlatSpace, HierarchicalSpace
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.base import Strategy
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.tournament import TournamentEvolution
from archsearch.study import Study


class ResNetCellSpace(SearchSpace):
    """One fixed network: the hierarchical skeleton with ResNet basic-block cells."""

    name = "resnet-cell-baseline"

    def __init__(self, channels: int, cells: int, blocks: int = 2) -> None:
        self.channels, self.cells, self.blocks = channels, cells, blocks

    def decisions(self) -> Sequence[Decision]:
        return [Decision("blocks", (self.blocks,))]

    def build(self, arch: Architecture, task: TaskSpec) -> Any:
        from archsearch.nn.hierarchical import HierarchicalNetwork, ResidualCell

        blocks = int(arch["blocks"])
        return HierarchicalNetwork(
            None,
            task.input_shape[0],
            task.num_classes,
            channels=self.channels,
            cells=self.cells,
            cell=lambda C: ResidualCell(C, blocks),
        )


def evaluator_for(space: SearchSpace, data: Any, args: argparse.Namespace) -> Any:
    from archsearch.estimation.training import TrainingEvaluator

    return TrainingEvaluator(
        data,
        space=space,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        data_fraction=args.data_fraction,
        val_fraction=args.val_fraction,
        resolution=args.resolution,
        split_seed=args.seed,
        threads=1,
        latency_repeats=1,
    )


def run_search(
    label: str, space: SearchSpace, strategy: Strategy, data: Any, args: argparse.Namespace
) -> dict[str, Any]:
    evaluator = evaluator_for(space, data, args)
    study = Study(space, strategy, InMemoryStorage(), seed=args.seed)
    start = time.perf_counter()
    study.optimize(evaluator, budget=f"{args.trials}trials")
    wall = time.perf_counter() - start
    done = study.completed()
    accs = [float(t.metrics["val_acc"]) for t in done]
    best = study.best()
    # best-so-far after each trial: how fast each search climbs
    curve, top = [], float("-inf")
    for t in study.trials:
        if t in done:
            top = max(top, float(t.metrics["val_acc"]))
        curve.append(top)
    row = {
        "label": label,
        "trials": len(study.trials),
        "failed": len(study.trials) - len(done),
        "best_val": max(accs),
        "mean_val": statistics.fmean(accs),
        "median_val": statistics.median(accs),
        "curve": curve,
        "params": float(best.metrics["params"]),
        "compute_s": sum(t.cost for t in study.trials),
        "wall_s": wall,
        "arch": space.describe(best.arch),
        "test": None,
    }
    if args.final_epochs > 0:
        fit = evaluator.final_fit(best.arch, seed=args.seed, epochs=args.final_epochs)
        row["test"] = fit.metrics["test_acc"]
    print(f"{label}: best val {row['best_val']:.2f} %, {wall:.0f} s", flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10, help="budget of each search")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-fraction", type=float, default=0.02)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--resolution", type=int, default=14)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--population", type=int, default=4, help="tournament: random first")
    parser.add_argument(
        "--tournament", type=float, default=0.25, help="tournament share (paper: 0.05 of 200)"
    )
    parser.add_argument("--final-epochs", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--output", type=Path, default=RESULTS / "hierarchical.md")
    args = parser.parse_args(argv)

    import torch

    from archsearch.datasets import load_dataset

    torch.set_num_threads(1)
    data = load_dataset("fashion-mnist", data_dir=args.data_dir)
    hier = HierarchicalSpace(channels=args.channels)
    flat = FlatSpace(channels=args.channels)
    rows = [
        run_search(
            "hierarchical evolution (tournament)",
            hier,
            TournamentEvolution(
                hier, seed=args.seed, population_size=args.population, tournament=args.tournament
            ),
            data,
            args,
        ),
        run_search("hierarchical random", hier, RandomSearch(hier, seed=args.seed), data, args),
        run_search("flat random", flat, RandomSearch(flat, seed=args.seed), data, args),
    ]
    base_space = ResNetCellSpace(args.channels, 1)
    base_args = argparse.Namespace(**{**vars(args), "trials": 1})
    base = run_search(
        "ResNet-style cell (hand-designed)",
        base_space,
        RandomSearch(base_space, seed=args.seed),
        data,
        base_args,
    )
    n_train = round(args.data_fraction * len(data.y_train) * (1 - args.val_fraction))
    lines = [
        *header(
            "Hierarchical evolution vs flat / hierarchical random search (Fashion-MNIST)",
            "hierarchical.py",
            argv,
        ),
        f"- Liu et al. (ICLR 2018) small model: 3x3 conv stem of C={args.channels}, 3 stages of "
        "1 cell, stride-2 separable convs doubling C between; concat merge + 1x1 conv.",
        "- hierarchical: 4 level-2 motifs of 4 nodes, a 5-node cell; flat: one 13-node DAG "
        "over the same 6 primitives + none.",
        f"- every candidate: {args.epochs} epochs, SGD lr {args.lr} cosine, batch "
        f"{args.batch_size}, about {n_train} training images ({args.data_fraction:.0%} of the "
        f"training split) at {args.resolution}x{args.resolution} px, scored on the "
        f"{args.val_fraction:.0%} validation split; 1 thread; seed {args.seed}.",
        f"- budget: {args.trials} trained candidates per search; tournament evolution: "
        f"{args.population} random, then a tournament of ceil({args.tournament:.0%} of the "
        "population), the best mutated (one motif edge), no removal.",
        "",
        "| search | trials | failed | best val % | median val % | mean val % | best's params "
        "| compute s |" + (" final test % |" if args.final_epochs else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if args.final_epochs else ""),
    ]
    for r in [*rows, base]:
        test = f" {r['test']:.2f} |" if r["test"] is not None else ""
        lines.append(
            f"| {r['label']} | {r['trials']} | {r['failed']} | {r['best_val']:.2f} | "
            f"{r['median_val']:.2f} | {r['mean_val']:.2f} | {r['params']:,.0f} | "
            f"{r['compute_s']:.0f} |" + (test if args.final_epochs else "")
        )
    evo, hrand, frand = rows
    lines += [
        "",
        "Best validation accuracy so far, after each trial:",
        "",
        *(f"- {r['label']}: " + ", ".join(f"{v:.1f}" for v in r["curve"]) for r in rows),
        "",
        f"- hierarchical evolution minus flat random (best val): "
        f"{evo['best_val'] - frand['best_val']:+.2f} points; minus hierarchical random: "
        f"{evo['best_val'] - hrand['best_val']:+.2f}; best search minus the ResNet-style "
        f"cell: {max(r['best_val'] for r in rows) - base['best_val']:+.2f}.",
        "- one seed and a few trials each: differences of a point or two are within the "
        "noise of a single short training run.",
        "",
        "Winners:",
        *(f"- {r['label']}: `{r['arch']}`" for r in rows),
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
