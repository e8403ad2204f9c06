"""GDAS: Dong and Yang, "Searching for a Robust Neural Architecture in Four GPU Hours",
CVPR 2019.

Each edge samples ONE op by the Gumbel-max trick, index = argmax(alpha + g), and only
that op runs (so a step costs one op per edge, not five). The backward pass uses the
Gumbel-softmax: h = one_hot(index) - z.detach() + z with z = softmax((alpha + g) / tau),
which is exactly one-hot in value while its gradient is that of z (eq. 5). tau is
annealed linearly from 10 to 0.1 over the search (the paper's schedule). Weights are
trained on the training half and alpha on the validation half, alternating, as in DARTS
first order. The cell is the argmax of alpha on each edge, `none` excluded.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.oneshot.base import METHODS, Batches, StepContext, Supernet
from archsearch.oneshot.differentiable import GradientMethod
from archsearch.oneshot.snas import gumbel_noise
from archsearch.oneshot.supernet import PathSpec
from archsearch.space.base import SearchSpace


def hard_gumbel(
    alpha: torch.Tensor, tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, list[int]]:
    """(straight-through one-hot weights [E, K], sampled op index per edge)."""
    g = gumbel_noise(alpha.shape, generator)
    z = torch.softmax((alpha + g) / tau, dim=-1)
    index = z.detach().argmax(dim=-1)
    one_hot = torch.zeros_like(z).scatter_(-1, index.unsqueeze(-1), 1.0)
    return one_hot - z.detach() + z, [int(i) for i in index]


@METHODS.register("gdas")
class GDAS(GradientMethod):
    """Hard Gumbel-max forward, Gumbel-softmax backward, tau from `tau_max` to `tau_min`."""

    name = "gdas"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        tau_max: float = 10.0,
        tau_min: float = 0.1,
        **options: Any,
    ) -> None:
        super().__init__(supernet, space, seed, **options)
        if not 0 < tau_min <= tau_max:
            raise ConfigError(f"need 0 < tau_min <= tau_max, got {tau_min} and {tau_max}")
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)
        self.tau = self.tau_max

    def temperature(self, progress: float) -> float:
        return self.tau_max - (self.tau_max - self.tau_min) * progress

    def sample(self) -> PathSpec:
        weights, index = hard_gumbel(self.alpha, self.tau, self.generator)
        return PathSpec(weights=weights, index=index)

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        self.tau = self.temperature(ctx.progress)
        net = self.supernet
        net.train()
        # Weights: one sampled path, alpha detached (it learns on validation data only).
        spec = self.sample()
        assert spec.weights is not None
        loss = self.weights_step(
            PathSpec(weights=spec.weights.detach(), index=spec.index), batches, w_optimizer
        )
        if self.arch_frozen(ctx.progress):
            return loss
        # Architecture: a fresh sample on the validation batch.
        self.arch_optimizer.zero_grad(set_to_none=True)
        val = F.cross_entropy(net(batches.x_val, self.sample()), batches.y_val)
        (grad,) = torch.autograd.grad(val, [self.alpha])
        self.alpha.grad = grad
        self.arch_optimizer.step()
        return loss

    def describe(self) -> dict[str, Any]:
        return {"tau": self.tau}
