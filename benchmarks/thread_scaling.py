"""How much two single-thread trials can gain over one two-thread trial, network by network.

`parallel_training.py` measures whole searches through the executors; its ratio mixes
the workload with the run's tail and the study loop. This benchmark takes the executors
out and measures the ceiling: the same real trial (`TrainingEvaluator.evaluate`: build,
cost measurements, training, validation) of each architecture is timed

* alone with 2 intra-op threads (one two-thread worker), and
* with 1 thread, twice at once in two processes that start it together (two single-thread
  workers, each slowed by the other's use of the shared caches and memory),

and the ceiling is 2 x (2-thread seconds) / (1-thread seconds beside a twin): the trials
per hour two single-thread workers would gain, were they always busy on networks like
these. Architectures come from random search with a fixed seed, so every setting times
the same networks; `--setting` adds fidelity settings to compare (resolution, batch size).

    python benchmarks/thread_scaling.py --space nb201 --space-option cells_per_stage=1 \
        --archs 8 --setting 28:128 --setting 14:128 --setting 28:32
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from pathlib import Path
from typing import Any

from reporting import RESULTS, header, write

from archsearch.cli.flags import key_value_option
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter
from archsearch.estimation.base import TrialContext
from archsearch.space.base import get_space
from archsearch.strategies.random import RandomSearch


def setting_option(text: str) -> tuple[int, int]:
    """'RESOLUTION:BATCH', e.g. 28:128."""
    try:
        resolution, batch = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RESOLUTION:BATCH, e.g. 28:128, got {text!r}"
        ) from None
    if resolution < 1 or batch < 2:
        raise argparse.ArgumentTypeError(f"resolution >= 1 and batch >= 2, got {text!r}")
    return resolution, batch


def time_trials(
    args: argparse.Namespace,
    setting: tuple[int, int],
    threads: int,
    archs: list[Architecture],
    barrier: Any,
    out: Any,
) -> None:
    """Run each architecture's trial (after the other process reaches the barrier, when
    there is one) and put the list of wall seconds on `out`."""
    from archsearch.estimation.training import TrainingEvaluator

    resolution, batch = setting
    evaluator = TrainingEvaluator(
        args.dataset,
        space=get_space(args.space, **dict(args.space_option)),
        data_dir=args.data_dir,
        epochs=args.epochs,
        data_fraction=args.data_fraction,
        batch_size=batch,
        resolution=resolution,
        threads=threads,
        latency_repeats=3,
    )
    evaluator.train_data()  # loading and preparing the data is not a trial's time
    # One untimed trial first: a worker pays torch's first-call set-up once, not per trial.
    evaluator.evaluate(archs[0], TrialContext(-1, seed=0, reporter=Reporter()))
    seconds = []
    for number, arch in enumerate(archs):
        if barrier is not None:
            barrier.wait()
        start = time.perf_counter()
        result = evaluator.evaluate(arch, TrialContext(number, seed=number, reporter=Reporter()))
        seconds.append(time.perf_counter() - start)
        if result.error:
            raise RuntimeError(f"trial {number} failed: {result.error}")
    out.put(seconds)


def measure(
    args: argparse.Namespace, setting: tuple[int, int], archs: list[Architecture]
) -> tuple[list[float], list[float]]:
    """(2-thread seconds per architecture, 1-thread seconds beside a twin, averaged over
    the two processes)."""
    ctx = mp.get_context("spawn")  # fresh interpreters: no thread pools inherited
    out = ctx.Queue()
    alone = ctx.Process(target=time_trials, args=(args, setting, 2, archs, None, out))
    alone.start()
    two_threads = out.get()
    alone.join()
    barrier = ctx.Barrier(2)
    twins = [
        ctx.Process(target=time_trials, args=(args, setting, 1, archs, barrier, out))
        for _ in range(2)
    ]
    for p in twins:
        p.start()
    first, second = out.get(), out.get()
    for p in twins:
        p.join()
    return two_threads, [(a + b) / 2 for a, b in zip(first, second, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="nb201")
    parser.add_argument(
        "--space-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--archs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="the random search's seed")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data-fraction", type=float, default=0.1)
    parser.add_argument(
        "--setting",
        type=setting_option,
        action="append",
        default=[],
        metavar="RESOLUTION:BATCH",
        help="input resolution and batch size (repeatable; default 28:128)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "thread_scaling.md")
    args = parser.parse_args(argv)
    settings = args.setting or [(28, 128)]

    space = get_space(args.space, **dict(args.space_option))
    strategy = RandomSearch(space, seed=args.seed)
    archs = [arch for arch in (strategy.ask() for _ in range(args.archs)) if arch is not None]
    rows = []
    for setting in settings:
        two_threads, one_thread = measure(args, setting, archs)
        ratios = [2 * t2 / t1 for t2, t1 in zip(two_threads, one_thread, strict=True)]
        ceiling = 2 * sum(two_threads) / sum(one_thread)
        rows.append((setting, sum(two_threads), sum(one_thread), ceiling, ratios))
        print(
            f"{setting}: 2 threads {sum(two_threads):.1f} s, 1 thread beside a twin "
            f"{sum(one_thread):.1f} s, ceiling {ceiling:.2f}x",
            flush=True,
        )

    lines = [
        *header(
            "Trial-level against thread-level parallelism, per network", "thread_scaling.py", argv
        ),
        f"- {len(archs)} architectures of random search (seed {args.seed}) on the "
        f"`{args.space}` space"
        + "".join(f", {k}={v}" for k, v in args.space_option)
        + f"; {args.dataset}, {args.data_fraction:g} of the training split, {args.epochs} "
        "epoch(s), validation on the whole validation split after each epoch",
        "- each trial is `TrainingEvaluator.evaluate` (build, parameters, FLOPs, memory "
        "estimate, latency over 3 passes, training, validation), timed alone on 2 threads "
        "and on 1 thread with a second process running the same trial at the same time; "
        "each process runs one untimed trial first",
        "",
        "| resolution | batch | 2 threads alone, s | 1 thread beside a twin, s | ceiling "
        "(2 x 1 thread vs 1 x 2 threads) | per network: min, median, max |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r} | {b} | {t2:.1f} | {t1:.1f} | **{c:.2f}x** | {min(q):.2f}, "
            f"{statistics.median(q):.2f}, {max(q):.2f} |"
            for (r, b), t2, t1, c, q in rows
        ],
        "",
        "The ceiling is what two always-busy single-thread workers gain in trials per hour "
        "on these networks; a search through an executor adds its tail and loop on top.",
    ]
    write(lines, args.output)


if __name__ == "__main__":
    main()
