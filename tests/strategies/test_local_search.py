"""Local search (White et al. 2021): climbs to optima, restarts, never repeats, resumes."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture, Decision
from archsearch.core.trial import Result
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.base import SearchSpace
from archsearch.space.nb201 import NB201Space
from archsearch.strategies.local_search import LocalSearch
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study


class GridSpace(SearchSpace):
    """A small unregistered space: `n` decisions of `k` integer options."""

    name = "ls-grid"

    def __init__(self, n: int = 4, k: int = 4) -> None:
        self._decisions = tuple(Decision(f"d{i}", tuple(range(k))) for i in range(n))

    def decisions(self) -> Sequence[Decision]:
        return self._decisions


def matches(target: Sequence[object]):
    """A unimodal objective: how many decisions agree with `target`."""
    return lambda arch: float(sum(v == t for v, t in zip(arch.values, target, strict=True)))


def run(strategy, objective, n: int) -> list[Architecture]:
    """Ask and tell one at a time, n times (or until the strategy has nothing)."""
    asked = []
    for _ in range(n):
        arch = strategy.ask()
        if arch is None:
            break
        asked.append(arch)
        strategy.tell(arch, Result.complete({}).with_score(objective(arch)))
    return asked


def test_climbs_to_the_global_optimum_of_a_unimodal_objective():
    space = NB201Space()
    target = (
        "nor_conv_3x3",
        "nor_conv_3x3",
        "skip_connect",
        "nor_conv_1x1",
        "none",
        "avg_pool_3x3",
    )
    objective = matches(target)
    for seed in range(5):
        asked = run(LocalSearch(space, seed=seed, n_init=1), objective, 150)
        # From any start, each first improvement gains one matching decision: at most 6
        # climbs of at most 24 neighbours reach the optimum.
        assert space.make(target) in asked, seed


@pytest.mark.parametrize("first_improvement", [True, False])
def test_restarts_at_a_local_optimum_and_never_repeats(first_improvement):
    space = GridSpace(4, 4)
    target = (3, 1, 0, 2)
    ls = LocalSearch(space, seed=3, n_init=2, first_improvement=first_improvement)
    asked = run(ls, matches(target), 256)
    assert len(asked) == len(set(asked)) == 256  # the whole space, each once
    assert ls.ask() is None  # exhausted
    # The optimum was reached early (climb), and random restarts followed it.
    first = asked.index(space.make(target))
    assert first < 60
    assert ls.current is None or ls.current == space.make(target)


def test_best_improvement_moves_to_the_best_neighbour():
    space = GridSpace(3, 3)
    scores = {a: float(i) for i, a in enumerate(_all(space))}
    ls = LocalSearch(space, seed=0, n_init=1, first_improvement=False)
    start = ls.ask()
    ls.tell(start, Result.complete({}).with_score(scores[start]))
    neighbours = set(space.neighbors(start))
    for _ in neighbours:
        arch = ls.ask()
        assert arch in neighbours
        ls.tell(arch, Result.complete({}).with_score(scores[arch]))
    best = max(neighbours, key=scores.__getitem__)
    if scores[best] > scores[start]:
        assert ls.current == best
    else:
        assert ls.current is None  # local optimum: restart


def test_pending_asks_are_handled_and_none_changes_nothing():
    space = GridSpace(3, 3)
    objective = matches((2, 2, 2))
    ls = LocalSearch(space, seed=1, n_init=3)
    batch = [ls.ask() for _ in range(3)]
    assert None not in batch and len(set(batch)) == 3
    state = json.dumps(ls.state_dict())
    assert ls.ask() is None  # the start batch is not told yet
    assert json.dumps(ls.state_dict()) == state
    for arch in batch:
        ls.tell(arch, Result.complete({}).with_score(objective(arch)))
    # Now several neighbour proposals at once, all distinct and new.
    pending = [ls.ask() for _ in range(4)]
    assert None not in pending and len(set(pending + batch)) == 7
    for arch in reversed(pending):
        ls.tell(arch, Result.complete({}).with_score(objective(arch)))
    asked = batch + pending + run(ls, objective, 100)
    assert len(asked) == len(set(asked))
    assert space.make((2, 2, 2)) in asked


def test_failed_results_count_as_worst():
    space = GridSpace(3, 3)
    ls = LocalSearch(space, seed=0, n_init=2)
    a, b = ls.ask(), ls.ask()
    ls.tell(a, Result.failed("boom"))
    ls.tell(b, Result.complete({}).with_score(0.0))
    assert ls.current == b


def test_state_round_trip_gives_identical_asks():
    space = NB201Space()
    objective = matches(("nor_conv_3x3",) * 6)
    ls = LocalSearch(space, seed=7)
    run(ls, objective, 37)
    extra = [ls.ask(), ls.ask()]  # two pending at save time
    state = json.loads(json.dumps(ls.state_dict()))
    clone = LocalSearch(space, seed=999)
    clone.load_state_dict(state)
    for strategy in (ls, clone):
        for arch in extra:
            strategy.tell(arch, Result.complete({}).with_score(objective(arch)))
    assert run(ls, objective, 60) == run(clone, objective, 60)


def test_rejects_bad_options():
    with pytest.raises(ConfigError):
        LocalSearch(NB201Space(), n_init=0)


def test_beats_random_search_on_nb201():
    """End to end through the study: NB201 at table speed, cifar10, 12,000 simulated s."""
    space, evaluator = NB201Space(), NB201Evaluator("cifar10", fidelity=12)

    def final(strategy, seed):
        study = Study(space, strategy, seed=seed)
        study.optimize(evaluator, budget="12000s", executor=SimulatedExecutor())
        archs = [t.arch for t in study.trials]
        assert len(archs) == len(set(archs)) > 50
        return study.best().metrics["final_test_acc"]

    ls = np.mean([final(LocalSearch(space, seed=s), s) for s in range(20)])
    rs = np.mean([final(RandomSearch(space, seed=s, dedup=True), s) for s in range(20)])
    assert ls > rs + 0.2, (ls, rs)


def _all(space: SearchSpace) -> list[Architecture]:
    archs = [()]
    for d in space.decisions():
        archs = [(*a, o) for a in archs for o in d.options]
    return [space.make(a) for a in archs]


def test_study_resume_replays_to_the_same_trials():
    """A study stopped after 20 trials and resumed from its storage with a fresh strategy
    continues exactly as an uninterrupted one (the study replays asks and tells)."""
    from archsearch.estimation.tabular import NB201Evaluator
    from archsearch.execution.simulated import SimulatedExecutor
    from archsearch.storage.memory import InMemoryStorage
    from archsearch.study import Study

    space, evaluator = NB201Space(), NB201Evaluator("cifar10", fidelity=12)
    full = Study(space, LocalSearch(space, seed=3), seed=1)
    full.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    storage = InMemoryStorage()
    Study(space, LocalSearch(space, seed=3), storage, seed=1).optimize(
        evaluator, budget="20trials", executor=SimulatedExecutor()
    )
    resumed = Study(space, LocalSearch(space, seed=3), storage, seed=1)
    resumed.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
