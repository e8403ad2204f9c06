"""The export error; atomic writes live in `archsearch.atomic` (re-exported here)."""

from __future__ import annotations

from archsearch.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text
from archsearch.errors import ArchsearchError

__all__ = [
    "ExportError",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
]


class ExportError(ArchsearchError):
    """An export that cannot be written, read back or trusted (e.g. ONNX disagrees)."""
