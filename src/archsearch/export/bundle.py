"""A self-contained model in a run folder, and `load_model` to get it back in one line.

    model.json  the space (registered name and build options), the task (input shape,
                classes), the input preprocessing and the genotype: all a rebuild needs
    model.pt    the weights of the network behind its preprocessing (`weights_only`)
    model.onnx  the same model for onnxruntime
    model.pt2   the same model as a torch.export program

Every exported model takes inputs as the data has them (uint8 pixels as 0-255 floats):
the normalisation the network was trained with is its first layer. `save_bundle` checks
each file against the model in memory and returns the differences it measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.export.files import ExportError, atomic_write_text
from archsearch.export.model import load_weights, save_model
from archsearch.space.base import SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

MODEL_CARD = "model.json"
FORMAT = 1


def save_bundle(
    folder: str | os.PathLike[str],
    space: SearchSpace,
    space_options: dict[str, Any],
    arch: Architecture,
    task: TaskSpec,
    net: nn.Module,
    preprocess: dict[str, Any] | None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the four files of a self-contained model into `folder`, check each against
    `net` behind its preprocessing, and return the file names and the differences."""
    import torch

    from archsearch.export.onnx_export import check_onnx, export_onnx
    from archsearch.export.pt2_export import check_pt2, export_pt2
    from archsearch.nn.preprocess import with_preprocessing

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    model = with_preprocessing(net, preprocess).cpu().eval()
    card = {
        "format": FORMAT,
        "space": space.name,
        "space_options": space_options,
        "task": {"input_shape": list(task.input_shape), "num_classes": task.num_classes},
        "preprocess": preprocess,
        "genotype": arch.to_dict(),
    }
    save_model(model, root / "model.pt")
    atomic_write_text(root / MODEL_CARD, json.dumps(card, indent=2) + "\n")
    generator = torch.Generator().manual_seed(seed)
    peak = 1.0 / preprocess["scale"] if preprocess else 1.0  # inputs on the data's scale
    example = torch.rand(2, *task.input_shape, generator=generator) * peak
    with torch.no_grad():
        reloaded = load_model(root)(example)
        load_diff = float((reloaded - model(example)).abs().max())
    if not load_diff <= 1e-6:
        raise ExportError(f"{root}: the reloaded model differs by {load_diff:.3g}")
    export_onnx(model, example, root / "model.onnx")
    export_pt2(model, example, root / "model.pt2")
    return {
        "model_card": str(root / MODEL_CARD),
        "weights_file": str(root / "model.pt"),
        "onnx_file": str(root / "model.onnx"),
        "pt2_file": str(root / "model.pt2"),
        "load_max_abs_diff": load_diff,
        "onnx_max_abs_diff": check_onnx(root / "model.onnx", model, example),
        "pt2_max_abs_diff": check_pt2(root / "model.pt2", model, example),
    }


def load_model(folder: str | os.PathLike[str]) -> nn.Module:
    """The trained model of a run folder, in eval mode, taking inputs as the data has
    them: `archsearch.load_model("runs/x")(images)` gives the logits."""
    from archsearch.nn.preprocess import with_preprocessing

    root = Path(folder)
    try:
        card = json.loads((root / MODEL_CARD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{root}: no {MODEL_CARD} (not a finished run folder)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"{root / MODEL_CARD}: cannot be read ({e})") from None
    if card.get("format") != FORMAT:
        raise ExportError(f"{root / MODEL_CARD}: format {card.get('format')!r}, expected {FORMAT}")
    space = get_space(card["space"], **card.get("space_options", {}))
    arch = Architecture.from_dict(card["genotype"])
    space.validate(arch)
    task = TaskSpec(tuple(card["task"]["input_shape"]), int(card["task"]["num_classes"]))
    model = with_preprocessing(space.build(arch, task), card.get("preprocess"))
    try:
        model.load_state_dict(load_weights(root / "model.pt"), strict=True)
    except RuntimeError as e:
        raise ExportError(f"{root / 'model.pt'} does not fit {MODEL_CARD}: {e}") from None
    return model.eval()
