"""WHAT can be built: genotypes and search spaces (no torch import here)."""

from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.core.registry import import_submodules
from archsearch.space.base import SPACES, SearchSpace, get_space
from archsearch.space.chain import ChainSpace
from archsearch.space.darts import DartsSpace
from archsearch.space.hierarchical import FlatSpace, HierarchicalSpace
from archsearch.space.nb201 import NB201Space
from archsearch.space.recurrent import RecurrentSpace

import_submodules(__name__)  # registers every space in the package

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
