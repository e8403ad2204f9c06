"""Inline execution: one trial at a time in the driver process, clock = wall seconds."""

from __future__ import annotations

import time

from archsearch.core.trial import Trial
from archsearch.execution.base import EXECUTORS, Executor, Finished, Job


@EXECUTORS.register("inline")
class InlineExecutor(Executor):
    """Runs each job in the calling process. The clock advances by each job's measured
    wall time (the driver's own bookkeeping between trials is not counted)."""

    def __init__(self) -> None:
        self.clock = 0.0
        self._queue: list[tuple[Trial, Job]] = []

    def free_slots(self) -> int:
        return 1 - len(self._queue)

    def submit(self, trial: Trial, job: Job) -> None:
        self._queue.append((trial, job))

    def wait(self) -> list[Finished]:
        if not self._queue:
            return []
        trial, job = self._queue.pop()
        start = time.perf_counter()
        result = job()
        self.clock += time.perf_counter() - start
        return [Finished(trial, result, self.clock)]

    def pending(self) -> int:
        return len(self._queue)
