"""What the study loop and its SQLite storage cost per trial, against a bare loop.

Both loops run regularized evolution on NAS-Bench-201 (cifar10, 12-epoch signal) through
the same tabular evaluator, in the same process, one after the other, repeated; the bare
loop is ask -> evaluate -> tell and nothing else. The study loop is `Study.optimize` with
an SQLite study file (WAL), as the CLI runs it: every trial written when it starts and
again when it finishes. Per-trial times are the gaps between consecutive trial ends.

    python benchmarks/study_overhead.py [--trials 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reporting import RESULTS, header, write

from archsearch.core.trial import Reporter, Trial
from archsearch.estimation.base import TrialContext
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.nb201 import NB201Space
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study, trial_seed


def bare_loop(n: int, seed: int) -> list[float]:
    space, evaluator = NB201Space(), NB201Evaluator("cifar10")
    strategy = RegularizedEvolution(space, seed=seed)
    reporter = Reporter()
    times = []
    last = time.perf_counter()
    for number in range(n):
        arch = strategy.ask()
        assert arch is not None
        result = evaluator.evaluate(arch, TrialContext(number, trial_seed(seed, number), reporter))
        strategy.tell(arch, result.with_score(result.metrics["val_acc"]))
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times


def study_loop(n: int, seed: int, folder: Path) -> list[float]:
    space, evaluator = NB201Space(), NB201Evaluator("cifar10")
    ends: list[float] = []

    def mark(study: Study, trial: Trial) -> None:
        ends.append(time.perf_counter())

    with SQLiteStorage(folder / f"study-{seed}.db") as storage:
        study = Study(space, RegularizedEvolution(space, seed=seed), storage, seed=seed)
        start = time.perf_counter()
        study.optimize(
            evaluator, budget=f"{n}trials", executor=SimulatedExecutor(), callbacks=[mark]
        )
    return [b - a for a, b in zip([start, *ends[:-1]], ends, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "study_overhead.md")
    args = parser.parse_args(argv)

    bare: list[float] = []
    full: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # interleaved, so drift on a noisy machine hits both
            bare += bare_loop(args.trials, r)
            full += study_loop(args.trials, r, Path(tmp))
    med_bare, med_full = statistics.median(bare), statistics.median(full)
    rows = [
        ("bare loop (ask, evaluate, tell)", med_bare, statistics.fmean(bare)),
        ("Study + SQLite", med_full, statistics.fmean(full)),
    ]
    lines = [
        *header("Study and SQLite overhead per trial", "study_overhead.py", argv),
        f"- {args.repeats} x {args.trials} trials of regularized evolution on NAS-Bench-201 "
        "cifar10 per loop, interleaved",
        "",
        "| loop | median µs/trial | mean µs/trial |",
        "|---|---|---|",
        *[f"| {name} | {1e6 * med:.1f} | {1e6 * mean:.1f} |" for name, med, mean in rows],
        "",
        f"Median overhead of the study loop with SQLite: **{1e6 * (med_full - med_bare):.1f} µs "
        f"per trial** ({med_full / med_bare:.1f}x the bare loop's median).",
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
