"""The evaluator contract: HOW GOOD an architecture is, never which one to try."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from archsearch.registry import Registry
from archsearch.space.base import Architecture, SearchSpace
from archsearch.trial import Result


class Pruned(Exception):
    """Raised by `Reporter.report` when the scheduler stops a trial early."""


class Reporter:
    """Receives intermediate results; the base one never stops a trial."""

    def report(self, step: int, metrics: dict[str, float]) -> None:
        """Called once per step (e.g. epoch); may raise `Pruned`."""


@dataclass(frozen=True)
class TrialContext:
    """What an evaluator is told about the trial it runs."""

    number: int
    seed: int  # derived from the study seed and the trial number: a re-run is identical
    reporter: Reporter
    resource: float | None = None  # e.g. epochs, where a scheduler sets it


class Evaluator(ABC):
    """Scores one architecture. Returns a `Result`; a failure is a FAILED result (the study
    also catches exceptions and records them as FAILED)."""

    #: the metric a study optimises by default, and its direction
    metric: ClassVar[str] = "val_acc"
    mode: ClassVar[str] = "max"

    @abstractmethod
    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result: ...

    def supports(self, space: SearchSpace) -> bool:
        """Whether this evaluator can score architectures of `space`."""
        return True

    def describe(self) -> dict[str, Any]:
        """The settings that define this evaluator (stored with the study config)."""
        return {}


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")
