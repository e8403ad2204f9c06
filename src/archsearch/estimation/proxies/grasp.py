"""GraSP: Wang, Zhang and Grosse, "Picking Winning Tickets Before Training by Preserving
Gradient Flow", ICLR 2020; as a NAS proxy, Abdelfattah et al., ICLR 2021.

The saliency of a weight is -theta * (H g), with g the loss gradient and H the Hessian,
so that the score grows when removing weights would reduce gradient flow the least;
Hg is the gradient of z = g_detached . g (a Hessian-vector product by double
backpropagation). Summed over the conv and linear weights. The sign is Abdelfattah et
al.'s (they negate GraSP's pruning score, as accuracy correlates with -theta Hg).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.estimation.proxies.base import PROXIES, LossFn, prunable_layers, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("grasp")
def grasp(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """sum over conv/linear weights of -theta * (H g) on the minibatch (x, y)."""
    import torch

    net = working_copy(model)
    weights = [layer.weight for layer in prunable_layers(net)]
    # Pass 1: the gradient g, a constant in pass 2.
    first = torch.autograd.grad(loss_fn(net(x), y), weights, allow_unused=True)
    # Pass 2: z = g . grad(L) with the graph kept; dz/dtheta = H g.
    grads = torch.autograd.grad(loss_fn(net(x), y), weights, create_graph=True, allow_unused=True)
    # A gradient that does not depend on the weights has a zero Hessian product.
    terms = [
        (g0.detach() * g).sum()
        for g0, g in zip(first, grads, strict=True)
        if g0 is not None and g is not None and g.requires_grad
    ]
    if not terms:
        return 0.0
    hg = torch.autograd.grad(torch.stack(terms).sum(), weights, allow_unused=True)
    total = torch.zeros((), dtype=torch.float64)
    for w, h in zip(weights, hg, strict=True):
        if h is not None:
            total += (-w.detach() * h).sum().double().cpu()
    return float(total)
