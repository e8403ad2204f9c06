"""The executor contract, checked: every submitted job comes back once, with its own
trial and result, and `wait()` with nothing pending returns []."""

from __future__ import annotations

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, Trial
from archsearch.execution.base import Executor


class _Job:
    """A picklable job (executors may run it in another process)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self) -> Result:
        return Result.complete({"val_acc": self.value}, cost=1.0)


def check_executor(executor: Executor, jobs: int = 4) -> None:
    try:
        arch = Architecture("test@1", (("a", 1),))
        assert executor.wait() == [], "wait() with nothing pending must return []"
        submitted, results = 0, dict[int, float]()
        while len(results) < jobs:
            while submitted < jobs and executor.free_slots() > 0:
                executor.submit(Trial(submitted, arch, seed=submitted), _Job(float(submitted)))
                submitted += 1
            for finished in executor.wait():
                assert not finished.lost, f"trial {finished.trial.number} was lost"
                assert finished.trial.number not in results, "a job came back twice"
                results[finished.trial.number] = finished.result.metrics["val_acc"]
        assert results == {n: float(n) for n in range(jobs)}, "results went to other trials"
        assert executor.pending() == 0
    finally:
        executor.shutdown()
