"""ASHA: asynchronous successive halving (Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur,
Hardt, Recht & Talwalkar, "A System for Massively Parallel Hyperparameter Tuning",
MLSys 2020, Algorithm 2).

Whenever a worker frees up, promote a trial that is in the top 1/eta of the finished
trials of its rung and not yet promoted (looking from the top rung down); if there is
none, start a new architecture at the bottom rung. No rung ever waits for stragglers,
so every worker stays busy; the price is that a few trials are promoted that a
synchronous bracket would have stopped.
"""

from __future__ import annotations

import math

from archsearch.core.trial import Trial
from archsearch.schedulers.base import (
    SCHEDULERS,
    Decision,
    Promote,
    RungScheduler,
    Start,
    ranked,
)


@SCHEDULERS.register("asha")
class ASHA(RungScheduler):
    def __init__(
        self,
        min_resource: float = 1,
        max_resource: float = 27,
        eta: float = 3,
        resources: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(min_resource, max_resource, eta, resources)
        self.rungs: list[list[Trial]] = [[] for _ in self.resources]
        self._rung_of: dict[int, int] = {}
        self._promoted: set[int] = set()

    def next(self, can_start: bool) -> Decision | None:
        for k in range(len(self.rungs) - 2, -1, -1):
            done = ranked(self.rungs[k])  # the rung's COMPLETE trials, best first
            for t in done[: math.floor(len(done) / self.eta)]:
                if t.number not in self._promoted:
                    return Promote(t.number, self.resources[k + 1])
        return Start(self.resources[0]) if can_start else None

    def on_start(self, trial: Trial) -> None:
        k = 0 if trial.parent is None else self._rung_of[trial.parent] + 1
        if trial.parent is not None:
            self._promoted.add(trial.parent)
        self.rungs[k].append(trial)
        self._rung_of[trial.number] = k
