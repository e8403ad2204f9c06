"""The proxy contract and the helpers every proxy shares.

A zero-cost proxy scores an untrained network from one minibatch, higher meaning
"predicted to train better" (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021). Each proxy is a function

    score(model, x, y, loss_fn) -> float

that leaves `model` untouched: it works on a deep copy (weights, batch-norm statistics
and the train/eval flag all stay as they were). Like Abdelfattah et al.'s measures, the
copy runs in train mode (batch norm uses the minibatch's statistics, as for a freshly
built network), and the per-weight saliencies are summed over the weights of the
convolutional and linear layers only.

Torch is imported inside the functions, so importing this package (and registering the
proxies) does not import torch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from archsearch.core.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
ProxyFn = Callable[["nn.Module", "torch.Tensor", "torch.Tensor", LossFn], float]

#: proxy name -> score(model, x, y, loss_fn) -> float (higher: predicted better)
PROXIES: Registry[ProxyFn] = Registry("proxy")


def working_copy(model: nn.Module, *, dtype: torch.dtype | None = None) -> nn.Module:
    """A deep copy of `model` in train mode with fresh gradients (and `dtype`, if given):
    the proxy may change it freely, the caller's model stays as it was."""
    net = copy.deepcopy(model)
    if dtype is not None:
        net = net.to(dtype)
    net.train()
    net.zero_grad(set_to_none=True)
    for p in net.parameters():
        p.requires_grad_(True)
    return net


def prunable_layers(model: nn.Module) -> Iterator[nn.Conv2d | nn.Linear]:
    """The convolutional and linear layers, in module order: the layers whose weights
    the pruning-at-initialisation saliencies are summed over."""
    from torch import nn

    for layer in model.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            yield layer


def bypass_batchnorm(model: nn.Module) -> None:
    """Turn every batch-norm layer into the identity (in place, on a copy): synflow is
    data-free and computed without batch norm, which would rescale the all-ones input's
    activations back to zero mean."""
    from torch import nn

    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())


def device_of(model: nn.Module) -> torch.device:
    import torch

    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device
