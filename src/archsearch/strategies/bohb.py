"""BOHB's model: Falkner, Klein and Hutter, "BOHB: Robust and Efficient Hyperparameter
Optimization at Scale", ICML 2018 (Section 4 and Algorithm 2).

Paired with the Hyperband scheduler this is BOHB: Hyperband decides which budgets run,
this strategy decides which architectures start. It keeps the observations of every
budget apart and fits its model on the largest budget that has enough of them
(N_min + 2, N_min = number of decisions + 1): the best `top_fraction` of that budget's
results (at least N_min) form the "good" set, the rest (at least N_min) the "bad" set,
and each gets a kernel density estimate, l(x) and g(x). A proposal is, with probability
`random_fraction`, uniform; otherwise the best of `n_samples` draws from l with its
bandwidths widened by `bandwidth_factor`, ranked by l(x) / g(x) (the TPE criterion).

Every decision is categorical, so the densities are products of Aitchison-Aitken
kernels (k = 1 - h on the same option, h / (c - 1) on each other one), the kernel
statsmodels' `KDEMultivariate` uses for unordered variables in the authors'
implementation; the bandwidth is that implementation's normal-reference rule on the
option indices, clipped to [min_bandwidth, (c - 1) / c]. (Written here with NumPy, about
twenty lines, rather than adding statsmodels for it.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy


class CategoricalKDE:
    """A product of Aitchison-Aitken kernels over rows of option indices."""

    def __init__(self, data: np.ndarray, n_options: np.ndarray, min_bandwidth: float) -> None:
        self.data = data
        self.n_options = n_options
        n, d = data.shape
        # normal reference: 1.06 * std * n^(-1/(4 + d)), as statsmodels computes it
        bw = 1.06 * data.std(axis=0) * n ** (-1.0 / (4 + d))
        self.bw = np.clip(bw, min_bandwidth, (n_options - 1) / n_options)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at each row of `x` (shape (m, d))."""
        same = x[:, None, :] == self.data[None, :, :]  # (m, n, d)
        other = self.bw / np.maximum(self.n_options - 1, 1)
        k = np.where(same, 1.0 - self.bw, other)
        return np.prod(k, axis=2).mean(axis=1)

    def sample(self, rng: np.random.Generator, count: int, factor: float) -> np.ndarray:
        """Draws with every bandwidth widened `factor` times (capped at uniform)."""
        rows = self.data[rng.integers(len(self.data), size=count)].copy()
        bw = np.minimum(self.bw * factor, (self.n_options - 1) / self.n_options)
        resample = rng.random(rows.shape) < bw
        # A resampled value is uniform over the options (as the authors' sampler does).
        fresh = np.floor(rng.random(rows.shape) * self.n_options).astype(rows.dtype)
        return np.where(resample, fresh, rows)


@STRATEGIES.register("bohb")
class BOHBStrategy(Strategy):
    """BOHB's kernel-density model over the space's decisions (one per budget)."""

    multi_fidelity = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        top_fraction: float = 0.15,
        random_fraction: float = 1 / 3,
        n_samples: int = 64,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
    ) -> None:
        super().__init__(space, seed)
        if not 0 < top_fraction < 1:
            raise ConfigError(f"top_fraction must be in (0, 1), got {top_fraction}")
        if not 0 <= random_fraction <= 1:
            raise ConfigError(f"random_fraction must be in [0, 1], got {random_fraction}")
        if n_samples < 1:
            raise ConfigError(f"n_samples must be >= 1, got {n_samples}")
        if bandwidth_factor <= 0 or min_bandwidth <= 0:
            raise ConfigError("bandwidth_factor and min_bandwidth must be > 0")
        self.top_fraction = float(top_fraction)
        self.random_fraction = float(random_fraction)
        self.n_samples = int(n_samples)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth = float(min_bandwidth)
        self.decisions = list(space.decisions())
        self.n_options = np.array([len(d.options) for d in self.decisions])
        self.n_min = len(self.decisions) + 1
        # budget -> [(option indices, score)]; failed trials count as the worst (BOHB
        # gives crashed runs the worst loss so the model learns to avoid them)
        self.observations: dict[float, list[tuple[list[int], float]]] = {}

    def _indices(self, arch: Architecture) -> list[int]:
        return [d.options.index(v) for d, v in zip(self.decisions, arch.values, strict=True)]

    def ask(self) -> Architecture | None:
        budget = self._model_budget()
        if budget is None or self.rng.random() < self.random_fraction:
            return self.space.sample(self.rng)
        data = self.observations[budget]
        scores = np.array([s for _, s in data])
        order = np.argsort(-scores, kind="stable")
        n_good = max(self.n_min, math.floor(self.top_fraction * len(data)))
        n_bad = max(self.n_min, len(data) - n_good)
        rows = np.array([x for x, _ in data])
        good = CategoricalKDE(rows[order[:n_good]], self.n_options, self.min_bandwidth)
        bad = CategoricalKDE(rows[order[-n_bad:]], self.n_options, self.min_bandwidth)
        candidates = good.sample(self.rng, self.n_samples, self.bandwidth_factor)
        ratio = good.pdf(candidates) / np.maximum(bad.pdf(candidates), 1e-32)
        best = candidates[int(np.argmax(ratio))]
        values = [d.options[int(i)] for d, i in zip(self.decisions, best, strict=True)]
        arch = self.space.make(values)
        try:
            self.space.validate(arch)
        except Exception:  # a space with constraints between decisions: fall back
            return self.space.sample(self.rng)
        return arch

    def _model_budget(self) -> float | None:
        """The largest budget with at least N_min + 2 observations."""
        ready = [b for b, obs in self.observations.items() if len(obs) >= self.n_min + 2]
        return max(ready) if ready else None

    def tell(self, arch: Architecture, result: Result) -> None:
        if result.state is TrialState.PRUNED:
            return
        budget = float(result.metrics.get("resource", 0.0))
        if result.state is TrialState.COMPLETE and result.score is not None:
            score = float(result.score)
        else:
            score = -math.inf
        try:
            indices = self._indices(arch)
        except ValueError:  # a value outside the listed options: nothing to model
            return
        self.observations.setdefault(budget, []).append((indices, score))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "observations": [
                [b, [[x, None if math.isinf(s) else s] for x, s in obs]]
                for b, obs in self.observations.items()
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.observations = {
            float(b): [(list(x), -math.inf if s is None else float(s)) for x, s in obs]
            for b, obs in state["observations"]
        }
