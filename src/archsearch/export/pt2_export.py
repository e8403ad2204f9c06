"""torch.export (`.pt2`) export, checked against the module it came from. A `.pt2` file
holds the graph and the weights; `torch.export.load(path).module()` runs it without
archsearch (or the network's Python code)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archsearch.export.files import ExportError, atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn


def export_pt2(
    module: nn.Module, example_input: torch.Tensor, path: str | os.PathLike[str]
) -> Path:
    """Export `module` in eval mode on `example_input` with a dynamic batch dimension;
    the file is written atomically. Returns the path."""
    import torch

    was_training = module.training
    module.eval()
    try:
        batch = torch.export.Dim("batch", min=1, max=1 << 16)
        program = torch.export.export(module, (example_input,), dynamic_shapes=({0: batch},))
    except Exception as e:  # torch.export raises several kinds of its own
        raise ExportError(f"torch.export cannot export this network: {e}") from None
    finally:
        module.train(was_training)
    buffer = io.BytesIO()  # torch.export.save wants a .pt2 name or a buffer
    torch.export.save(program, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def check_pt2(
    path: str | os.PathLike[str],
    module: nn.Module,
    example_input: torch.Tensor,
    atol: float = 1e-4,
) -> float:
    """The largest absolute difference between the `.pt2` program's outputs and
    `module`'s (eval mode) on `example_input`; `ExportError` above `atol`."""
    import torch

    program = torch.export.load(os.fspath(path)).module()
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            got, want = program(example_input), module(example_input)
    finally:
        module.train(was_training)
    diff = float((got - want).abs().max()) if got.numel() else 0.0
    if got.shape != want.shape or not diff <= atol:
        raise ExportError(
            f"torch.export program {os.fspath(path)!r} differs from PyTorch by {diff:.3g} "
            f"(atol {atol:g})"
        )
    return diff
