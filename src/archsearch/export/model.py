"""Weights and a module rebuilt from its genotype alone.

`save_model` stores the `state_dict` only (tensors in an ordered dict), so it loads with
`torch.load(path, weights_only=True)`, which unpickles no code. The network itself is
never pickled: `rebuild_model` builds it again from the genotype and the space (with the
same build options, e.g. `NB201Space(channels=16, cells_per_stage=5)`), then loads the
weights strictly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.export.files import ExportError, atomic_write
from archsearch.export.genotype import load_genotype
from archsearch.space.base import SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn


def save_model(module: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the module's weights and buffers (CPU tensors) atomically; returns the path."""
    import torch

    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A weights file written by `save_model`, read with `weights_only=True`."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ExportError(f"weights file {os.fspath(path)!r}: not found") from None
    except Exception as e:  # unpickling errors come in several types
        raise ExportError(f"weights file {os.fspath(path)!r}: cannot be read ({e})") from None
    if not isinstance(state, Mapping):
        raise ExportError(f"weights file {os.fspath(path)!r}: expected a state_dict")
    return dict(state)


def _genotype(arch: Architecture | str | os.PathLike[str]) -> Architecture:
    """An Architecture, its JSON text, or a genotype file."""
    if isinstance(arch, Architecture):
        return arch
    if isinstance(arch, str) and arch.lstrip().startswith("{"):
        return Architecture.from_json(arch)
    return load_genotype(arch)


def rebuild_model(
    space: SearchSpace | str,
    arch_json: Architecture | str | os.PathLike[str],
    task: TaskSpec,
    weights_path: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """Build the network of a genotype (an Architecture, JSON text or a genotype file)
    in `space` (an instance with its build options, or a registered name for the
    defaults) for `task`, load the weights if given, and return it in eval mode."""
    if isinstance(space, str):
        space = get_space(space)
    arch = _genotype(arch_json)
    space.validate(arch)
    module = space.build(arch, task)
    if weights_path is not None:
        state = load_weights(weights_path)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()
            detail = " ".join(line.strip() for line in first[:3])
            raise ExportError(
                f"weights {os.fspath(weights_path)!r} do not fit the network of this genotype "
                f"in {space.id} (were they saved with other build options or another task?): "
                f"{detail}"
            ) from None
    module.eval()
    return module


def count_parameters(module: nn.Module) -> int:
    """Trainable and frozen parameters (buffers such as BN running stats excluded)."""
    return sum(p.numel() for p in module.parameters())
