"""Baselines every proxy must beat: the parameter count and the FLOPs of one forward pass
(Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Section 4, and
White et al., "How Powerful are Performance Predictors in Neural Architecture Search?",
NeurIPS 2021, use both). Neither reads the data beyond the input shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.estimation.proxies.base import PROXIES, LossFn

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@PROXIES.register("params")
def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """The number of trainable parameters."""
    from archsearch.nn.measure import count_params

    return float(count_params(model))


@PROXIES.register("flops")
def flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """FLOPs of one sample's forward pass (PyTorch's FlopCounterMode, 2 per multiply-add),
    on a copy, so the model's train/eval flag stays as it was."""
    from archsearch.estimation.proxies.base import working_copy
    from archsearch.nn.measure import count_flops

    return float(count_flops(working_copy(model), x[:1]))
