"""The preprocessing a trained network's inputs went through, as a module, so that an
exported model takes its data as the user has it: values on the dataset's own scale
(uint8 pixels as 0-255), not normalised tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn


class Normalize(nn.Module):
    """(x * scale - mean) / std per channel (dimension 1): `scale` maps the stored
    values to the range the statistics were taken on (1/255 for uint8 pixels)."""

    def __init__(self, scale: float, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.scale = float(scale)
        shape = (1, len(mean), 1, 1)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float32) * self.scale - self.mean) / self.std


def with_preprocessing(net: nn.Module, preprocess: dict[str, object] | None) -> nn.Module:
    """`net` behind its input preprocessing (None: `net` itself)."""
    if preprocess is None:
        return net
    return nn.Sequential(Normalize(**preprocess), net)  # type: ignore[arg-type]
