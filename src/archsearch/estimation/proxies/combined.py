"""Several proxies of one network at once, sharing the passes they have in common.

snip, grad_norm, fisher and grasp all start from the gradient of the same minibatch
loss (batch norm on the batch's statistics, so a second forward pass computes exactly
the same values): here one forward pass and one backward pass (kept differentiable)
serve all four, and grasp adds only its Hessian-gradient product. The results equal
the separate functions' (up to float rounding; `tests/test_proxies.py` checks it),
at about half the cost of calling them one by one. Other proxies are computed by
their own functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from archsearch.estimation.proxies.base import PROXIES, LossFn, prunable_layers, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

#: the proxies computed from one shared loss gradient
GRADIENT_FAMILY = ("snip", "grad_norm", "fisher", "grasp")


def gradient_family(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, *, grasp: bool = True
) -> dict[str, float]:
    """snip, grad_norm, fisher (and grasp) from one forward and one backward pass."""
    import torch

    net = working_copy(model)
    layers = list(prunable_layers(net))
    weights = [layer.weight for layer in layers]
    saliency: dict[int, torch.Tensor] = {}
    recording = True

    def hook(layer: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
        act = out.detach().clone()
        key = id(layer)

        def on_grad(grad: torch.Tensor) -> None:
            if not recording:  # grasp's second-order pass must not count again
                return
            g_nk = act * grad.detach()
            if g_nk.ndim > 2:
                g_nk = g_nk.sum(dim=tuple(range(2, g_nk.ndim)))
            per_channel = 0.5 * g_nk.double().pow(2).mean(0)
            saliency[key] = saliency.get(key, 0) + per_channel

        out.register_hook(on_grad)

    handles = [layer.register_forward_hook(hook) for layer in layers]
    loss = loss_fn(net(x), y)
    for handle in handles:
        handle.remove()
    grads = torch.autograd.grad(loss, weights, create_graph=grasp, allow_unused=True)
    recording = False
    zero = torch.zeros((), dtype=torch.float64)
    snip, norm, fisher = zero.clone(), zero.clone(), zero.clone()
    for layer, w, g in zip(layers, weights, grads, strict=True):
        if g is not None:
            snip += (w.detach() * g.detach()).abs().sum().double().cpu()
            norm += torch.linalg.vector_norm(g.detach().double()).cpu()
        if id(layer) in saliency:
            fisher += saliency[id(layer)].abs().sum().cpu() * math.prod(w.shape[1:])
    out = {"snip": float(snip), "grad_norm": float(norm), "fisher": float(fisher)}
    if grasp:
        terms = [(g.detach() * g).sum() for g in grads if g is not None and g.requires_grad]
        total = zero.clone()
        if terms:
            hg = torch.autograd.grad(torch.stack(terms).sum(), weights, allow_unused=True)
            for w, h in zip(weights, hg, strict=True):
                if h is not None:
                    total += (-w.detach() * h).sum().double().cpu()
        out["grasp"] = float(total)
    return out


def score_many(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, names: list[str]
) -> dict[str, float]:
    """{name: score} for the registered proxies `names`, sharing the loss-gradient pass
    among those of `GRADIENT_FAMILY` when two or more of them are asked for."""
    for name in names:
        PROXIES.get(name)  # an unknown name is a clear error before any work
    shared = [n for n in names if n in GRADIENT_FAMILY]
    scores: dict[str, float] = {}
    if len(shared) >= 2:
        scores.update(gradient_family(model, x, y, loss_fn, grasp="grasp" in shared))
    for name in names:
        if name not in scores:
            scores[name] = PROXIES.get(name)(model, x, y, loss_fn)
    return {name: scores[name] for name in names}
