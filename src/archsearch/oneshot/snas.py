"""SNAS: Xie, Zheng, Liu and Lin, "SNAS: Stochastic Neural Architecture Search", ICLR 2019.

Each edge's op is a one-hot random variable relaxed with the concrete distribution
(Maddison et al. 2017; Jang et al. 2017): z = softmax((alpha + g) / tau), g ~ Gumbel(0, 1),
and the edge computes the z-weighted sum of its ops. Unlike DARTS, weights and
architecture are trained together, on the same training batch, by one backward pass
(the search gradient of section 2.3). The temperature is annealed; here geometrically
from `tau0` to `tau_end` over the search (SNAS anneals from 1 with an exponential
schedule). The resource constraint of SNAS's section 2.4 is not implemented. The cell
is the argmax of alpha on each edge, `none` excluded.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.oneshot.base import METHODS, Batches, StepContext, Supernet
from archsearch.oneshot.differentiable import GradientMethod
from archsearch.oneshot.supernet import PathSpec
from archsearch.space.base import SearchSpace


def gumbel_noise(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel samples -log(-log U), U ~ Uniform(0, 1), clamped away from 0 and 1."""
    u = torch.rand(shape, generator=generator).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


@METHODS.register("snas")
class SNAS(GradientMethod):
    """Concrete-distribution relaxation, single-level training, annealed temperature."""

    name = "snas"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        tau0: float = 1.0,
        tau_end: float = 0.03,
        **options: Any,
    ) -> None:
        super().__init__(supernet, space, seed, **options)
        if not 0 < tau_end <= tau0:
            raise ConfigError(f"need 0 < tau_end <= tau0, got tau0={tau0}, tau_end={tau_end}")
        self.tau0, self.tau_end = float(tau0), float(tau_end)
        self.tau = self.tau0

    def temperature(self, progress: float) -> float:
        return self.tau0 * (self.tau_end / self.tau0) ** progress

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        self.tau = self.temperature(ctx.progress)
        g = gumbel_noise(self.alpha.shape, self.generator)
        z = torch.softmax((self.alpha + g) / self.tau, dim=-1)
        net = self.supernet
        net.train()
        w_optimizer.zero_grad(set_to_none=True)
        self.arch_optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(batches.x_train, PathSpec(weights=z)), batches.y_train)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        w_optimizer.step()
        if not self.arch_frozen(ctx.progress):
            self.arch_optimizer.step()
        return float(loss.detach())

    def describe(self) -> dict[str, Any]:
        return {"tau": self.tau}
