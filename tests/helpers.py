"""Test helpers: a synthetic objective and the path to the project's shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from archsearch.space.base import Architecture, SearchSpace
from archsearch.trial import Result, TrialState

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The project's shared data folder (beside the repository), or ARCHSEARCH_SHARED."""
    return Path(os.environ.get("ARCHSEARCH_SHARED", REPO_ROOT.parent / "shared"))


def synthetic_score(space: SearchSpace, arch: Architecture) -> float:
    """A fixed, deterministic, non-trivial objective over any space's encoding."""
    x = space.encode(arch)
    w = np.random.default_rng(1234).normal(size=x.shape[0])
    return float(x @ w)


def complete(score: float) -> Result:
    return Result(TrialState.COMPLETE, {"val_acc": score}, 1.0, score=score)
