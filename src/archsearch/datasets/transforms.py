"""Image transforms as plain torch ops on whole batches (no torchvision, no PIL).

Every function takes and returns (N, C, H, W) tensors; random ones draw only from the
`torch.Generator` they are given, so a seeded trial sees the same augmented batches.
The CIFAR augmentation is the standard one of He et al., "Deep Residual Learning for
Image Recognition" (CVPR 2016), section 4.2: pad 4 pixels, take a random 32x32 crop,
flip horizontally with probability 1/2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_float(x: torch.Tensor) -> torch.Tensor:
    """A new float32 tensor: uint8 pixels scaled to [0, 1], float data as it is.

    Always a copy, so callers may work on the result in place without touching a
    dataset's own (cached, shared) tensors."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32, copy=True)


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of `to_float(x)`, accumulated in float64
    over chunks (so 50,000 CIFAR images never exist as one float copy)."""
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for i in range(0, x.shape[0], chunk):
        part = to_float(x[i : i + chunk]).to(torch.float64)
        total += part.sum(dim=(0, 2, 3))
        total_sq += part.square().sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    var = (total_sq / count - mean.square()).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-8)  # a constant channel must not divide by zero
    return mean.to(torch.float32), std.to(torch.float32)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(to_float(x) - mean) / std per channel; a new float32 tensor."""
    shape = (1, -1, 1, 1)
    return to_float(x).sub_(mean.view(shape)).div_(std.view(shape))


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Square images of side `size` (the "input resolution" fidelity knob): bilinear, with
    antialiasing when shrinking so small resolutions do not alias."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = size < max(x.shape[-2:])
    return F.interpolate(
        x.to(torch.float32),
        size=(size, size),
        mode="bilinear",
        align_corners=False,
        antialias=shrink,
    )


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` on each side, then cut each image at its own random offset
    back to the original size. Applied after normalisation, the zero padding is the mean
    colour."""
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    wp = w + 2 * padding
    padded = F.pad(x, (padding, padding, padding, padding)).flatten(2)  # (N, C, Hp*Wp)
    # Offsets come from the (CPU) generator, then move to the batch's device.
    dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = dy + torch.arange(h, device=x.device).view(1, h, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, w)
    # One gather over flat pixel indices: ~8x faster on CPU than 4-way advanced indexing.
    flat = (rows * wp + cols).view(n, 1, h * w).expand(n, c, h * w)
    return padded.gather(2, flat).view(n, c, h, w)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    chosen = torch.nonzero(torch.rand(x.shape[0], generator=generator) < 0.5).flatten()
    chosen = chosen.to(x.device)
    out = x.clone()
    out[chosen] = x[chosen].flip(3)
    return out


def augment(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """The CIFAR training augmentation: random crop with padding, then a random flip."""
    return random_flip(random_crop(x, padding, generator), generator)
