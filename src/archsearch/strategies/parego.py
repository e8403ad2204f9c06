"""ParEGO: Knowles, "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for
Expensive Multiobjective Optimization Problems", IEEE TEVC 2006, on archsearch's GP with a
graph kernel (the "bo" strategy).

Each proposal scalarises the observed objective vectors with a weight vector drawn afresh
(the augmented Tchebycheff function of the paper, on objectives normalised to [0, 1] by
the observed ranges) and lets the single-objective GP strategy propose the architecture
that maximises its acquisition for that scalarisation; over many proposals the weights
sweep the whole front.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES
from archsearch.strategies.bayesopt.strategy import GPBayesOpt
from archsearch.strategies.multiobjective import (
    ObjectiveReader,
    Point,
    parse_limits,
    parse_objectives,
)


@STRATEGIES.register("parego")
class ParEGO(GPBayesOpt):
    """ParEGO over the "bo" strategy's GP (kernel, acquisition and its optimiser, the
    deduplication and the pending-trial handling are `GPBayesOpt`'s; its options pass
    through `bo_options`).

    * `objectives`, `constraints`: as for `pareto-re` (default: the study's score alone,
      which makes this the "bo" strategy).
    * Weights: ParEGO's set, every vector of `n_objectives` multiples of 1/`weight_steps`
      summing to 1 (s = 10 gives 11 vectors for two objectives), one drawn uniformly per
      proposal; `rho` is the augmentation of the Tchebycheff function (0.05, the paper's).
    * Limits: an infeasible result's scalarised value is set below every feasible one,
      ordered by its violation, so the model learns where the limits bite (the GP is
      fitted to ranks, see `GPBayesOpt`, so only this order matters).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: str | Sequence[Sequence[str]] | None = None,
        constraints: str | Sequence[Sequence[Any]] | None = None,
        weight_steps: int = 10,
        rho: float = 0.05,
        bo_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            super().__init__(space, seed, **dict(bo_options or {}))
        except TypeError as e:
            raise ConfigError(f"bo_options: {e}") from None
        self.objectives = parse_objectives(objectives)
        self.reader = ObjectiveReader(self.objectives, parse_limits(constraints))
        if int(weight_steps) < 1:
            raise ConfigError(f"weight_steps must be >= 1, got {weight_steps}")
        if not float(rho) >= 0:
            raise ConfigError(f"rho must be >= 0, got {rho}")
        self.rho = float(rho)
        self.weights = _simplex_grid(len(self.objectives), int(weight_steps))
        self._points: list[Point] = []

    def _reset(self) -> None:
        super()._reset()
        self._points = []

    def _scalarised(self, weights: np.ndarray) -> list[float]:
        """The augmented Tchebycheff value of each observation, negated (higher is better)."""
        values = np.array([p.values for p in self._points], dtype=float)
        violation = np.array([p.violation for p in self._points])
        feasible = violation <= 0
        ref = values[feasible] if feasible.any() else values
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        # Normalised costs (0 best), as the paper's f_lambda minimises.
        cost = (hi - values) / np.where(hi > lo, hi - lo, 1.0)
        weighted = weights * cost
        score = -(weighted.max(axis=1) + self.rho * weighted.sum(axis=1))
        if not feasible.all():
            floor = score[feasible].min() if feasible.any() else 0.0
            score[~feasible] = floor - 1.0 - violation[~feasible]
        return [float(s) for s in score]

    def ask(self) -> Architecture | None:
        if len(self._obs) >= self.n_init:
            weights = self.weights[int(self.rng.integers(len(self.weights)))]
            self._scores = self._scalarised(weights)
        return super().ask()

    def tell(self, arch: Architecture, result: Result) -> None:
        self._pending.pop(arch, None)
        self._seen.add(arch)
        point = self.reader.read(result)
        self._told.append((arch, None if point is None else [list(point.values), point.violation]))  # type: ignore[arg-type]
        if point is not None:
            self._points.append(point)
            self._observe(arch, 0.0)  # the score is set per proposal, by its weights

    def load_state_dict(self, state: dict[str, Any]) -> None:
        told = state["told"]
        # The base class replays observations with float scores: give it placeholders.
        super().load_state_dict(
            {**state, "told": [[a, None if p is None else 0.0] for a, p in told]}
        )
        self._told = [(Architecture.from_json(a), p) for a, p in told]
        self._points = [
            Point(tuple(float(x) for x in p[0]), float(p[1])) for _, p in told if p is not None
        ]


def _simplex_grid(k: int, steps: int) -> np.ndarray:
    """Every vector of k non-negative multiples of 1/steps that sum to 1."""
    rows = [c for c in itertools.product(range(steps + 1), repeat=k) if sum(c) == steps]
    return np.array(rows, dtype=float) / steps
