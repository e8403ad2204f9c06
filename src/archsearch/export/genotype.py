"""Genotype files: an `Architecture` as JSON ({"space": "nb201@1", "choices": {...}})."""

from __future__ import annotations

import json
import os
from pathlib import Path

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture
from archsearch.export.files import ExportError, atomic_write_text


def save_genotype(arch: Architecture, path: str | os.PathLike[str]) -> Path:
    """Write the genotype as indented JSON (atomically); returns the path."""
    if not isinstance(arch, Architecture):
        raise ExportError(f"save_genotype: expected an Architecture, got {type(arch).__name__}")
    return atomic_write_text(path, json.dumps(arch.to_dict(), indent=2) + "\n")


def load_genotype(path: str | os.PathLike[str]) -> Architecture:
    """Read a genotype JSON file; a missing or malformed file is a clear error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ExportError(f"genotype file {os.fspath(path)!r}: {e.strerror or e}") from None
    try:
        return Architecture.from_json(text)
    except GenotypeError as e:
        raise GenotypeError(f"genotype file {os.fspath(path)!r}: {e}") from None
