"""SNIP: Lee, Ajanthan and Torr, "SNIP: Single-shot Network Pruning based on Connection
Sensitivity", ICLR 2019; as a NAS proxy, Abdelfattah et al., ICLR 2021.

The connection sensitivity of a weight is |dL/dc| for a multiplicative mask c = 1 on it,
which equals |w * dL/dw|; the score sums it over the conv and linear weights, for the
loss of one minibatch (batch norm on the batch's statistics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.estimation.proxies.base import PROXIES, LossFn, prunable_layers, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("snip")
def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """sum over conv/linear weights of |w * dL/dw| on the minibatch (x, y)."""
    import torch

    net = working_copy(model)
    loss_fn(net(x), y).backward()
    total = torch.zeros((), dtype=torch.float64)
    for layer in prunable_layers(net):
        if layer.weight.grad is not None:
            total += (layer.weight.detach() * layer.weight.grad).abs().sum().double().cpu()
    return float(total)
