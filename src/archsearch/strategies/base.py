"""The strategy contract: WHICH architecture to try next. Pure ask/tell, seeded; a
strategy never trains and never reads a benchmark."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.registry import Registry
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace


class Strategy(ABC):
    """Proposes architectures (`ask`) and learns from their results (`tell`).

    Contract:
    * all randomness comes from `self.rng`, seeded by the study: the same seed and the
      same sequence of tells give the same proposals;
    * `ask()` may return None ("nothing to propose now"), and then changes no state;
    * `tell()` receives every asked architecture's result once, COMPLETE, PRUNED or
      FAILED; strategies maximise `result.score` (the study makes "higher is better");
      under a multi-fidelity scheduler the trial's resource is in `result.metrics
      ["resource"]`, and a strategy with `multi_fidelity = True` is also told the results
      of the scheduler's promotions (the same architecture at a higher resource);
    * `state_dict()` is JSON-serialisable and `load_state_dict()` restores it exactly;
    * `pending` maps trial numbers to the architectures asked but not yet told (the study
      keeps it current), so a strategy with parallel workers need not propose them again.
    """

    #: whether `tell` also receives promoted trials (see above)
    multi_fidelity: bool = False

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.pending: dict[int, Architecture] = {}

    @abstractmethod
    def ask(self) -> Architecture | None: ...

    @abstractmethod
    def tell(self, arch: Architecture, result: Result) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def require_minimums(options: Iterable[tuple[str, Any, int]]) -> None:
    """Check (name, value, least allowed) options; the error names the first one short."""
    for name, value, low in options:
        if int(value) < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
