"""Real-training throughput: two single-thread workers against one two-thread worker.

The same architectures (random search, the same seed: its proposals do not depend on
results) are trained on Fashion-MNIST by `TrainingEvaluator` through the process pool and
through Ray, each once as 2 workers x 1 thread and once as 1 worker x 2 threads, on the
same 2 cores.
Small networks use threads poorly (each op is too short to split well), so trial-level
parallelism should give more trials per hour; large convolutions split well over threads,
so the answer depends on the workload: `--space` and `--space-option` choose it (the
30-minute Fashion-MNIST job searches `nb201` at one cell per stage), `--resolution` a
lower input size (a low-fidelity search). Before each timed run every worker trains
one warm-up trial, so loading the data (once per worker) and starting the worker are not
timed; configurations are interleaved over `--repeats` rounds (each the same architectures)
so drift on a shared machine hits both, and the ratio is taken within each round.

A run's time is the time of its slowest worker: with few trials of very unequal cost (the
chain space spans 0.2 s to 30 s networks), one large network trained on one thread
decides it. Enough trials per run (`--trials`), or a limit on the networks (`--max-params`,
applied before training as the main job's `--max-params` is), measure the steady rate a
search sees instead.

    python benchmarks/parallel_training.py [--executors pool ray] [--trials 32] [--epochs 1]
        [--max-params 200000] [--space nb201 --space-option cells_per_stage=1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from reporting import RESULTS, header, write

from archsearch.cli.flags import key_value_option
from archsearch.core.trial import TrialState
from archsearch.estimation.constraints import StaticLimits
from archsearch.execution.base import Executor
from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.execution.ray_executor import RayExecutor
from archsearch.space.base import get_space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study

CONFIGS = (("2 workers x 1 thread", 2, 1), ("1 worker x 2 threads", 1, 2))


def evaluator(threads: int, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from archsearch.estimation.training import TrainingEvaluator

    return TrainingEvaluator(
        args.dataset,
        space=get_space(args.space, **dict(args.space_option)),
        data_dir=args.data_dir,
        epochs=args.epochs,
        data_fraction=args.data_fraction,
        batch_size=args.batch_size,
        resolution=args.resolution,
        threads=threads,
        latency_repeats=3,
    )


def make_executor(kind: str, workers: int, threads: int) -> Executor:
    if kind == "pool":
        pool = ProcessPoolExecutor(workers, threads_per_worker=threads)
        pool.wait_ready(timeout=300)
        return pool
    return RayExecutor(workers, num_cpus=threads)


def run(
    kind: str, workers: int, threads: int, args: argparse.Namespace, seed: int
) -> tuple[float, int, float]:
    """Seconds for `args.trials` trials, how many completed, and the workers' busy share
    (the trials' own wall seconds over workers x the run's seconds: what the tail of the
    run and the study loop leave idle)."""
    space = get_space(args.space, **dict(args.space_option))
    ev = evaluator(threads, args)
    limits = StaticLimits(space, ev.train_data().task, max_params=args.max_params)
    constraints = [limits] if limits.active else []
    executor = make_executor(kind, workers, threads)
    try:
        warm = Study(space, RandomSearch(space, seed=10_000 + seed), InMemoryStorage())
        warm.optimize(ev, budget=f"{workers}trials", executor=executor)  # data loads, per worker
        study = Study(
            space,
            RandomSearch(space, seed=seed),
            InMemoryStorage(),
            seed=seed,
            constraints=constraints,
        )
        start = time.perf_counter()
        study.optimize(ev, budget=f"{args.trials}trials", executor=executor)
        seconds = time.perf_counter() - start
    finally:
        executor.shutdown()
    failed = [t.error for t in study.trials if t.state is TrialState.FAILED]
    if failed:  # a failed trial takes no time to train: the timing would mean nothing
        raise SystemExit(f"{len(failed)} trials failed, no result written; first: {failed[0]}")
    busy = sum(t.cost for t in study.completed()) / (workers * seconds)
    return seconds, len(study.completed()), busy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="chain")
    parser.add_argument(
        "--space-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data-fraction", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--resolution", type=int, default=None, help="input size (low fidelity, e.g. 14)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="the random search's seed")
    parser.add_argument(
        "--max-params", type=int, help="refuse larger networks before training (no trial spent)"
    )
    parser.add_argument("--executors", nargs="+", choices=("pool", "ray"), default=["pool", "ray"])
    parser.add_argument("--output", type=Path, default=RESULTS / "parallel_training.md")
    args = parser.parse_args(argv)

    runs = [(kind, name, w, t) for kind in args.executors for name, w, t in CONFIGS]
    times: dict[tuple[str, str], list[float]] = {(k, n): [] for k, n, _, _ in runs}
    done: dict[tuple[str, str], int] = dict.fromkeys(times, 0)
    busy_share: dict[tuple[str, str], list[float]] = {key: [] for key in times}
    loads = [os.getloadavg()[0]]
    for r in range(args.repeats):
        for kind, name, workers, threads in runs:
            seconds, completed, busy = run(kind, workers, threads, args, seed=args.seed)
            busy_share[(kind, name)].append(busy)
            loads.append(os.getloadavg()[0])
            times[(kind, name)].append(seconds)
            done[(kind, name)] += completed
            print(f"round {r}: {kind}, {name}: {seconds:.1f} s, {completed} complete", flush=True)
    rate = {key: 3600.0 * args.trials / statistics.median(t) for key, t in times.items()}
    (a, _, _), (b, _, _) = CONFIGS
    # every round trains the same architectures: a round's ratio compares like with like
    ratios = {
        kind: [tb / ta for ta, tb in zip(times[(kind, a)], times[(kind, b)], strict=True)]
        for kind in args.executors
    }
    lines = [
        *header(
            "Training throughput: 2 single-thread workers vs 1 two-thread worker",
            "parallel_training.py",
            argv,
        ),
        f"- {args.trials} trials per run of random search (seed {args.seed}: the same "
        f"architectures in every run) on the `{args.space}` space"
        + "".join(f", {k}={v}" for k, v in args.space_option)
        + ", "
        f"{args.dataset} ({args.data_fraction:g} of the training split, {args.epochs} "
        f"epoch(s), batch {args.batch_size}"
        + (f", {args.resolution} px" if args.resolution else "")
        + f"); {args.repeats} interleaved rounds, median"
        + (f"; networks over {args.max_params:,} parameters refused" if args.max_params else ""),
        f"- 1-minute load average of the machine around the runs: {min(loads):.1f} to "
        f"{max(loads):.1f} (a shared machine: other processes compete for its cores)",
        "",
        "| executor | configuration | seconds per run (each round) | trials per hour (median) "
        "| workers busy (each round) | complete |",
        "|---|---|---|---|---|---|",
        *[
            f"| {kind} | {name} | {', '.join(f'{s:.1f}' for s in times[(kind, name)])} | "
            f"{rate[(kind, name)]:,.0f} | "
            f"{', '.join(f'{b:.0%}' for b in busy_share[(kind, name)])} | "
            f"{done[(kind, name)]}/{args.trials * args.repeats} |"
            for kind, name, _, _ in runs
        ],
        "",
        *[
            f"- {kind}: two single-thread workers train **{statistics.median(ratios[kind]):.2f}x** "
            "the trials per hour of one two-thread worker (median of the rounds' ratios: "
            f"{', '.join(f'{q:.2f}' for q in ratios[kind])})."
            for kind in args.executors
        ],
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
