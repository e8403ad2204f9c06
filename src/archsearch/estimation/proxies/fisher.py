"""Fisher: Turner, Crowley, O'Boyle, Storkey and Gray, "BlockSwap: Fisher-guided Block
Substitution for Network Compression on a Budget", ICLR 2020, after Theis, Korshunova,
Tejani and Huszar, "Faster gaze prediction with dense networks and Fisher pruning",
2018; as a NAS proxy, Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021.

For every output channel k of a conv or linear layer, with activation a (the layer's
output) and g = dL/da, the saliency is 0.5 * mean_n (sum_spatial a * g)^2: the
estimated loss increase when the channel is removed. Like Abdelfattah et al.'s measure,
each channel's value is broadcast to the weights of that channel (times the fan-in
C_in * k_h * k_w) before everything is summed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from archsearch.estimation.proxies.base import PROXIES, LossFn, prunable_layers, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("fisher")
def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """sum over conv/linear channels of fan_in * 0.5 * mean_n (sum_hw a * dL/da)^2."""
    import torch

    net = working_copy(model)
    saliency: dict[int, torch.Tensor] = {}
    handles = []

    def hook(layer: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
        # The activation is copied now: a later in-place op must not change it.
        act = out.detach().clone()
        key = id(layer)

        def on_grad(grad: torch.Tensor) -> None:
            g_nk = act * grad
            if g_nk.ndim > 2:
                g_nk = g_nk.sum(dim=tuple(range(2, g_nk.ndim)))
            per_channel = 0.5 * g_nk.double().pow(2).mean(0)
            saliency[key] = saliency.get(key, 0) + per_channel  # a shared layer accumulates

        out.register_hook(on_grad)

    layers = list(prunable_layers(net))
    for layer in layers:
        handles.append(layer.register_forward_hook(hook))
    loss_fn(net(x), y).backward()
    for handle in handles:
        handle.remove()
    total = torch.zeros((), dtype=torch.float64)
    for layer in layers:
        if id(layer) in saliency:
            fan_in = math.prod(layer.weight.shape[1:])
            total += saliency[id(layer)].abs().sum().cpu() * fan_in
    return float(total)
