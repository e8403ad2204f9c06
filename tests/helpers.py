"""Test helpers: the path to the project's shared data, a complete result, and the
synthetic objective of `archsearch.testing`."""

from __future__ import annotations

import os
from pathlib import Path

from archsearch.core.trial import Result, TrialState
from archsearch.testing import synthetic_score

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The project's shared data folder (beside the repository), or ARCHSEARCH_SHARED."""
    return Path(os.environ.get("ARCHSEARCH_SHARED", REPO_ROOT.parent / "shared"))


def complete(score: float) -> Result:
    return Result(TrialState.COMPLETE, {"val_acc": score}, 1.0, score=score)


__all__ = ["REPO_ROOT", "complete", "shared_dir", "synthetic_score"]
