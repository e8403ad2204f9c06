"""UCT over ordered decisions: finds optima faster than random, never repeats, resumes."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Decision
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace
from archsearch.space.nb201 import NB201Space
from archsearch.strategies.base import STRATEGIES
from archsearch.strategies.mcts import MonteCarloTreeSearch
from archsearch.strategies.random import RandomSearch


class GridSpace(SearchSpace):
    name = "mcts-grid"

    def __init__(self, n: int = 4, k: int = 4) -> None:
        self._decisions = tuple(Decision(f"d{i}", tuple(range(k))) for i in range(n))

    def decisions(self) -> Sequence[Decision]:
        return self._decisions


def separable(arch) -> float:
    """A separable objective with one optimum, (3, 3, ..., 3), and graded options."""
    return float(sum(v * v for v in arch.values))


def queries_to_optimum(strategy, optimum, limit: int) -> int:
    for n in range(1, limit + 1):
        arch = strategy.ask()
        if arch == optimum:
            return n
        strategy.tell(arch, Result.complete({}).with_score(separable(arch)))
    return limit


def test_registered():
    assert STRATEGIES.get("mcts") is MonteCarloTreeSearch


@pytest.mark.parametrize("options", [{}, {"rollout_temperature": None}])
def test_finds_a_separable_optimum_faster_than_random(options):
    space = GridSpace(4, 4)  # 256 cells: random search needs ~128 queries on average
    optimum = space.make((3, 3, 3, 3))
    mcts = [
        queries_to_optimum(MonteCarloTreeSearch(space, seed=s, **options), optimum, 256)
        for s in range(10)
    ]
    rand = [
        queries_to_optimum(RandomSearch(space, seed=s, dedup=True), optimum, 256) for s in range(10)
    ]
    assert np.mean(mcts) < 0.5 * np.mean(rand), (mcts, rand)


def test_asks_every_architecture_once_then_none():
    space = GridSpace(3, 3)
    mcts = MonteCarloTreeSearch(space, seed=0)
    asked = []
    while (arch := mcts.ask()) is not None:
        space.validate(arch)
        asked.append(arch)
        mcts.tell(arch, Result.complete({}).with_score(separable(arch)))
    assert len(asked) == len(set(asked)) == 27


def test_parallel_asks_spread_and_failures_count_as_worst():
    space = GridSpace(3, 4)
    mcts = MonteCarloTreeSearch(space, seed=1)
    pending = [mcts.ask() for _ in range(12)]
    assert len(set(pending)) == 12
    # Pending asks count as visits, so the first four spread over the root's options.
    assert {a.values[0] for a in pending[:4]} == {0, 1, 2, 3}
    for arch in pending:
        bad = arch.values[0] == 0
        mcts.tell(arch, Result.failed("oom") if bad else Result.complete({}).with_score(1.0))
    assert mcts._q((0,)) == 0.0  # failed results have the lowest value
    assert mcts._q((1,)) == pytest.approx(0.5)  # all tied: the mean rank


def test_ranks_make_the_search_invariant_to_monotone_rescaling():
    space = NB201Space()
    runs = []
    for transform in (lambda x: x, lambda x: 1000.0 * x**3 - 7.0):
        mcts = MonteCarloTreeSearch(space, seed=3)
        asked = []
        for _ in range(60):
            arch = mcts.ask()
            asked.append(arch)
            score = sum(v == "nor_conv_3x3" for v in arch.values) + 0.1 * (arch.values[5] == "none")
            mcts.tell(arch, Result.complete({}).with_score(transform(float(score))))
        runs.append(asked)
    assert runs[0] == runs[1]


def test_state_round_trip_gives_identical_asks():
    space = NB201Space()
    mcts = MonteCarloTreeSearch(space, seed=4)
    for _ in range(40):
        arch = mcts.ask()
        mcts.tell(arch, Result.complete({}).with_score(separable_nb201(arch)))
    pending = [mcts.ask(), mcts.ask()]
    state = json.loads(json.dumps(mcts.state_dict()))
    clone = MonteCarloTreeSearch(space, seed=123)
    clone.load_state_dict(state)
    runs = []
    for strategy in (mcts, clone):
        strategy.tell(pending[1], Result.failed("x"))
        strategy.tell(pending[0], Result.complete({}).with_score(1.0))
        asked = []
        for _ in range(30):
            arch = strategy.ask()
            asked.append(arch)
            strategy.tell(arch, Result.complete({}).with_score(separable_nb201(arch)))
        runs.append(asked)
    assert runs[0] == runs[1]


def separable_nb201(arch) -> float:
    return float(sum(i * (v == "nor_conv_3x3") for i, v in enumerate(arch.values)))


def test_rejects_bad_options():
    with pytest.raises(ConfigError):
        MonteCarloTreeSearch(NB201Space(), exploration=-1.0)
    with pytest.raises(ConfigError):
        MonteCarloTreeSearch(NB201Space(), rollout_temperature=0.0)


def test_study_resume_replays_to_the_same_trials():
    """A study stopped after 20 trials and resumed from its storage with a fresh strategy
    continues exactly as an uninterrupted one (the study replays asks and tells)."""
    from archsearch.estimation.tabular import NB201Evaluator
    from archsearch.execution.simulated import SimulatedExecutor
    from archsearch.storage.memory import InMemoryStorage
    from archsearch.study import Study

    space, evaluator = NB201Space(), NB201Evaluator("cifar10", fidelity=12)
    full = Study(space, MonteCarloTreeSearch(space, seed=3), seed=1)
    full.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    storage = InMemoryStorage()
    Study(space, MonteCarloTreeSearch(space, seed=3), storage, seed=1).optimize(
        evaluator, budget="20trials", executor=SimulatedExecutor()
    )
    resumed = Study(space, MonteCarloTreeSearch(space, seed=3), storage, seed=1)
    resumed.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
