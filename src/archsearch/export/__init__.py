"""Export: genotype JSON, weights, a module rebuilt from the genotype alone, ONNX checked
against onnxruntime, torch.export programs, and the self-contained model of a run folder
(`save_bundle`, `load_model`).

Nothing here imports torch until a function that needs it is called. Every file is
written atomically (a temporary file in the same folder, then `os.replace`), so a crash
never leaves a half-written export behind.
"""

from archsearch.export.bundle import load_model, save_bundle
from archsearch.export.files import ExportError, atomic_write_bytes, atomic_write_text
from archsearch.export.genotype import load_genotype, save_genotype
from archsearch.export.model import count_parameters, load_weights, rebuild_model, save_model
from archsearch.export.onnx_export import check_onnx, export_onnx
from archsearch.export.pt2_export import check_pt2, export_pt2

__all__ = [
    "ExportError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_onnx",
    "check_pt2",
    "count_parameters",
    "export_onnx",
    "export_pt2",
    "load_genotype",
    "load_model",
    "load_weights",
    "rebuild_model",
    "save_bundle",
    "save_genotype",
    "save_model",
]
