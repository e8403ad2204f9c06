"""In-memory storage: for tests and for table-speed benchmarks that need no resume."""

from __future__ import annotations

import copy
from typing import Any

from archsearch.core.trial import Trial
from archsearch.storage.base import STORAGES, Storage


@STORAGES.register("memory")
class InMemoryStorage(Storage):
    def __init__(self) -> None:
        self._meta: dict[str, Any] = {}
        self._trials: list[Trial] = []

    def get_meta(self, key: str) -> Any | None:
        return copy.deepcopy(self._meta.get(key))

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = copy.deepcopy(value)

    def add_trial(self, trial: Trial) -> None:
        if trial.number != len(self._trials):
            raise ValueError(f"trial {trial.number} added out of order")
        self._trials.append(copy.copy(trial))

    def finish_trial(self, trial: Trial) -> None:
        self._trials[trial.number] = copy.copy(trial)

    def requeue_trial(self, trial: Trial) -> None:
        self._trials[trial.number] = copy.copy(trial)

    def trials(self) -> list[Trial]:
        return [copy.copy(t) for t in self._trials]
