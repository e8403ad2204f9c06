"""The export error; atomic writes live in `archsearch.core.atomic` (re-exported here)."""

from __future__ import annotations

from archsearch.core.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text
from archsearch.core.errors import ArchsearchError

__all__ = [
    "ExportError",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
]


class ExportError(ArchsearchError):
    """An export that cannot be written, read back or trusted (e.g. ONNX disagrees)."""
