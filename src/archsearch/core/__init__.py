"""The values every layer shares, and nothing else of archsearch: genotypes, trials and
results, budgets, errors, registries and atomic writes. No torch."""

from archsearch.core.errors import (
    ArchsearchError,
    ConfigError,
    DeterminismError,
    GenotypeError,
    StudyError,
    UnknownNameError,
)
from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.core.registry import Registry
from archsearch.core.trial import Budget, Result, Trial, TrialState

__all__ = [
    "Architecture",
    "ArchsearchError",
    "Budget",
    "ConfigError",
    "Decision",
    "DeterminismError",
    "GenotypeError",
    "Registry",
    "Result",
    "StudyError",
    "TaskSpec",
    "Trial",
    "TrialState",
    "UnknownNameError",
]
