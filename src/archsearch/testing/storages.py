"""The storage contract, checked: meta values and trials come back as written, a
finished trial replaces its RUNNING record, and trials come back by number."""

from __future__ import annotations

from collections.abc import Callable

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Trial, TrialState
from archsearch.storage.base import Storage


def check_storage(make: Callable[[], Storage]) -> None:
    arch = Architecture("test@1", (("a", 1), ("b", (2, "x"))))
    with make() as storage:
        assert storage.get_meta("config") is None
        storage.set_meta("config", {"seed": 3, "options": [1, 2]})
        assert storage.get_meta("config") == {"seed": 3, "options": [1, 2]}
        for number in (0, 1):
            storage.add_trial(Trial(number, arch, seed=10 + number, ask_seq=number))
        assert [t.number for t in storage.trials()] == [0, 1]
        assert all(t.state is TrialState.RUNNING for t in storage.trials())
        done = Trial(0, arch, seed=10, state=TrialState.COMPLETE, metrics={"val_acc": 1.5})
        done.score, done.tell_seq, done.clock_end = 1.5, 2, 4.0
        storage.finish_trial(done)
        stored = storage.trials()[0]
        assert stored.state is TrialState.COMPLETE and stored.metrics == {"val_acc": 1.5}
        assert stored.arch == arch and stored.score == 1.5 and stored.seed == 10
        assert storage.trials()[1].state is TrialState.RUNNING
