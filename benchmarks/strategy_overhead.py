"""What each strategy costs per ask+tell once it has seen 150 observations.

Each strategy runs a study on NAS-Bench-201 (cifar10, 12-epoch signal) through the tabular
evaluator; the time of every ask and tell is taken from observation 150 to 170, over a few
seeds, and the median reported (the evaluator's own time is excluded).

    python benchmarks/strategy_overhead.py [--strategies re bo ...] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from reporting import RESULTS, header, write

from archsearch.core.trial import Reporter
from archsearch.estimation.base import TrialContext
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.space.nb201 import NB201Space
from archsearch.strategies import STRATEGIES
from archsearch.study import trial_seed

FIRST, LAST = 150, 170
LIMITS_MS = {"random": 1.0, "re": 1.0, "ls": 1.0}  # model-based strategies: 50 ms


def timings(name: str, seed: int) -> list[float]:
    space, evaluator = NB201Space(), NB201Evaluator("cifar10")
    strategy = STRATEGIES.get(name)(space, seed=seed)
    out = []
    for number in range(LAST):
        start = time.perf_counter()
        arch = strategy.ask()
        asked = time.perf_counter() - start
        if arch is None:
            break
        result = evaluator.evaluate(
            arch, TrialContext(number, trial_seed(seed, number), Reporter())
        )
        result = result.with_score(result.metrics["val_acc"])
        start = time.perf_counter()
        strategy.tell(arch, result)
        if number >= FIRST:
            out.append(asked + time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES.names())
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    lines = [
        *header("Strategy overhead at 150 observations", "strategy_overhead.py", argv),
        f"- ask+tell wall time per observation, observations {FIRST}-{LAST - 1}, "
        f"{args.seeds} seeds, NAS-Bench-201 cifar10; limits: 1 ms (random, re, ls), 50 ms (others)",
        "",
        "| strategy | median ms | p90 ms | limit ms | within |",
        "|---|---|---|---|---|",
    ]
    for name in args.strategies:
        times = [t for seed in range(args.seeds) for t in timings(name, seed)]
        median = 1000 * statistics.median(times)
        p90 = 1000 * statistics.quantiles(times, n=10)[-1]
        limit = LIMITS_MS.get(name, 50.0)
        lines.append(
            f"| {name} | {median:.3f} | {p90:.3f} | {limit:g} | {'yes' if median <= limit else 'no'} |"
        )
    write(lines, RESULTS / "strategy_overhead.md")


if __name__ == "__main__":
    main()
