from __future__ import annotations

from pathlib import Path

import pytest

from archsearch import (
    Budget,
    InMemoryStorage,
    NB201Evaluator,
    NB201Space,
    RegularizedEvolution,
    SimulatedExecutor,
    SQLiteStorage,
    Study,
    TrialState,
)
from archsearch.core.errors import ConfigError, DeterminismError
from archsearch.core.trial import Result
from archsearch.estimation import Evaluator, TrialContext
from archsearch.execution import Finished
from archsearch.space import Architecture

SPACE = NB201Space()


def re_study(storage=None, seed: int = 0) -> Study:  # type: ignore[no-untyped-def]
    return Study(SPACE, RegularizedEvolution(SPACE, seed=seed), storage, seed=seed)


def sequence(study: Study) -> list[tuple[int, str, str, float | None]]:
    return [(t.number, t.arch.to_json(), t.state.value, t.score) for t in study.trials]


def test_trial_budget_and_determinism() -> None:
    a, b = re_study(), re_study()
    for s in (a, b):
        s.optimize(NB201Evaluator("cifar10"), budget="150trials", executor=SimulatedExecutor())
    assert len(a.trials) == 150 and sequence(a) == sequence(b)
    assert sequence(a) != sequence(_run_seed(1))
    assert a.best().score == max(t.score for t in a.trials if t.score is not None)
    rows = a.trials_table()
    assert len(rows) == 150 and rows[0]["number"] == 0 and "val_acc" in rows[0]
    assert rows[a.best().number]["score"] == a.best().score


def _run_seed(seed: int) -> Study:
    s = re_study(seed=seed)
    s.optimize(NB201Evaluator("cifar10"), budget="150trials", executor=SimulatedExecutor())
    return s


def test_simulated_seconds_budget_counts_the_crossing_trial() -> None:
    s = re_study()
    s.optimize(NB201Evaluator("cifar10"), budget="12000s", executor=SimulatedExecutor())
    clocks = [t.clock_end for t in s.trials]
    assert clocks == sorted(clocks)
    assert clocks[-2] < 12000 <= clocks[-1]  # a trial starts only while the clock is under budget
    assert clocks[-1] == pytest.approx(sum(t.cost for t in s.trials))


class Flaky(Evaluator):
    """Raises on cells whose first edge is a 1x1 conv; NaN on 3x3 pooling there."""

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        if arch.values[0] == "nor_conv_1x1":
            raise RuntimeError("out of cheese")
        value = float("nan") if arch.values[0] == "avg_pool_3x3" else float(ctx.number)
        return Result.complete({"val_acc": value}, cost=1.0)


def test_failing_trials_are_recorded_and_the_search_goes_on() -> None:
    s = re_study()
    s.optimize(Flaky(), budget="60trials")
    states = {t.state for t in s.trials}
    assert len(s.trials) == 60 and states == {TrialState.COMPLETE, TrialState.FAILED}
    failed = [t for t in s.trials if t.state is TrialState.FAILED]
    assert any("RuntimeError: out of cheese" in (t.error or "") for t in failed)
    assert any("val_acc is nan" in (t.error or "") for t in failed)


class Crash(BaseException):
    pass


class CrashOnce(Evaluator):
    """Dies (as a killed process would) in the middle of trial `at`."""

    def __init__(self, at: int) -> None:
        self.at, self.inner = at, NB201Evaluator("cifar10")

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        if ctx.number == self.at:
            self.at = -1
            raise Crash
        return self.inner.evaluate(arch, ctx)


def test_resume_after_crash_matches_uninterrupted_run(tmp_path: Path) -> None:
    reference = re_study()
    reference.optimize(NB201Evaluator("cifar10"), budget="80trials", executor=SimulatedExecutor())
    path = tmp_path / "study.db"
    evaluator = CrashOnce(at=37)
    with SQLiteStorage(path) as storage, pytest.raises(Crash):
        re_study(storage).optimize(evaluator, budget="80trials", executor=SimulatedExecutor())
    with SQLiteStorage(path) as storage:
        trials = storage.trials()
        assert len(trials) == 38 and trials[-1].state is TrialState.RUNNING
        resumed = re_study(storage)  # fresh strategy, same seed: replays the stored events
        resumed.optimize(evaluator, budget="80trials", executor=SimulatedExecutor())
        assert sequence(resumed) == sequence(reference)
        assert [t.clock_end for t in resumed.trials] == pytest.approx(
            [t.clock_end for t in reference.trials]
        )
    with SQLiteStorage(path) as storage:
        assert sequence(re_study(storage)) == sequence(reference)


def test_resume_with_another_seed_is_refused(tmp_path: Path) -> None:
    storage = InMemoryStorage()
    re_study(storage).optimize(
        NB201Evaluator("cifar10"), budget="30trials", executor=SimulatedExecutor()
    )
    with pytest.raises(DeterminismError, match="proposed"):
        re_study(storage, seed=1)


def test_parallel_simulated_workers_finish_in_cost_order() -> None:
    s = re_study()
    s.optimize(NB201Evaluator("cifar10"), budget="12000s", executor=SimulatedExecutor(n_workers=4))
    ends = [t.clock_end for t in sorted(s.trials, key=lambda t: t.tell_seq or 0)]
    assert ends == sorted(ends)
    assert len(s.trials) > 300  # four workers do about four times the work of one


def test_pareto_front_and_budget_errors() -> None:
    s = re_study()
    s.optimize(NB201Evaluator("cifar10"), budget="100trials", executor=SimulatedExecutor())
    front = s.pareto_front([("val_acc", "max"), ("params_m", "min")])
    assert front
    for t in front:
        for u in s.completed():
            better = (
                u.metrics["val_acc"] >= t.metrics["val_acc"]
                and u.metrics["params_m"] <= t.metrics["params_m"]
            )
            strictly = (
                u.metrics["val_acc"] > t.metrics["val_acc"]
                or u.metrics["params_m"] < t.metrics["params_m"]
            )
            assert not (better and strictly)
    for bad in ("0trials", "-5s", "abc", "1.5trials", "10parsecs"):
        with pytest.raises(ConfigError, match="budget"):
            Budget.parse(bad)
    assert Budget.parse("30m").seconds == 1800 and Budget.parse("200trials").trials == 200


class LosingExecutor(SimulatedExecutor):
    """Reports the worker of every trial number in `lose` as lost, once per listed count."""

    def __init__(self, lose: dict[int, int]) -> None:
        super().__init__()
        self.lose = dict(lose)

    def wait(self):  # type: ignore[no-untyped-def]
        done = super().wait()
        out = []
        for d in done:
            if self.lose.get(d.trial.number, 0) > 0:
                self.lose[d.trial.number] -= 1
                out.append(Finished(d.trial, Result.failed("worker lost"), d.clock_end, lost=True))
            else:
                out.append(d)
        return out


def test_lost_workers_are_retried_then_failed() -> None:
    s = re_study()
    s.optimize(
        NB201Evaluator("cifar10"),
        budget="20trials",
        executor=LosingExecutor({3: 1, 5: 3}),
        max_retries=2,
    )
    assert len(s.trials) == 20
    assert s.trials[3].state is TrialState.COMPLETE  # lost once, retried
    assert s.trials[5].state is TrialState.FAILED and "worker lost" in (s.trials[5].error or "")
    assert s.strategy.pending == {}


def test_trial_jobs_pickle() -> None:
    import pickle

    from archsearch.estimation import Reporter
    from archsearch.study import TrialJob

    job = TrialJob(
        NB201Evaluator("cifar10"), SPACE.from_index(6111), TrialContext(0, 1, Reporter())
    )
    assert (
        pickle.loads(pickle.dumps(job))().metrics["final_test_acc"]
        == job().metrics["final_test_acc"]
    )


def test_constraints_reject_before_running_at_no_budget() -> None:
    evaluated: list[int] = []

    class Counting(NB201Evaluator):
        def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
            evaluated.append(ctx.number)
            return super().evaluate(arch, ctx)

    def no_pooling(arch: Architecture) -> str | None:
        return "avg_pool_3x3 on the first edge" if arch.values[0] == "avg_pool_3x3" else None

    s = Study(SPACE, RegularizedEvolution(SPACE, seed=0), seed=0, constraints=[no_pooling])
    s.optimize(Counting("cifar10"), budget="60trials", executor=SimulatedExecutor())
    rejected = [t for t in s.trials if t.state is TrialState.REJECTED]
    assert rejected and all(
        t.error == "constraint: avg_pool_3x3 on the first edge" for t in rejected
    )
    assert all(t.cost == 0.0 and t.number not in evaluated for t in rejected)
    assert len(s.trials) - len(rejected) == 60 == len(evaluated)  # rejections cost no budget
    with pytest.raises(ConfigError, match="rejected 1000 architectures in a row"):
        Study(SPACE, RegularizedEvolution(SPACE, seed=0), constraints=[lambda a: "never"]).optimize(
            NB201Evaluator("cifar10"), budget="5trials", executor=SimulatedExecutor()
        )


def test_multi_objective_mode_keeps_the_pareto_front() -> None:
    s = Study(
        SPACE,
        RegularizedEvolution(SPACE, seed=0),
        objectives=[("val_acc", "max"), ("params_m", "min")],
    )
    s.optimize(NB201Evaluator("cifar10"), budget="80trials", executor=SimulatedExecutor())
    assert s.metric == "val_acc" and s.pareto_front() == s.pareto_front(
        [("val_acc", "max"), ("params_m", "min")]
    )
    with pytest.raises(ConfigError, match="objectives"):
        Study(SPACE, RegularizedEvolution(SPACE), objectives=[("val_acc", "up")])
