"""The storage contract: WHAT HAPPENED. The single source of truth of a study."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from archsearch.core.registry import Registry
from archsearch.core.trial import Trial


class Storage(ABC):
    """Keeps a study's config and trials. Only the driver process writes it.

    A trial is written when it starts (RUNNING) and again, in one atomic step, when it
    finishes; a crash at any moment therefore loses no finished trial.
    """

    @abstractmethod
    def get_meta(self, key: str) -> Any | None:
        """A stored JSON value (e.g. "config"), or None."""

    @abstractmethod
    def set_meta(self, key: str, value: Any) -> None: ...

    @abstractmethod
    def add_trial(self, trial: Trial) -> None:
        """Record a trial that starts (state RUNNING)."""

    @abstractmethod
    def finish_trial(self, trial: Trial) -> None:
        """Record a trial's outcome (state COMPLETE, PRUNED or FAILED)."""

    @abstractmethod
    def requeue_trial(self, trial: Trial) -> None:
        """Record that a trial left RUNNING by a crash starts again."""

    @abstractmethod
    def trials(self) -> list[Trial]:
        """All trials, by number."""

    def close(self) -> None:
        """Release the storage (files, connections)."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


STORAGES: Registry[type[Storage]] = Registry("storage")
