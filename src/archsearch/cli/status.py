"""`archsearch status`: a study's counts, clock and best trials, at 80 columns."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from archsearch.cli.common import load_study
from archsearch.core.trial import Trial, TrialState
from archsearch.study.selection import ranked

WIDTH = 80
#: bookkeeping metrics that do not say how good a network is
_NOT_SHOWN = {"resource", "epochs", "train_seconds", "final_test_acc"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("status", help="summarise a study: counts, clock, best trials")
    p.add_argument("study", type=Path)
    p.add_argument("--top", type=int, default=5, help="best trials to list (default: 5)")
    p.add_argument("--metrics", type=int, default=4, help="metric columns shown (default: 4)")


def columns(trials: list[Trial], first: list[str], n: int) -> list[str]:
    """The objective metrics, then the best trial's other metrics in stored order, `n`
    in all."""
    names = [m for m in first if any(m in t.metrics for t in trials)]
    for name in trials[0].metrics:
        if name not in names and name not in _NOT_SHOWN:
            names.append(name)
    return names[:n]


def main(args: argparse.Namespace) -> None:
    config, budget, trials, space = load_study(args.study)
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    clock = max((t.clock_end for t in trials if t.clock_end is not None), default=0.0)
    lines = [
        f"study {args.study}",
        f"{config.strategy} on {config.space} ({config.evaluator}), seed {config.seed}, "
        f"budget {budget}, clock {clock:,.0f} s",
        ", ".join(f"{n} {s.value.lower()}" for s, n in counts.items() if n or s.finished),
    ]
    best = ranked(trials, config.objectives)[: args.top]
    if best:
        objectives = [m for m, _ in config.objectives or []] or [config.metric or "val_acc"]
        names = columns(best, objectives, args.metrics)
        lines.append(f"best {len(best)} of {sum(t.state is TrialState.COMPLETE for t in trials)}:")
        lines.append("  trial " + "".join(f"{n[:11]:>12}" for n in names))
        for t in best:
            values = "".join(
                f"{t.metrics[n]:>12.5g}" if n in t.metrics else f"{'':>12}" for n in names
            )
            lines.append(f"{t.number:>7}{values}")
            indent = " " * 8  # the architecture on lines of its own, under its row
            lines += textwrap.wrap(
                space.describe(t.arch), WIDTH, initial_indent=indent, subsequent_indent=indent
            )
    if counts[TrialState.RUNNING]:
        lines.append("trials left RUNNING will run again on `archsearch resume`")
    print("\n".join(line[:WIDTH] for line in lines))
