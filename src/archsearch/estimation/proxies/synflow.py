"""SynFlow: Tanaka, Kunin, Yamins and Ganguli, "Pruning neural networks without any data
by iteratively conserving synaptic flow", NeurIPS 2020; as a NAS proxy, Abdelfattah et
al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021.

The score is the total synaptic saliency sum |theta * dR/dtheta| of the network made
linear and positive: every parameter replaced by its absolute value, batch norm removed,
and R the sum of the outputs for an all-ones input. Data-free (x only gives the input
shape; y and the loss are unused). As in Abdelfattah et al., it runs in double precision,
because the products of absolute weights over a deep network overflow float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.estimation.proxies.base import (
    PROXIES,
    LossFn,
    bypass_batchnorm,
    device_of,
    prunable_layers,
    working_copy,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("synflow")
def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """sum over conv/linear weights of |w * dR/dw|, R = sum(f_|theta|(1)) without BN."""
    import torch

    net = working_copy(model, dtype=torch.float64)
    bypass_batchnorm(net)
    with torch.no_grad():
        for tensor in net.state_dict().values():  # weights, biases (and buffers) made positive
            if tensor.is_floating_point():
                tensor.abs_()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=device_of(net))
    net(ones).sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for layer in prunable_layers(net):
        if layer.weight.grad is not None:
            total += (layer.weight.detach() * layer.weight.grad).abs().sum().cpu()
    return float(total)
