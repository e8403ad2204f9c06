"""Pareto fronts of trials over several objectives (for multi-objective searches)."""

from __future__ import annotations

from collections.abc import Sequence

from archsearch.trial import Trial


def pareto_front(trials: Sequence[Trial], objectives: Sequence[tuple[str, str]]) -> list[Trial]:
    """The trials no other trial dominates, for objectives given as (metric, "max" | "min")
    pairs, e.g. [("val_acc", "max"), ("params", "min")]. Trials missing a metric are left
    out. O(n^2), which is nothing next to training n networks."""
    for metric, direction in objectives:
        if direction not in ("max", "min"):
            raise ValueError(f"objective {metric!r}: direction must be 'max' or 'min'")

    def point(t: Trial) -> tuple[float, ...]:
        return tuple(t.metrics[m] if d == "max" else -t.metrics[m] for m, d in objectives)

    points = [(t, point(t)) for t in trials if all(m in t.metrics for m, _ in objectives)]
    return [
        t
        for t, p in points
        if not any(all(a >= b for a, b in zip(q, p, strict=True)) and q != p for _, q in points)
    ]
