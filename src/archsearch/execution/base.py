"""The executor contract: WHERE trials run, and the study's clock."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from archsearch.core.registry import Registry
from archsearch.core.trial import Result, Trial

Job = Callable[[], Result]


@dataclass(frozen=True)
class Finished:
    """A job's outcome. `lost` means its worker died (killed, crashed) before it could
    report: the study retries the trial or, past its retry limit, records it FAILED."""

    trial: Trial
    result: Result
    clock_end: float
    lost: bool = False


class Executor(ABC):
    """Runs trial jobs and keeps the study clock (wall or simulated seconds).

    The study submits while `free_slots()` is positive and collects with `wait()`, so
    the same loop drives one inline worker, a process pool or a simulated cluster.
    """

    clock: float = 0.0

    @abstractmethod
    def free_slots(self) -> int: ...

    @abstractmethod
    def submit(self, trial: Trial, job: Job) -> None:
        """Start `job` for `trial` at the current clock."""

    @abstractmethod
    def wait(self) -> list[Finished]:
        """Block until at least one submitted job finishes; [] if none is pending."""

    @abstractmethod
    def pending(self) -> int: ...

    def shutdown(self) -> None:
        """Stop workers; pending jobs are abandoned (they stay RUNNING in storage)."""


EXECUTORS: Registry[type[Executor]] = Registry("executor")
