"""WHAT can be built: genotypes and search spaces (no torch import here)."""

from archsearch.space.base import (
    SPACES,
    Architecture,
    Decision,
    SearchSpace,
    TaskSpec,
    get_space,
)
from archsearch.space.chain import ChainSpace
from archsearch.space.darts import DartsSpace
from archsearch.space.hierarchical import FlatSpace, HierarchicalSpace
from archsearch.space.nb201 import NB201Space
from archsearch.space.recurrent import RecurrentSpace

__all__ = [
    "SPACES",
    "Architecture",
    "ChainSpace",
    "DartsSpace",
    "Decision",
    "FlatSpace",
    "HierarchicalSpace",
    "NB201Space",
    "RecurrentSpace",
    "SearchSpace",
    "TaskSpec",
    "get_space",
]
