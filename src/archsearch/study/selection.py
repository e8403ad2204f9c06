"""Which trials are best: the one ranking rule every part of archsearch uses, and Pareto
fronts over several objectives."""

from __future__ import annotations

from collections.abc import Sequence

from archsearch.core.trial import Trial, TrialState


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


def ranked(
    trials: Sequence[Trial], objectives: Sequence[tuple[str, str]] | None = None
) -> list[Trial]:
    """The one rule that orders a study's trials, best first; `best_trial`, `status`,
    `export`, the report and `run`'s final stage all use it.

    Only COMPLETE trials with a score count. Under a multi-fidelity scheduler a score
    earned at a lower resource is not comparable with one at a higher resource, so
    trials at the highest resource any complete trial reached come first (Hyperband's
    incumbent rule), then the rest, each group by score. With several objectives the
    trials on the Pareto front of their group come before the dominated ones. Ties go to
    the earliest trial."""
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.score is not None]
    front: set[int] = set()
    if objectives:  # the front within each resource group, not across groups
        for level in {t.resource for t in done}:
            group = [t for t in done if t.resource == level]
            front |= {t.number for t in pareto_front(group, objectives)}

    def key(t: Trial) -> tuple[float, int, float, int]:
        on_front = 0 if not objectives or t.number in front else 1
        return (-(t.resource or 0.0), on_front, -(t.score or 0.0), t.number)

    return sorted(done, key=key)


def best_trial(
    trials: Sequence[Trial], objectives: Sequence[tuple[str, str]] | None = None
) -> Trial | None:
    """The first trial of `ranked`, or None when no trial is complete."""
    order = ranked(trials, objectives)
    return order[0] if order else None
