"""Export: genotype JSON, weights, a module rebuilt from the genotype alone, and ONNX
checked against onnxruntime.

Nothing here imports torch until a function that needs it is called. Every file is
written atomically (a temporary file in the same folder, then `os.replace`), so a crash
never leaves a half-written export behind.
"""

from archsearch.export.files import ExportError, atomic_write_bytes, atomic_write_text
from archsearch.export.genotype import load_genotype, save_genotype
from archsearch.export.model import count_parameters, load_weights, rebuild_model, save_model
from archsearch.export.onnx_export import check_onnx, export_onnx

__all__ = [
    "ExportError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_onnx",
    "count_parameters",
    "export_onnx",
    "load_genotype",
    "load_weights",
    "rebuild_model",
    "save_genotype",
    "save_model",
]
