"""What the multi-objective strategies share: reading objectives and limits from a result,
Pareto ranks with limits as hard constraints, crowding, and the hypervolume.

Objectives are (metric, "max" | "min") pairs, read from `result.metrics`; the name
`score` means `result.score` (the study's objective, already "higher is better"). With
no objectives given a strategy has the single objective `score`, so it degrades to a
single-objective search on what the study optimises. Limits are (metric, "<=" | ">=",
bound) triples; a result beyond a limit is infeasible, and is ranked below every feasible
one, infeasible ones by how far they are beyond (Deb's constrained domination: Deb,
Pratap, Agarwal and Meyarivan, "A Fast and Elitist Multiobjective Genetic Algorithm:
NSGA-II", IEEE TEVC 2002, section VI).

Text spellings, as an option from the command line: objectives
`"val_acc:max,latency@pixel2:min"`, limits `"latency@pixel2<=14,params_m<=1"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.trial import Result, TrialState

Objectives = tuple[tuple[str, str], ...]
Limits = tuple[tuple[str, str, float], ...]
_LIMIT = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=)\s*(\S+)\s*$")


def parse_objectives(value: str | Sequence[Sequence[str]] | None) -> Objectives:
    """`None` -> (("score", "max"),); "a:max,b:min" or [["a", "max"], ["b", "min"]]."""
    if value is None:
        return (("score", "max"),)
    items: list[Sequence[str]]
    if isinstance(value, str):
        items = [item.split(":") for item in value.split(",") if item.strip()]
    else:
        items = list(value)
    pairs = []
    for item in items:
        if len(item) != 2 or str(item[1]).strip() not in ("max", "min") or not str(item[0]):
            raise ConfigError(
                f"objectives: write METRIC:max or METRIC:min (or [metric, direction] pairs), "
                f"not {item!r}"
            )
        pairs.append((str(item[0]).strip(), str(item[1]).strip()))
    if not pairs:
        raise ConfigError("objectives: give at least one (metric, 'max' | 'min') pair")
    if len({m for m, _ in pairs}) != len(pairs):
        raise ConfigError(f"objectives: a metric is named twice in {pairs}")
    return tuple(pairs)


def parse_limits(value: str | Sequence[Sequence[Any]] | None) -> Limits:
    """`None` -> (); "latency@pixel2<=14,params_m<=1" or [["latency@pixel2", "<=", 14]]."""
    if value is None:
        return ()
    items: list[Sequence[Any]] = []
    if isinstance(value, str):
        for text in filter(str.strip, value.split(",")):
            m = _LIMIT.match(text)
            if m is None:
                raise ConfigError(
                    f"constraints: write METRIC<=BOUND or METRIC>=BOUND, not {text!r}"
                )
            items.append(m.groups())
    else:
        items = list(value)
    limits = []
    for item in items:
        try:
            metric, op, bound = item
            bound = float(bound)
        except (TypeError, ValueError):
            raise ConfigError(
                f"constraints: give [metric, '<=' | '>=', bound], not {item!r}"
            ) from None
        if op not in ("<=", ">=") or not np.isfinite(bound):
            raise ConfigError(f"constraints: give [metric, '<=' | '>=', bound], not {item!r}")
        limits.append((str(metric), str(op), bound))
    return tuple(limits)


@dataclass(frozen=True)
class Point:
    """One result as the strategies see it: objective values made "higher is better",
    and the total violation of the limits (0: feasible)."""

    values: tuple[float, ...]
    violation: float


class ObjectiveReader:
    """Turns results into `Point`s for fixed objectives and limits."""

    def __init__(self, objectives: Objectives, limits: Limits = ()) -> None:
        self.objectives = objectives
        self.limits = limits

    def _metric(self, result: Result, name: str) -> float | None:
        if name == "score" and "score" not in result.metrics:
            return None if result.score is None else float(result.score)
        if name not in result.metrics:
            raise ConfigError(
                f"objective or limit {name!r}: the evaluator reports no such metric "
                f"(it reports: {', '.join(sorted(result.metrics))})"
            )
        return float(result.metrics[name])

    def read(self, result: Result) -> Point | None:
        """The result's point, or None when it has none to rank (not COMPLETE, no score,
        or a value that is not finite)."""
        if result.state is not TrialState.COMPLETE:
            return None
        values = []
        for name, direction in self.objectives:
            v = self._metric(result, name)
            if v is None or not np.isfinite(v):
                return None
            values.append(v if direction == "max" else -v)
        violation = 0.0
        for name, op, bound in self.limits:
            v = self._metric(result, name)
            if v is None or not np.isfinite(v):
                return None
            excess = v - bound if op == "<=" else bound - v
            # Relative to the bound, so limits in different units add up comparably.
            violation += max(0.0, excess) / max(abs(bound), 1e-12)
        return Point(tuple(values), violation)


def dominates(a: Point, b: Point) -> bool:
    """Constrained domination (Deb et al. 2002): a feasible point dominates an infeasible
    one, of two infeasible ones the smaller violation dominates, and of two feasible ones
    Pareto dominance decides (all objectives at least as good, one better)."""
    if a.violation > 0 or b.violation > 0:
        return a.violation < b.violation
    return all(x >= y for x, y in zip(a.values, b.values, strict=True)) and a.values != b.values


def pareto_ranks(points: Sequence[Point]) -> list[int]:
    """Non-domination rank of each point (0: the first front), by repeatedly peeling the
    non-dominated set; O(n^2) comparisons per front, fine for the hundreds of points a
    search keeps."""
    n = len(points)
    if n == 0:
        return []
    v = np.array([p.values for p in points], dtype=float)
    viol = np.array([p.violation for p in points], dtype=float)
    feasible = viol <= 0
    # dom[i, j]: i dominates j
    ge = (v[:, None, :] >= v[None, :, :]).all(-1)
    gt = (v[:, None, :] > v[None, :, :]).any(-1)
    pareto = ge & gt & feasible[:, None] & feasible[None, :]
    by_violation = (viol[:, None] < viol[None, :]) & ~(feasible[:, None] & feasible[None, :])
    dom = pareto | by_violation
    counts = dom.sum(0)
    ranks = np.full(n, -1)
    front = np.flatnonzero(counts == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        counts = counts - dom[front].sum(0)
        counts[ranks >= 0] = -1
        front = np.flatnonzero(counts == 0)
        rank += 1
    return [int(r) for r in ranks]


def crowding_distances(values: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row (points of one front; Deb et al. 2002,
    section III-B): the boundary points get infinity, the others the sum over objectives
    of the normalised gap between their neighbours."""
    n, m = values.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(values[:, j], kind="stable")
        col = values[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist
