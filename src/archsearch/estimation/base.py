"""The evaluator contract: HOW GOOD an architecture is, never which one to try."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture
from archsearch.core.registry import Registry
from archsearch.core.trial import Reporter, Result
from archsearch.space.base import SearchSpace, get_space


def resolve_space(
    given: SearchSpace | None, cache: dict[str, SearchSpace], arch: Architecture
) -> SearchSpace:
    """The space that builds `arch` for an evaluator: the one it was given (which must be
    `arch`'s), else the registered space `arch` names, made once and kept in `cache`."""
    if given is not None:
        if arch.space != given.id:
            raise GenotypeError(f"evaluator trains {given.id} networks, not {arch.space!r}")
        return given
    if arch.space not in cache:
        cache[arch.space] = get_space(arch.space)
    return cache[arch.space]


@dataclass(frozen=True)
class TrialContext:
    """What an evaluator is told about the trial it runs.

    Under a multi-fidelity scheduler (successive halving, Hyperband, ASHA, BOHB),
    `resource` is the fidelity to reach (epochs, or an NB201 table's epochs), `horizon`
    the largest resource any trial may reach (a learning-rate schedule spans it, so a
    trial continued rung by rung trains exactly as one run straight through), and a
    promoted trial names its `parent`: the trial whose checkpoint it continues from,
    at `parent_resource`. Evaluators that checkpoint write `checkpoint_path()` and read
    `checkpoint_path(parent)`.
    """

    number: int
    seed: int  # derived from the study seed and the trial number: a re-run is identical
    reporter: Reporter
    resource: float | None = None  # e.g. epochs, where a scheduler sets it
    horizon: float | None = None
    parent: int | None = None
    parent_resource: float | None = None
    checkpoint_dir: str | None = None

    def checkpoint_path(self, number: int | None = None) -> Path | None:
        """Where trial `number` (default: this one) keeps its checkpoint, if the study
        gave a checkpoint folder."""
        if self.checkpoint_dir is None:
            return None
        return Path(self.checkpoint_dir) / f"trial-{self.number if number is None else number}.pt"


class Evaluator(ABC):
    """Scores one architecture. Returns a `Result`; a failure is a FAILED result (the study
    also catches exceptions and records them as FAILED)."""

    #: the metric a study optimises by default, and its direction
    metric: ClassVar[str] = "val_acc"
    mode: ClassVar[str] = "max"
    #: the only resources it can evaluate at, where it has a fixed set (a table's epochs)
    fidelities: ClassVar[tuple[float, ...] | None] = None

    @abstractmethod
    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result: ...

    def supports(self, space: SearchSpace) -> bool:
        """Whether this evaluator can score architectures of `space`."""
        return True

    def describe(self) -> dict[str, Any]:
        """The settings that define this evaluator (stored with the study config)."""
        return {}


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")
