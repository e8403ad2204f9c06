"""One-shot NAS with weight sharing on the NAS-Bench-201 cell space: a supernet with a
mixed op on every edge (weighted sum, single sampled path, or partial channels), and
DARTS, DARTS- and DARTS-PT (collapse remedies), DrNAS, SNAS, GDAS, ENAS and random one-shot
(RSPS/SPOS) as `OneShotMethod`s, run by `search()`.

The names below load lazily (PEP 562), so `archsearch.cli.oneshot` (the CLI entry)
can be imported without importing torch; using any of them imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "METHODS": "archsearch.oneshot.base",
    "OneShotMethod": "archsearch.oneshot.base",
    "argmax_cell": "archsearch.oneshot.base",
    "op_shares": "archsearch.oneshot.base",
    "SupernetEvaluator": "archsearch.oneshot.evaluator",
    "OneShotResult": "archsearch.oneshot.driver",
    "SearchData": "archsearch.oneshot.driver",
    "prepare_data": "archsearch.oneshot.driver",
    "search": "archsearch.oneshot.driver",
    "MixedOp": "archsearch.oneshot.supernet",
    "NB201Supernet": "archsearch.oneshot.supernet",
    "PathSpec": "archsearch.oneshot.supernet",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'archsearch.oneshot' has no attribute {name!r}")
    if name == "METHODS":
        importlib.import_module("archsearch.oneshot.driver")  # registers every method
    return getattr(importlib.import_module(_EXPORTS[name]), name)
