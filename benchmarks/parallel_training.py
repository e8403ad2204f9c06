"""Real-training throughput: two single-thread workers against one two-thread worker.

The same architectures (random search, the same seed: its proposals do not depend on
results) are trained on Fashion-MNIST by `TrainingEvaluator` through the process pool,
once as 2 workers x 1 thread and once as 1 worker x 2 threads, on the same 2 cores.
Small networks use threads poorly (each op is too short to split well), so trial-level
parallelism should give more trials per hour. Before each timed run every worker trains
one warm-up trial, so loading the data (once per worker) and starting the worker are not
timed; configurations are interleaved over `--repeats` rounds so drift on a shared machine
hits both.

    python benchmarks/parallel_training.py [--trials 8] [--epochs 1] [--data-fraction 0.1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from reporting import RESULTS, header, write

from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.space.base import get_space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study

CONFIGS = (("2 workers x 1 thread", 2, 1), ("1 worker x 2 threads", 1, 2))


def evaluator(threads: int, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from archsearch.estimation.training import TrainingEvaluator

    return TrainingEvaluator(
        args.dataset,
        space=get_space(args.space),
        data_dir=args.data_dir,
        epochs=args.epochs,
        data_fraction=args.data_fraction,
        batch_size=args.batch_size,
        threads=threads,
        latency_repeats=3,
    )


def run(workers: int, threads: int, args: argparse.Namespace, seed: int) -> tuple[float, int]:
    """Seconds for `args.trials` trials, and how many completed."""
    space = get_space(args.space)
    ev = evaluator(threads, args)
    with ProcessPoolExecutor(workers, threads_per_worker=threads) as pool:
        pool.wait_ready(timeout=300)
        warm = Study(space, RandomSearch(space, seed=10_000 + seed), InMemoryStorage())
        warm.optimize(ev, budget=f"{workers}trials", executor=pool)  # data loads, per worker
        study = Study(space, RandomSearch(space, seed=seed), InMemoryStorage(), seed=seed)
        start = time.perf_counter()
        study.optimize(ev, budget=f"{args.trials}trials", executor=pool)
        seconds = time.perf_counter() - start
    failed = [t.error for t in study.trials if t.error]
    if failed:  # a failed trial takes no time to train: the timing would mean nothing
        raise SystemExit(f"{len(failed)} trials failed, no result written; first: {failed[0]}")
    return seconds, len(study.completed())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="chain")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data-fraction", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "parallel_training.md")
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
    done: dict[str, int] = dict.fromkeys(times, 0)
    loads = [os.getloadavg()[0]]
    for r in range(args.repeats):
        for name, workers, threads in CONFIGS:
            seconds, completed = run(workers, threads, args, seed=r)
            loads.append(os.getloadavg()[0])
            times[name].append(seconds)
            done[name] += completed
            print(f"round {r}: {name}: {seconds:.1f} s, {completed} complete", flush=True)
    rate = {name: 3600.0 * args.trials / statistics.median(t) for name, t in times.items()}
    (a, _, _), (b, _, _) = CONFIGS
    lines = [
        *header(
            "Training throughput: 2 single-thread workers vs 1 two-thread worker",
            "parallel_training.py",
            argv,
        ),
        f"- {args.trials} trials per run of random search on the `{args.space}` space, "
        f"{args.dataset} ({args.data_fraction:g} of the training split, {args.epochs} "
        f"epoch(s), batch {args.batch_size}); {args.repeats} interleaved rounds, median",
        f"- 1-minute load average of the machine around the runs: {min(loads):.1f} to "
        f"{max(loads):.1f} (a shared machine: other processes compete for its cores)",
        "",
        "| configuration | seconds per run (each round) | trials per hour (median) | complete |",
        "|---|---|---|---|",
        *[
            f"| {name} | {', '.join(f'{s:.1f}' for s in times[name])} | {rate[name]:,.0f} | "
            f"{done[name]}/{args.trials * args.repeats} |"
            for name, _, _ in CONFIGS
        ],
        "",
        f"Two single-thread workers train **{rate[a] / rate[b]:.2f}x** the trials per hour of "
        "one two-thread worker.",
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
