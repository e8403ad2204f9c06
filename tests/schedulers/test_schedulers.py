"""Multi-fidelity schedulers (successive halving, Hyperband, ASHA, BOHB) through the study:
rung sizes and promotions against the algorithms' definitions, promotions continuing from
checkpoints (bit-identical to one straight run), a corrupt checkpoint, and resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter, Result, Trial, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.schedulers import ASHA, SCHEDULERS, Hyperband, SuccessiveHalving
from archsearch.schedulers.base import rung_resources
from archsearch.space.nb201 import NB201Space
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.strategies.bohb import BOHBStrategy
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study
from tests.estimation.test_training import TinyCNN, evaluator
from tests.helpers import synthetic_score

SPACE = NB201Space()


class Curve(Evaluator):
    """A synthetic learning curve: score(arch) * (1 - 1/(1 + resource)), cost = resource
    added since the parent (so promotions are charged what they add)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float | None, float | None]] = []

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        self.calls.append((ctx.number, ctx.resource, ctx.parent_resource))
        r = float(ctx.resource or 1.0)
        value = synthetic_score(SPACE, arch) * (1 - 1 / (1 + r))
        return Result.complete({"val_acc": value}, cost=r - (ctx.parent_resource or 0.0))


def run(scheduler, budget="30trials", workers=1, storage=None, strategy=None):  # type: ignore[no-untyped-def]
    study = Study(SPACE, strategy or RandomSearch(SPACE, seed=1), storage, seed=1)
    study.optimize(Curve(), budget=budget, executor=SimulatedExecutor(workers), scheduler=scheduler)
    return study


def shape(study: Study) -> list[tuple[int, float | None, int | None, str]]:
    return [(t.number, t.resource, t.parent, t.arch.to_json()) for t in study.trials]


def test_rung_ladder() -> None:
    assert rung_resources(1, 27, 3, None) == (1, 3, 9, 27)
    assert rung_resources(1, 100, 3, None) == (1, 4, 11, 33, 100)
    assert rung_resources(0, 0, 3, (12, 200)) == (12, 200)
    with pytest.raises(ConfigError, match="eta"):
        rung_resources(1, 27, 1, None)
    with pytest.raises(ConfigError, match="increasing"):
        rung_resources(1, 27, 3, (200, 12))
    assert set(SCHEDULERS.names()) >= {"fifo", "sh", "hyperband", "asha"}


def test_successive_halving_promotes_the_top_third_of_a_finished_rung() -> None:
    study = run(SuccessiveHalving(1, 9, eta=3), budget="9trials")
    trials = study.trials
    # one bracket: 9 at r=1, the best 3 to r=3, the best of those to r=9
    assert [t.resource for t in trials] == [1.0] * 9 + [3.0] * 3 + [9.0]
    bottom = sorted(trials[:9], key=lambda t: -(t.score or 0))
    assert [t.parent for t in trials[9:12]] == [t.number for t in bottom[:3]]
    middle = max(trials[9:12], key=lambda t: t.score or 0)
    assert trials[12].parent == middle.number and trials[12].arch == middle.arch
    # a promotion is charged only what it adds, and is not a new architecture
    assert [t.cost for t in trials[9:]] == [2.0, 2.0, 2.0, 6.0]
    assert len({t.arch for t in trials}) == 9


def test_hyperband_brackets_follow_the_paper() -> None:
    study = run(Hyperband(1, 27, eta=3), budget="49trials")
    per_resource: dict[float, int] = {}
    for t in study.trials:
        per_resource[t.resource or 0] = per_resource.get(t.resource or 0, 0) + 1
    # s=3: 27@1, 9@3, 3@9, 1@27; s=2: 12@3, 4@9, 1@27; s=1: 6@9, 2@27; s=0: 4@27 (Li et al. Table 1)
    assert per_resource == {1.0: 27, 3.0: 9 + 12, 9.0: 3 + 4 + 6, 27.0: 1 + 1 + 2 + 4}
    new = [t for t in study.trials if t.parent is None]
    assert len(new) == 27 + 12 + 6 + 4


def test_asha_promotes_only_from_the_top_and_never_waits() -> None:
    scheduler = ASHA(1, 9, eta=3)
    study = run(scheduler, budget="40trials", workers=4)
    trials = study.trials
    assert len([t for t in trials if t.parent is None]) == 40
    promoted = [t for t in trials if t.parent is not None]
    assert promoted, "ASHA should promote"
    for child in promoted:
        parent = trials[child.parent]  # type: ignore[index]
        assert child.resource == parent.resource * 3  # type: ignore[operator]
        # at the moment of promotion the parent was in the top 1/eta of its finished rung
        rung = [
            t
            for t in trials
            if t.resource == parent.resource
            and t.tell_seq is not None
            and t.tell_seq < child.ask_seq
        ]
        better = sum((t.score or 0) > (parent.score or 0) for t in rung)
        assert better < math.floor(len(rung) / 3)
    # asynchronous: four workers busy from the start, nothing waits for a rung to fill
    assert [t.clock_start for t in trials[:4]] == [0.0] * 4


def test_trial_budget_counts_architectures_and_time_budget_everything() -> None:
    study = run(ASHA(1, 9, eta=3), budget="20trials")
    assert sum(t.parent is None for t in study.trials) == 20
    timed = run(Hyperband(1, 9, eta=3), budget="100s")
    ends = [t.clock_end or 0 for t in timed.trials]
    assert max(ends[:-1]) < 100 <= max(ends)


def test_nb201_fidelities_and_promotion_cost() -> None:
    study = Study(SPACE, RandomSearch(SPACE, seed=0), seed=0)
    evaluator_ = NB201Evaluator("cifar10")
    study.optimize(
        evaluator_,
        budget="9trials",
        executor=SimulatedExecutor(),
        scheduler=SuccessiveHalving(resources=(12, 200), eta=3, n=9),
    )
    trials = study.trials
    assert [t.resource for t in trials] == [12.0] * 9 + [200.0] * 3
    time_200 = evaluator_.table.column("cifar10", 200, "train_time_s")
    for t in trials:
        i = SPACE.index(t.arch)
        frac = 12 / 200 if t.parent is None else 188 / 200
        assert t.cost == pytest.approx(time_200[i] * frac)
        assert t.metrics["val_acc"] == pytest.approx(
            evaluator_.table.column("cifar10", int(t.resource or 0), "valid_mean")[i]
        )
    bad = Study(SPACE, RandomSearch(SPACE, seed=0), seed=0)
    bad.optimize(evaluator_, budget="3trials", scheduler=ASHA(resources=(12, 100)))
    assert all("12 and 200" in (t.error or "") for t in bad.trials if t.resource == 100)


def test_bohb_models_each_budget_and_hears_promotions() -> None:
    strategy = BOHBStrategy(SPACE, seed=0)
    study = Study(SPACE, strategy, seed=0)
    study.optimize(
        NB201Evaluator("cifar10"),
        budget="60trials",
        executor=SimulatedExecutor(),
        scheduler=Hyperband(resources=(12, 200), eta=3),
    )
    n12 = sum(t.resource == 12 for t in study.trials)
    n200 = sum(t.resource == 200 for t in study.trials)
    assert len(strategy.observations[12.0]) == n12 and len(strategy.observations[200.0]) == n200
    assert strategy._model_budget() == 200.0  # the largest budget with enough points


def _sequence(study: Study) -> list[tuple[int, float | None, int | None, str, str]]:
    return [(*s, t.state.value) for s, t in zip(shape(study), study.trials, strict=True)]


class Crash(Exception):
    pass


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("make", [lambda: Hyperband(1, 9, eta=3), lambda: ASHA(1, 9, eta=3)])
def test_resume_after_a_crash(tmp_path: Path, make, workers: int) -> None:  # type: ignore[no-untyped-def]
    """With one worker nothing is in flight at a crash, so the resumed study repeats the
    uninterrupted one exactly. With two, a trial in flight re-runs later on the clock, so
    the order may change; nothing finished is lost or repeated."""
    straight = run(make(), budget="30trials", workers=workers)
    db = tmp_path / "study.db"

    def crash_after(n: int):  # type: ignore[no-untyped-def]
        def callback(study: Study, trial: Trial) -> None:
            if sum(t.state.finished for t in study.trials) >= n:
                raise Crash

        return callback

    finished_before: dict[int, tuple[float | None, str]] = {}
    for stop in (7, 19):  # crash twice, resume each time
        study = Study(SPACE, RandomSearch(SPACE, seed=1), SQLiteStorage(db), seed=1)
        with pytest.raises(Crash):
            study.optimize(
                Curve(),
                budget="30trials",
                executor=SimulatedExecutor(workers),
                scheduler=make(),
                callbacks=[crash_after(stop)],
            )
        finished_before.update(
            {t.number: (t.score, t.arch.to_json()) for t in study.trials if t.state.finished}
        )
    resumed = Study(SPACE, RandomSearch(SPACE, seed=1), SQLiteStorage(db), seed=1)
    resumed.optimize(
        Curve(), budget="30trials", executor=SimulatedExecutor(workers), scheduler=make()
    )
    assert all(t.state is TrialState.COMPLETE for t in resumed.trials)
    assert sum(t.parent is None for t in resumed.trials) == 30
    for number, (score, arch) in finished_before.items():  # kept, not re-run
        t = resumed.trials[number]
        assert (t.score, t.arch.to_json()) == (score, arch)
    if workers == 1:
        assert _sequence(resumed) == _sequence(straight)


def _ctx(number: int, resource: float, folder: Path, parent: int | None = None) -> TrialContext:
    return TrialContext(
        number,
        seed=7,
        reporter=Reporter(),
        resource=resource,
        horizon=4,
        parent=parent,
        parent_resource=None if parent is None else 2,
        checkpoint_dir=str(folder),
    )


def test_a_promotion_continues_from_the_checkpoint_exactly(tmp_path: Path) -> None:
    space = TinyCNN()
    arch = space.make([8, "ok"])
    ev = evaluator(space)
    low = ev.evaluate(arch, _ctx(0, 2, tmp_path / "a"))
    promoted = ev.evaluate(arch, _ctx(1, 4, tmp_path / "a", parent=0))
    straight = ev.evaluate(arch, _ctx(5, 4, tmp_path / "b"))
    assert low.state is promoted.state is straight.state is TrialState.COMPLETE
    assert (
        promoted.metrics["epochs"] == 4
        and promoted.metrics["val_acc"] == straight.metrics["val_acc"]
    )
    a = torch.load(tmp_path / "a" / "trial-1.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "trial-5.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the promotion trained only the two epochs it added
    assert promoted.metrics["train_seconds"] < 0.8 * straight.metrics["train_seconds"] + 0.05


def test_a_corrupt_checkpoint_fails_only_that_trial(tmp_path: Path) -> None:
    space = TinyCNN()
    study = Study(space, RandomSearch(space, seed=0), seed=0, checkpoint_dir=tmp_path)

    class Corrupting(Reporter):
        pass

    def corrupt(study_: Study, trial: Trial) -> None:
        if trial.parent is None:  # every bottom-rung checkpoint is damaged after it is written
            path = tmp_path / f"trial-{trial.number}.pt"
            path.write_bytes(path.read_bytes()[:100])

    study.optimize(
        evaluator(space),
        budget="3trials",
        scheduler=SuccessiveHalving(1, 2, eta=2, n=2),
        callbacks=[corrupt],
    )
    promoted = [t for t in study.trials if t.parent is not None]
    assert promoted and all(t.state is TrialState.FAILED for t in promoted)
    assert all("checkpoint trial-" in (t.error or "") for t in promoted)
    assert sum(t.state is TrialState.COMPLETE for t in study.trials) >= 2


def test_cli_search_with_a_scheduler_and_resume(tmp_path: Path) -> None:
    from archsearch.cli import main

    folder = tmp_path / "study"
    args = ["search", "--strategy", "bohb", "--scheduler", "hyperband", "--quiet"]
    assert main([*args, "--budget", "20trials", "--study", str(folder)]) == 0
    assert main(["resume", str(folder), "--budget", "40trials", "--quiet"]) == 0
    trials = SQLiteStorage(folder / "study.db", readonly=True).trials()
    assert sum(t.parent is None for t in trials) == 40
    # NB201's fidelities by default: the 12- and 200-epoch tables
    assert {t.resource for t in trials} == {12.0, 200.0}
    with pytest.raises(SystemExit) as bad:
        main(
            [
                "search",
                "--scheduler",
                "hyperbandd",
                "--budget",
                "5trials",
                "--study",
                str(tmp_path / "x"),
            ]
        )
    assert bad.value.code == 2


def test_an_in_memory_study_removes_its_temporary_checkpoint_folder() -> None:
    """A study without a database folder keeps promotion checkpoints in a temporary
    folder it owns: gone once the study is (a benchmark runs thousands of studies)."""
    import gc

    study = run(ASHA(min_resource=12, max_resource=200), budget="10trials")
    folder = study.checkpoint_dir
    assert folder is not None and folder.is_dir()
    del study
    gc.collect()
    assert not folder.exists()
