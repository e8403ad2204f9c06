"""ASHA against full-fidelity regularized evolution on Fashion-MNIST (real training).

Both searches propose the same number of candidates with the same strategy (RE, same
seed) on the `archsearch run` chain space, or the space `--space` and `--space-option`
name (e.g. the nb201 cell at one cell per stage, the 30-minute job's space). Full fidelity trains every candidate for
`--epochs`; ASHA (Li et al., MLSys 2020) starts each at 1 epoch and promotes the top
1/eta of each rung to eta times the epochs, up to `--epochs`, continuing from the
checkpoint. Each search's winner (the best at the top rung) is then retrained with the
same final protocol (all training data, `--final-epochs`, same seed) and tested once.
Compute is the sum of the trials' wall seconds and the epochs they trained.

    python benchmarks/asha_fashion.py [--candidates 27] [--epochs 9] [--data-fraction 0.2]
        [--space nb201 --space-option cells_per_stage=1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from reporting import RESULTS, header, write

from archsearch.cli.flags import key_value_option
from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.jobs.run import CHAIN_DEFAULTS
from archsearch.schedulers import ASHA, FIFOScheduler, Scheduler
from archsearch.space.base import get_space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study


def search(args: argparse.Namespace, scheduler: Scheduler) -> dict[str, Any]:
    from archsearch.estimation.training import TrainingEvaluator

    space = get_space(args.space, **space_options(args))
    evaluator = TrainingEvaluator(
        "fashion-mnist",
        space=space,
        data_dir=args.data_dir,
        epochs=args.epochs,
        data_fraction=args.data_fraction,
        val_fraction=args.val_fraction,
        split_seed=args.seed,
        threads=1,
        latency_repeats=3,
    )
    study = Study(
        space, RegularizedEvolution(space, seed=args.seed), InMemoryStorage(), seed=args.seed
    )
    pool = ProcessPoolExecutor(args.workers, threads_per_worker=1)
    pool.wait_ready(timeout=600)
    start = time.perf_counter()
    try:
        study.optimize(
            evaluator, budget=f"{args.candidates}trials", executor=pool, scheduler=scheduler
        )
    finally:
        pool.shutdown()
    wall = time.perf_counter() - start
    best = study.best()
    epochs = 0.0
    for t in study.trials:
        parent = study.trials[t.parent].resource if t.parent is not None else 0.0
        epochs += float(t.resource if t.resource is not None else args.epochs) - float(
            parent or 0.0
        )
    evaluator.threads = args.workers  # one training: every core (as `archsearch run` does)
    fit = evaluator.final_fit(best.arch, seed=args.seed, epochs=args.final_epochs)
    return {
        "trials": len(study.trials),
        "candidates": sum(t.parent is None for t in study.trials),
        "failed": sum(t.state.value == "FAILED" for t in study.trials),
        "epochs": epochs,
        "compute_s": sum(t.cost for t in study.trials),
        "wall_s": wall,
        "arch": space.describe(best.arch),
        "val_acc": best.metrics["val_acc"],
        "test_acc": fit.metrics["test_acc"],
        "final_s": fit.cost,
    }


def space_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `--space-option`s, over the main job's chain widths for the chain space."""
    return {**(CHAIN_DEFAULTS if args.space == "chain" else {}), **dict(args.space_option)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default="chain")
    parser.add_argument(
        "--space-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--candidates", type=int, default=18)
    parser.add_argument("--epochs", type=int, default=9, help="full fidelity (ASHA's top rung)")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--data-fraction", type=float, default=0.2)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--final-epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--output", type=Path, default=RESULTS / "asha_fashion.md")
    args = parser.parse_args(argv)
    rows = {
        "RE, full fidelity": search(args, FIFOScheduler()),
        "RE + ASHA": search(args, ASHA(1, args.epochs, eta=args.eta)),
    }
    full, asha = rows["RE, full fidelity"], rows["RE + ASHA"]
    lines = [
        *header("ASHA against full-fidelity RE on Fashion-MNIST", "asha_fashion.py", argv),
        f"- {args.space} space ({space_options(args)}), RE seed {args.seed}, {args.candidates} candidates each; "
        f"{args.data_fraction:.0%} of the training split per candidate, "
        f"{args.val_fraction:.0%} of the training data held out for validation;",
        f"  full fidelity {args.epochs} epochs; ASHA rungs 1..{args.epochs} epochs, eta {args.eta}, "
        "promotions continue from checkpoints;",
        f"  {args.workers} worker processes x 1 thread; winner retrained on all training data for "
        f"{args.final_epochs} epochs (seed {args.seed}, {args.workers} threads) and tested once.",
        "",
        "| search | candidates | trials | failed | epochs trained | compute s | search wall s | winner val % | final test % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['candidates']} | {r['trials']} | {r['failed']} | {r['epochs']:.0f} | "
            f"{r['compute_s']:.0f} | {r['wall_s']:.0f} | {r['val_acc']:.2f} | {r['test_acc']:.2f} |"
        )
    # Epochs decide the compute goal: seconds on a shared machine move with its load.
    ratio = asha["epochs"] / full["epochs"]
    gap = full["test_acc"] - asha["test_acc"]
    lines += [
        "",
        f"- ASHA's compute: {ratio:.2f} of full fidelity's in epochs trained "
        f"({asha['compute_s'] / full['compute_s']:.2f} in trial seconds, which move with the "
        f"machine's load); goal <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'}",
        f"- final test accuracy, full minus ASHA: {gap:+.2f} points; goal <= 0.30: "
        f"{'met' if gap <= 0.30 else 'NOT met'}",
        "",
        "Winners:",
        *(f"- {name}: `{r['arch']}`" for name, r in rows.items()),
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
