"""ONNX export with the TorchScript-based exporter, checked against onnxruntime.

torch >= 2.9 defaults to the `torch.export`-based exporter, which needs the separate
`onnxscript` package; the TorchScript exporter (`dynamo=False`) needs only `onnx`, handles
every op of the spaces here, and is what `export_onnx` uses by default. The exported
graph has a dynamic batch dimension: input "input" (N, C, H, W), output "logits".
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from archsearch.export.files import ExportError, atomic_write

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn

DEFAULT_OPSET = 17


def export_onnx(
    module: nn.Module,
    example_input: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    dynamo: bool = False,
) -> Path:
    """Export `module` in eval mode (its mode is restored afterwards) by tracing it on
    `example_input`; the file is written atomically. Returns the path."""
    import torch

    try:
        import onnx  # noqa: F401  (the exporter needs it; say so plainly if absent)
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package: pip install onnx") from None

    def write(tmp: Path) -> None:
        axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
        with warnings.catch_warnings():
            # The TorchScript exporter announces its deprecation on every call.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            # A notice, not a problem: strided slices (factorized reduce) stay unfolded.
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
            torch.onnx.export(
                module,
                (example_input,),
                str(tmp),
                input_names=["input"],
                output_names=["logits"],
                opset_version=opset,
                dynamic_axes=axes,
                dynamo=dynamo,
            )

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return atomic_write(path, write)
    finally:
        module.train(was_training)


def check_onnx(
    path: str | os.PathLike[str],
    module: nn.Module,
    example_input: torch.Tensor,
    atol: float = 1e-4,
) -> float:
    """Run the ONNX file with onnxruntime on `example_input` and compare with the module
    in eval mode. Returns the largest absolute difference; raises `ExportError` when it
    exceeds `atol` or the shapes differ."""
    import numpy as np
    import torch

    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise ExportError(
            "checking ONNX needs 'onnx' and 'onnxruntime': pip install onnxruntime"
        ) from None

    try:
        onnx.checker.check_model(os.fspath(path))
    except Exception as e:  # onnx raises its own ValidationError types
        raise ExportError(f"ONNX file {os.fspath(path)!r} is not a valid model: {e}") from None
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: example_input.detach().cpu().numpy()}
    got = np.asarray(session.run(None, feed)[0])

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            want = module(example_input).detach().cpu().numpy()
    finally:
        module.train(was_training)
    if got.shape != want.shape:
        raise ExportError(
            f"ONNX output shape {got.shape} differs from PyTorch's {want.shape} "
            f"({os.fspath(path)!r})"
        )
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0))
    if not diff <= atol:  # also catches NaN
        raise ExportError(
            f"ONNX output differs from PyTorch by up to {diff:.3g} > atol {atol:g} "
            f"({os.fspath(path)!r}; onnxruntime {ort.__version__})"
        )
    return diff
