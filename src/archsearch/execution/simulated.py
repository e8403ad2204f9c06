"""Simulated execution for tabular benchmarks: a virtual clock advanced by each result's
reported cost, with any number of simulated workers (as Syne Tune's simulator backend)."""

from __future__ import annotations

import heapq

from archsearch.core.errors import ConfigError
from archsearch.core.trial import Result, Trial
from archsearch.execution.base import EXECUTORS, Executor, Finished, Job


@EXECUTORS.register("simulated")
class SimulatedExecutor(Executor):
    """Each job runs at once in the driver, but "finishes" at clock + its cost; `wait()`
    returns the job that finishes first and moves the clock there. With one worker the
    clock is the sum of the costs, the NAS-Bench-201 protocol's simulated time."""

    def __init__(self, n_workers: int = 1) -> None:
        if n_workers < 1:
            raise ConfigError(f"n_workers must be >= 1, got {n_workers}")
        self.n_workers = n_workers
        self.clock = 0.0
        self._running: list[tuple[float, int, Trial, Result]] = []
        self._seq = 0  # breaks ties in finish time by submission order

    def free_slots(self) -> int:
        return self.n_workers - len(self._running)

    def submit(self, trial: Trial, job: Job) -> None:
        result = job()
        self._seq += 1
        heapq.heappush(self._running, (self.clock + result.cost, self._seq, trial, result))

    def wait(self) -> list[Finished]:
        if not self._running:
            return []
        finish, _, trial, result = heapq.heappop(self._running)
        self.clock = max(self.clock, finish)
        return [Finished(trial, result, self.clock)]

    def pending(self) -> int:
        return len(self._running)
