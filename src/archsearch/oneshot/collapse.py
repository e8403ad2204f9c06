"""A remedy for DARTS's collapse onto skip connections: DARTS- (Chu, Wang, Zhang, Zhang,
Wei and Yan, "DARTS-: Robustly Stepping out of Performance Collapse Without Indicators",
ICLR 2021).

Collapse: as DARTS trains, skip_connect wins more and more edges, because it eases the
optimisation of the deep supernet (a residual path), not because the derived cell is
better; on NAS-Bench-201 DARTS ends at the all-skip cell (54.30% on CIFAR-10, Dong &
Yang 2020). DARTS- adds an auxiliary skip connection beside every mixed op,
out = mixed(x) + beta * x, with beta decayed linearly from `beta0` to 0 over the search.
The auxiliary skip provides the residual path, so the searched skip_connect no longer
gets an unfair advantage; by the end beta is 0 and the supernet is the plain one the
cell is derived from. Everything else is DARTS.

The other remedy on offer, DARTS+'s early stopping on skip dominance, is the
`stop_skips` option of every gradient method (see `differentiable`).
"""

from __future__ import annotations

from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.oneshot.base import METHODS, StepContext, Supernet
from archsearch.oneshot.darts import DARTS
from archsearch.space.base import SearchSpace


@METHODS.register("darts-")
class DARTSMinus(DARTS):
    """DARTS with an auxiliary skip of weight beta = beta0 * (1 - progress)."""

    name = "darts-"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        beta0: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(supernet, space, seed, **options)
        if beta0 < 0:
            raise ConfigError(f"beta0 must be >= 0, got {beta0}")
        self.beta0 = float(beta0)
        self._beta = self.beta0

    def aux_skip(self, ctx: StepContext) -> float:
        self._beta = self.beta0 * (1.0 - ctx.progress)
        return self._beta

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "beta": self._beta}
