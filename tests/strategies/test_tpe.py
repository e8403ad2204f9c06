"""Optuna TPE and GP behind the Strategy interface: valid, seeded, dedup, replayable."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import pytest

optuna = pytest.importorskip("optuna")

from archsearch.core.errors import ConfigError  # noqa: E402
from archsearch.core.genotype import Decision  # noqa: E402
from archsearch.core.trial import Result, TrialState  # noqa: E402
from archsearch.space.base import SearchSpace  # noqa: E402
from archsearch.space.nb201 import NB201Space  # noqa: E402
from archsearch.strategies.base import STRATEGIES  # noqa: E402
from archsearch.strategies.tpe import OptunaGPSearch, OptunaSearch  # noqa: E402


class TupleSpace(SearchSpace):
    """Options that are not Optuna-friendly values (tuples): indices must carry them."""

    name = "tpe-tuples"

    def decisions(self) -> Sequence[Decision]:
        return (Decision("a", ((1, 2), (3, 4), None)), Decision("b", ("x", "y")))


def score_of(arch) -> float:
    return float(sum(i * (v == "nor_conv_3x3") for i, v in enumerate(arch.values, start=1)))


def drive(strategy, n: int, score=score_of) -> list:
    asked = []
    for _ in range(n):
        arch = strategy.ask()
        asked.append(arch)
        strategy.tell(arch, Result.complete({}).with_score(score(arch)))
    return asked


def test_registered():
    assert STRATEGIES.get("tpe") is OptunaSearch
    assert STRATEGIES.get("optuna-gp") is OptunaGPSearch


def test_proposals_are_valid_deterministic_and_new():
    space = NB201Space()
    a = drive(OptunaSearch(space, seed=3), 40)
    b = drive(OptunaSearch(space, seed=3), 40)
    c = drive(OptunaSearch(space, seed=4), 40)
    assert a == b
    assert a != c
    for arch in a:
        space.validate(arch)
    assert len(set(a)) == len(a)


def test_tpe_improves_over_its_random_start():
    space = NB201Space()
    asked = drive(OptunaSearch(space, seed=0), 60)
    startup, model = asked[:10], asked[-20:]
    assert sum(map(score_of, model)) / 20 > sum(map(score_of, startup)) / 10 + 2


def test_any_option_values_work():
    space = TupleSpace()
    tpe = OptunaSearch(space, seed=0)
    asked = drive(tpe, 6, score=lambda a: float(a.values[1] == "y"))
    assert sorted(map(space.describe, asked)) == sorted(map(space.describe, set(asked)))
    for arch in asked:
        space.validate(arch)
    # The space is exhausted: the strategy still answers (a repeat) rather than hang.
    space.validate(tpe.ask())


def test_failed_and_pruned_results_reach_optuna_as_such():
    space = NB201Space()
    tpe = OptunaSearch(space, seed=1)
    a, b, c = tpe.ask(), tpe.ask(), tpe.ask()
    tpe.tell(a, Result.failed("diverged"))
    tpe.tell(b, Result(TrialState.PRUNED))
    tpe.tell(c, Result.complete({}).with_score(1.0))
    states = [t.state.name for t in tpe._study.trials]
    assert states == ["FAIL", "PRUNED", "COMPLETE"]


def test_dedup_completes_repeats_without_asking_them():
    # Two decisions of two options: 4 cells. After them, every proposal is a repeat.
    space = TupleSpace()
    tpe = OptunaSearch(space, seed=2, max_resample=3)
    asked = drive(tpe, 6, score=lambda a: 1.0)
    assert len(set(asked)) == 6
    n_complete = sum(t.state.name == "COMPLETE" for t in tpe._study.trials)
    assert n_complete >= 6


def test_state_round_trip_replays_to_identical_asks():
    space = NB201Space()
    tpe = OptunaSearch(space, seed=5)
    drive(tpe, 25)
    pending = tpe.ask()
    failed = tpe.ask()
    tpe.tell(failed, Result.failed("oom"))
    state = json.loads(json.dumps(tpe.state_dict()))
    clone = OptunaSearch(space, seed=0)
    clone.load_state_dict(state)
    runs = []
    for strategy in (tpe, clone):
        strategy.tell(pending, Result.complete({}).with_score(score_of(pending)))
        runs.append(drive(strategy, 15))
    assert runs[0] == runs[1]


def test_sampler_options_are_checked():
    with pytest.raises(ConfigError):
        OptunaSearch(NB201Space(), sampler="cmaes")
    with pytest.raises(ConfigError):
        OptunaSearch(NB201Space(), sampler_options={"no_such_option": 1})
    tpe = OptunaSearch(NB201Space(), sampler_options={"n_startup_trials": 3})
    assert len(set(drive(tpe, 8))) == 8


def test_missing_optuna_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"archsearch\[optuna\]"):
        OptunaSearch(NB201Space())


def test_optuna_logging_level_is_left_alone():
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        drive(OptunaSearch(NB201Space(), seed=0), 3)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)


def test_gp_sampler_is_wired():
    space = NB201Space()
    gp = OptunaGPSearch(space, seed=1)
    assert gp.sampler_name == "gp"
    assert type(gp._study.sampler).__name__ == "GPSampler"
    asked = drive(gp, 3)  # the random start: no GP fit yet
    assert len(set(asked)) == 3


@pytest.mark.slow
def test_gp_sampler_round_trip():
    space = NB201Space()
    gp = OptunaGPSearch(space, seed=1, sampler_options={"n_startup_trials": 4})
    drive(gp, 8)
    state = json.loads(json.dumps(gp.state_dict()))
    clone = OptunaGPSearch(space, seed=9, sampler_options={"n_startup_trials": 4})
    clone.load_state_dict(state)
    assert drive(gp, 3) == drive(clone, 3)


def test_study_resume_replays_to_the_same_trials():
    """A study stopped after 20 trials and resumed from its storage with a fresh strategy
    continues exactly as an uninterrupted one (the study replays asks and tells)."""
    from archsearch.estimation.tabular import NB201Evaluator
    from archsearch.execution.simulated import SimulatedExecutor
    from archsearch.storage.memory import InMemoryStorage
    from archsearch.study import Study

    space, evaluator = NB201Space(), NB201Evaluator("cifar10", fidelity=12)
    full = Study(space, OptunaSearch(space, seed=3), seed=1)
    full.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    storage = InMemoryStorage()
    Study(space, OptunaSearch(space, seed=3), storage, seed=1).optimize(
        evaluator, budget="20trials", executor=SimulatedExecutor()
    )
    resumed = Study(space, OptunaSearch(space, seed=3), storage, seed=1)
    resumed.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
