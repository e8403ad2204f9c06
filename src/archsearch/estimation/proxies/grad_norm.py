"""Gradient norm: the baseline proxy of Abdelfattah et al., "Zero-Cost Proxies for
Lightweight NAS", ICLR 2021 (Section 3).

As in their measures, the Euclidean norm of the loss gradient is taken per conv or linear
weight tensor and the norms are summed over layers (for a single layer it is the
gradient's norm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.estimation.proxies.base import PROXIES, LossFn, prunable_layers, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("grad_norm")
def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """sum over conv/linear layers l of ||dL/dW_l||_2 on the minibatch (x, y)."""
    import torch

    net = working_copy(model)
    loss_fn(net(x), y).backward()
    total = torch.zeros((), dtype=torch.float64)
    for layer in prunable_layers(net):
        if layer.weight.grad is not None:
            total += torch.linalg.vector_norm(layer.weight.grad.double()).cpu()
    return float(total)
