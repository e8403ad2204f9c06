"""Where networks train: `--device auto|cpu|cuda|mps` resolved to a torch device, and
the mixed precision (`bf16`, `fp16`) that autocast gives off the CPU."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext

import torch

from archsearch.core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def resolve_device(name: str) -> str:
    """A torch device name: `auto` is CUDA if present, else Apple's MPS, else the CPU; a
    device that is not there is a `ConfigError`, not a crash at the first tensor."""
    if not _NAME.match(str(name)):
        raise ConfigError(f"device: choose auto, cpu, cuda[:N] or mps, not {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available on this machine")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps': Apple's Metal backend is not available here")
    return name


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: choose one of {list(PRECISIONS)}, not {precision!r}")
    if precision != "fp32" and device == "cpu":
        raise ConfigError(f"precision {precision!r} needs a GPU device; the CPU trains in fp32")


def autocast(device: str, precision: str) -> AbstractContextManager[object]:
    """The forward pass's mixed-precision context (a no-op for fp32)."""
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)
