"""Multi-objective strategies (pareto-re, nsga2, motpe, parego) and their shared helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.benchmarks.fronts import exact_front, hypervolume
from archsearch.core.errors import ConfigError
from archsearch.core.trial import Result, TrialState
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.nb201 import NB201Space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies import STRATEGIES, Strategy
from archsearch.strategies.multiobjective import (
    ObjectiveReader,
    Point,
    crowding_distances,
    dominates,
    pareto_ranks,
    parse_limits,
    parse_objectives,
)
from archsearch.study import Study

OBJECTIVES = "val_acc:max,latency@eyeriss:min"
MO_STRATEGIES = ("pareto-re", "nsga2", "motpe", "parego")


def test_parse_objectives_and_limits() -> None:
    assert parse_objectives(None) == (("score", "max"),)
    assert parse_objectives(OBJECTIVES) == (("val_acc", "max"), ("latency@eyeriss", "min"))
    assert parse_objectives([["a", "min"]]) == (("a", "min"),)
    for bad in ("val_acc:up", "a:max,a:min", [["a"]], ""):
        with pytest.raises(ConfigError):
            parse_objectives(bad)
    assert parse_limits("latency@fpga<=5, params_m >= 0.1") == (
        ("latency@fpga", "<=", 5.0),
        ("params_m", ">=", 0.1),
    )
    assert parse_limits([["x", "<=", 3]]) == (("x", "<=", 3.0),)
    for bad in ("x<5", [["x", "<", 1]], [["x", "<=", "nan"]]):
        with pytest.raises(ConfigError):
            parse_limits(bad)


def test_reader() -> None:
    reader = ObjectiveReader(parse_objectives(OBJECTIVES), parse_limits("latency@eyeriss<=4"))
    ok = Result(TrialState.COMPLETE, {"val_acc": 70.0, "latency@eyeriss": 5.0}, score=70.0)
    assert reader.read(ok) == Point((70.0, -5.0), pytest.approx(0.25))
    assert reader.read(Result.failed("x")) is None
    with pytest.raises(ConfigError) as info:
        reader.read(Result(TrialState.COMPLETE, {"val_acc": 1.0}, score=1.0))
    assert "\n" not in str(info.value) and "latency@eyeriss" in str(info.value)
    assert ObjectiveReader(parse_objectives(None)).read(ok) == Point((70.0,), 0.0)


def _brute_ranks(points: list[Point]) -> list[int]:
    ranks, left, r = [-1] * len(points), set(range(len(points))), 0
    while left:
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left)}
        for i in front:
            ranks[i] = r
        left -= front
        r += 1
    return ranks


def test_pareto_ranks_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 40))
        values = rng.integers(0, 6, (n, 2)).astype(float)
        viol = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), 0).astype(float)
        points = [Point(tuple(v), float(c)) for v, c in zip(values, viol, strict=True)]
        assert pareto_ranks(points) == _brute_ranks(points)


def test_crowding_and_hypervolume() -> None:
    d = crowding_distances(np.array([[0.0, 3.0], [1.0, 2.0], [3.0, 0.0]]))
    assert np.isinf(d[0]) and np.isinf(d[2]) and d[1] == pytest.approx(3 / 3 + 3 / 3)
    # Minimised points (1, 3) and (2, 1) against (4, 4): 3 x 1 + 2 x 2 = 7.
    assert hypervolume(np.array([[1.0, 3.0], [2.0, 1.0]]), (4.0, 4.0)) == pytest.approx(7.0)
    assert hypervolume(np.array([[5.0, 1.0]]), (4.0, 4.0)) == 0.0


def _search(name: str, seed: int, budget: int, **options: object) -> Study:
    space = NB201Space()
    strategy = STRATEGIES.get(name)(space, seed=seed, **options)
    study = Study(space, strategy, InMemoryStorage(), seed=seed)
    study.optimize(
        NB201Evaluator("cifar100", fidelity=200, devices=["eyeriss"]),
        budget=f"{budget}trials",
        executor=SimulatedExecutor(),
    )
    return study


def _share(study: Study) -> float:
    space = NB201Space()
    return exact_front("cifar100", "eyeriss").share(
        [space.index(t.arch) for t in study.completed()]
    )


@pytest.mark.parametrize("name", ["pareto-re", "nsga2", "motpe"])
def test_front_search_beats_random(name: str) -> None:
    budget = 150
    found = np.mean([_share(_search(name, s, budget, objectives=OBJECTIVES)) for s in range(3)])
    rand = np.mean([_share(_search("random", s, budget)) for s in range(3)])
    assert found > rand


def test_parego_searches_a_front() -> None:
    study = _search("parego", 0, 25, objectives=OBJECTIVES, bo_options={"n_init": 10})
    assert len(study.completed()) == 25
    assert _share(study) > 0.5


@pytest.mark.parametrize("name", MO_STRATEGIES)
def test_limits_steer_towards_feasible_cells(name: str) -> None:
    budget = 25 if name == "parego" else 80
    options: dict[str, object] = {"objectives": "val_acc:max", "constraints": "latency@eyeriss<=4"}
    if name == "parego":
        options["bo_options"] = {"n_init": 10}
    study = _search(name, 1, budget, **options)
    trials = sorted(study.completed(), key=lambda t: t.number)
    half = len(trials) // 2
    early = np.mean([t.metrics["latency@eyeriss"] <= 4 for t in trials[:half]])
    late = np.mean([t.metrics["latency@eyeriss"] <= 4 for t in trials[half:]])
    assert late > early


def _drive(strategy: Strategy, evaluator: NB201Evaluator, steps: int) -> list[str]:
    from archsearch.estimation.base import Reporter, TrialContext

    out = []
    for step in range(steps):
        arch = strategy.ask()
        assert arch is not None
        if step % 9 == 8:
            result = Result.failed("synthetic failure")
        else:
            result = evaluator.evaluate(arch, TrialContext(step, step, Reporter()))
            result = result.with_score(result.metrics["val_acc"])
        strategy.tell(arch, result)
        out.append(arch.to_json())
    return out


@pytest.mark.parametrize("name", MO_STRATEGIES)
def test_state_round_trip_with_objectives_and_limits(name: str) -> None:
    space = NB201Space()
    evaluator = NB201Evaluator("cifar100", fidelity=200, devices=["eyeriss"])
    options: dict[str, object] = {"objectives": OBJECTIVES, "constraints": "latency@eyeriss<=6"}
    if name == "parego":
        options["bo_options"] = {"n_init": 5}
    steps = 12 if name == "parego" else 40
    original = STRATEGIES.get(name)(space, seed=3, **options)
    _drive(original, evaluator, steps)
    state = json.loads(json.dumps(original.state_dict()))
    restored = STRATEGIES.get(name)(space, seed=99, **options)
    restored.load_state_dict(state)
    assert _drive(original, evaluator, steps) == _drive(restored, evaluator, steps)
