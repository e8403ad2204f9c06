"""A small ensemble of MLP regressors trained as one batched network: the surrogate of
BANANAS (White et al., AAAI 2021) and PNAS (Liu et al., ECCV 2018). Each layer holds the
weights of every member at once, (members, fan_in, fan_out), so one `baddbmm` per layer
runs the whole ensemble. Torch is imported inside the functions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archsearch.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def check_mlp(hidden: Sequence[int], lr: float) -> None:
    """Layer widths and a learning rate an ensemble can train with."""
    if not hidden or min(int(h) for h in hidden) < 1:
        raise ConfigError(f"hidden: give one or more layer widths >= 1, got {list(hidden)}")
    if not float(lr) > 0:
        raise ConfigError(f"lr must be > 0, got {lr}")


def init_ensemble(
    n_in: int, hidden: Sequence[int], members: int, gen: torch.Generator
) -> list[torch.Tensor]:
    """Per layer, the weights and biases of all members, (E, fan_in, fan_out) and
    (E, 1, fan_out), drawn as torch's nn.Linear default (uniform in +-1/sqrt(fan_in))."""
    import torch

    params = []
    widths = (n_in, *hidden, 1)
    for fan_in, fan_out in itertools.pairwise(widths):
        bound = 1.0 / fan_in**0.5
        for shape in ((members, fan_in, fan_out), (members, 1, fan_out)):
            w = (torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound
            params.append(w.requires_grad_())
    return params


def ensemble_forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(E, N) predictions of every member for the N rows of `x` (ReLU between layers)."""
    import torch

    h = x.unsqueeze(0).expand(params[0].shape[0], -1, -1)
    n_layers = len(params) // 2
    for layer in range(n_layers):
        h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
        if layer < n_layers - 1:
            h = torch.relu(h)
    return h.squeeze(-1)
