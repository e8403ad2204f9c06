"""The values that pass between strategy, evaluator, executor and storage."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture


class TrialState(str, Enum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"  # stopped early by a scheduler
    FAILED = "FAILED"  # raised, diverged, ran out of memory, ...
    REJECTED = "REJECTED"  # refused by a constraint before it ran: costs no budget

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True)
class Result:
    """What an evaluation produced.

    `metrics` holds named numbers (`val_acc`, `test_acc`, `params`, `latency_ms`, ...);
    `cost` is what the evaluation took, in wall seconds for real training or simulated
    seconds for a tabular benchmark; `score` is the study's objective made "higher is
    better" (the study fills it in), so every strategy maximises the same number.
    """

    state: TrialState
    metrics: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    error: str | None = None
    score: float | None = None

    @classmethod
    def complete(cls, metrics: dict[str, float], cost: float = 0.0) -> Result:
        return cls(TrialState.COMPLETE, dict(metrics), cost)

    @classmethod
    def failed(cls, error: str, cost: float = 0.0) -> Result:
        return cls(TrialState.FAILED, {}, cost, error=error)

    def with_score(self, score: float | None) -> Result:
        return Result(self.state, self.metrics, self.cost, self.error, score)


@dataclass
class Trial:
    """One evaluation of one architecture, as the storage keeps it."""

    number: int  # 0, 1, 2, ... in the order the strategy proposed them
    arch: Architecture
    seed: int
    state: TrialState = TrialState.RUNNING
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    cost: float = 0.0
    error: str | None = None
    clock_start: float = 0.0  # study clock (wall or simulated seconds) when it started
    clock_end: float | None = None
    ask_seq: int = 0  # position of its ask and tell in the study's event order (resume replays it)
    tell_seq: int | None = None
    started_at: float = 0.0  # Unix time
    finished_at: float | None = None
    resource: float | None = None  # e.g. epochs, where a multi-fidelity scheduler set it
    parent: int | None = None  # the trial this one continues (a scheduler's promotion)

    @property
    def promoted(self) -> bool:
        """A scheduler's promotion of an earlier trial (not a strategy's proposal)."""
        return self.parent is not None

    def result(self) -> Result:
        return Result(self.state, self.metrics, self.cost, self.error, self.score)


_TIME_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_BUDGET_PATTERN = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*([a-z]*)\s*$", re.I)


@dataclass(frozen=True)
class Budget:
    """How much a search may spend: trials, seconds (wall or simulated), or both."""

    trials: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.trials is None and self.seconds is None:
            raise ConfigError("budget: give a number of trials or seconds")
        if self.trials is not None and self.trials <= 0:
            raise ConfigError(f"budget: the number of trials must be > 0, got {self.trials}")
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ConfigError(f"budget: the time must be > 0, got {self.seconds}")

    @classmethod
    def parse(cls, text: str | int | float) -> Budget:
        """'200trials', '12000s', '30m', '2h' (a bare number means seconds)."""
        if isinstance(text, (int, float)):
            return cls(seconds=float(text))
        m = _BUDGET_PATTERN.match(str(text))
        if not m:
            raise ConfigError(
                f"budget: cannot read {text!r}; write e.g. '200trials', '12000s', '30m' or '2h'"
            )
        value, unit = float(m.group(1)), m.group(2).lower()
        if unit in ("trials", "trial", "t"):
            if value != int(value):
                raise ConfigError(f"budget: a number of trials must be whole, got {text!r}")
            return cls(trials=int(value))
        if unit == "":
            unit = "s"
        if unit not in _TIME_UNITS:
            raise ConfigError(f"budget: unknown unit {unit!r} in {text!r}; use trials, s, m or h")
        return cls(seconds=value * _TIME_UNITS[unit])

    def __str__(self) -> str:
        parts = []
        if self.trials is not None:
            parts.append(f"{self.trials}trials")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g}s")
        return "+".join(parts)

    def exhausted(self, n_started: int, clock: float) -> bool:
        """True when no new trial may start."""
        if self.trials is not None and n_started >= self.trials:
            return True
        return self.seconds is not None and clock >= self.seconds


class Pruned(Exception):
    """Raised by `Reporter.report` when the scheduler stops a trial early."""


class Reporter:
    """Receives intermediate results; the base one never stops a trial."""

    def report(self, step: int, metrics: dict[str, float]) -> None:
        """Called once per step (e.g. epoch); may raise `Pruned`."""
