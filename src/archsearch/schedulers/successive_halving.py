"""Synchronous successive halving (Jamieson & Talwalkar, "Non-stochastic Best Arm
Identification and Hyperparameter Optimization", AISTATS 2016; as used inside
Hyperband, Li et al., JMLR 2018).

A bracket starts `n` architectures at the lowest rung's resource; when every trial of a
rung has finished, the best 1/eta of them (by score) are promoted to the next rung,
continuing from their checkpoints, until the top rung. Promotion waits for the whole
rung (that is what makes it synchronous; ASHA removes the wait). Brackets run one after
another, for as long as the budget lasts.
"""

from __future__ import annotations

import math
from typing import Literal

from archsearch.core.errors import ConfigError
from archsearch.core.trial import Trial
from archsearch.schedulers.base import (
    SCHEDULERS,
    Decision,
    Promote,
    RungScheduler,
    Start,
    ranked,
)


class Bracket:
    """One successive-halving bracket over `resources` (lowest first), `n` at the bottom."""

    def __init__(self, n: int, resources: tuple[float, ...], eta: float) -> None:
        self.resources = resources
        self.eta = eta
        self.sizes = [max(1, math.floor(n / eta**k)) for k in range(len(resources))]
        self.rungs: list[list[Trial]] = [[] for _ in resources]

    def rung_of(self, trial: Trial) -> int | None:
        for k, rung in enumerate(self.rungs):
            if any(t.number == trial.number for t in rung):
                return k
        return None

    def accepts_new(self) -> bool:
        return len(self.rungs[0]) < self.sizes[0]

    def close_bottom(self) -> None:
        """No new architecture will come (the budget is spent): the bottom rung holds
        what it has, and the rungs above shrink in proportion."""
        n = len(self.rungs[0])
        if n < self.sizes[0]:
            self.sizes = [n] + [
                max(1, math.floor(n / self.eta**k)) for k in range(1, len(self.sizes))
            ]

    def next(self, can_start: bool) -> Decision | Literal["done"] | None:
        """The bracket's next decision; None to wait; "done" when it is done."""
        if self.accepts_new():
            if can_start:
                return Start(self.resources[0])
            self.close_bottom()
            if not self.rungs[0]:
                return "done"
        for k in range(1, len(self.rungs)):
            if len(self.rungs[k]) >= self.sizes[k]:
                continue
            below = self.rungs[k - 1]
            if any(not t.state.finished for t in below):
                return None  # synchronous: the whole rung below must finish first
            promoted = {t.parent for t in self.rungs[k]}
            survivors = [t for t in ranked(below)[: self.sizes[k]] if t.number not in promoted]
            if not survivors:  # failures left fewer survivors than places
                self.sizes[k] = len(self.rungs[k])
                if not self.rungs[k]:
                    return "done"
                continue
            return Promote(survivors[0].number, self.resources[k])
        if any(not t.state.finished for rung in self.rungs for t in rung):
            return None
        return "done"

    def add(self, trial: Trial) -> None:
        if trial.parent is None:
            self.rungs[0].append(trial)
            return
        for k, rung in enumerate(self.rungs[:-1]):
            if any(t.number == trial.parent for t in rung):
                self.rungs[k + 1].append(trial)
                return
        raise ConfigError(f"trial {trial.number}: parent {trial.parent} is not in this bracket")


class BracketScheduler(RungScheduler):
    """Runs brackets one after another; subclasses say how big each bracket is."""

    def __init__(
        self,
        min_resource: float = 1,
        max_resource: float = 27,
        eta: float = 3,
        resources: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(min_resource, max_resource, eta, resources)
        self.brackets: list[Bracket] = []
        self._done = 0  # brackets before this index are finished
        self._by_number: dict[int, Bracket] = {}

    def make_bracket(self, index: int) -> Bracket:
        raise NotImplementedError

    def _current(self) -> Bracket:
        if len(self.brackets) == self._done:
            self.brackets.append(self.make_bracket(len(self.brackets)))
        return self.brackets[self._done]

    def next(self, can_start: bool) -> Decision | None:
        while True:
            bracket = self._current()
            decision = bracket.next(can_start)
            if decision == "done":
                if not can_start and not bracket.rungs[0]:
                    return None  # nothing started in it and nothing may start
                self._done += 1
                continue
            return None if isinstance(decision, str) else decision

    def on_start(self, trial: Trial) -> None:
        if trial.parent is not None:
            bracket = self._by_number[trial.parent]
        else:
            bracket = self._current()
            while not bracket.accepts_new():  # replay: the live run had moved on by now
                self._done += 1
                bracket = self._current()
        bracket.add(trial)
        self._by_number[trial.number] = bracket


@SCHEDULERS.register("sh")
class SuccessiveHalving(BracketScheduler):
    """Synchronous successive halving with `n` architectures per bracket at the lowest
    rung (default eta^(rungs-1), so one reaches the top)."""

    def __init__(
        self,
        min_resource: float = 1,
        max_resource: float = 27,
        eta: float = 3,
        resources: tuple[float, ...] | None = None,
        n: int | None = None,
    ) -> None:
        super().__init__(min_resource, max_resource, eta, resources)
        if n is not None and n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        self.n = n if n is not None else math.ceil(self.eta ** (len(self.resources) - 1))

    def make_bracket(self, index: int) -> Bracket:
        return Bracket(self.n, self.resources, self.eta)
