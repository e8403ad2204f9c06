"""What the gradient-based methods (DARTS, SNAS, GDAS) share: architecture parameters
alpha [edges, ops], their Adam optimizer, and the argmax derivation.

The defaults follow the DARTS search settings (Liu et al., ICLR 2019), which the
NAS-Bench-201 paper (Dong & Yang, ICLR 2020) reused for every weight-sharing method:
alpha initialised at 1e-3 * N(0, 1), Adam with lr 3e-4, betas (0.5, 0.999) and weight
decay 1e-3.

DARTS+ (Liang et al., "DARTS+: Improved Differentiable Architecture Search with Early
Stopping", arXiv 2019) is available to all of them as `stop_skips`: the search ends
after the first epoch whose derived cell holds at least that many skip connections.

`warmup` (a fraction of the search's steps) trains the weights only, alpha frozen at
its near-uniform start, as PC-DARTS does for its first 15 of 50 epochs (Xu et al., ICLR
2020): architecture gradients taken on untrained weights favour the parameter-free ops.
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.oneshot.base import OneShotMethod, Supernet, derive
from archsearch.space.base import SearchSpace


class GradientMethod(OneShotMethod):
    """A method whose architecture is a tensor alpha learned by gradient descent."""

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        arch_lr: float = 3e-4,
        arch_weight_decay: float = 1e-3,
        stop_skips: int | None = None,
        warmup: float = 0.0,
    ) -> None:
        super().__init__(supernet, space, seed)
        if not 0.0 <= warmup < 1.0:
            raise ConfigError(f"warmup must be a fraction in [0, 1), got {warmup}")
        self.warmup = float(warmup)
        if not arch_lr > 0:
            raise ConfigError(f"arch_lr must be > 0, got {arch_lr}")
        if stop_skips is not None and not 1 <= stop_skips <= supernet.n_edges:
            raise ConfigError(
                f"stop_skips must be between 1 and {supernet.n_edges}, got {stop_skips}"
            )
        self.stop_skips = stop_skips
        n_ops = len(supernet.op_names)
        init = 1e-3 * torch.randn(supernet.n_edges, n_ops, generator=self.generator)
        self.alpha = torch.nn.Parameter(init)
        self.arch_optimizer = torch.optim.Adam(
            [self.alpha], lr=arch_lr, betas=(0.5, 0.999), weight_decay=arch_weight_decay
        )

    def arch_frozen(self, progress: float) -> bool:
        """Whether alpha is still frozen by the warm-up at this point of the search."""
        return progress < self.warmup

    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        return derive(self.space, self.alpha)

    def stop_early(self, arch: Architecture | None) -> bool:
        if self.stop_skips is None or arch is None:
            return False
        return sum(v == "skip_connect" for v in arch.values) >= self.stop_skips

    def arch_probabilities(self) -> list[list[float]]:
        return torch.softmax(self.alpha.detach(), dim=-1).tolist()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "alpha": self.alpha.detach().clone(),
            "arch_optimizer": self.arch_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
