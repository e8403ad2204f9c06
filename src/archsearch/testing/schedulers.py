"""The scheduler contract, checked through a study: every trial ends, a promotion
continues a finished trial of the same architecture at a higher resource, no resource
exceeds the scheduler's largest, and the study's budget counts only new architectures."""

from __future__ import annotations

from archsearch.core.trial import Result, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.schedulers.base import Scheduler
from archsearch.space.nb201 import NB201Space
from archsearch.strategies.random import RandomSearch
from archsearch.study.loop import Study
from archsearch.testing.strategies import synthetic_score


class _Synthetic(Evaluator):
    """Scores a cell by a fixed function plus its resource (more training, better)."""

    metric, mode = "val_acc", "max"

    def __init__(self) -> None:
        self.space = NB201Space()

    def evaluate(self, arch, ctx: TrialContext) -> Result:  # type: ignore[no-untyped-def]
        resource = 1.0 if ctx.resource is None else ctx.resource
        for step in range(1, int(resource) + 1):
            ctx.reporter.report(step, {"val_acc": synthetic_score(self.space, arch) + step})
        return Result.complete({"val_acc": synthetic_score(self.space, arch) + resource}, 1.0)


def check_scheduler(scheduler: Scheduler, architectures: int = 30) -> None:
    space = NB201Space()
    study = Study(space, RandomSearch(space, seed=0), seed=0)
    study.optimize(_Synthetic(), budget=f"{architectures}trials", scheduler=scheduler)
    trials = study.trials
    assert all(t.state.finished for t in trials), "a trial was left RUNNING"
    assert sum(not t.promoted for t in trials) == architectures, "budget miscounted"
    by_number = {t.number: t for t in trials}
    for t in trials:
        if scheduler.max_resource is not None and t.resource is not None:
            assert t.resource <= scheduler.max_resource, f"trial {t.number} over the top rung"
        if t.promoted:
            parent = by_number[t.parent]  # type: ignore[index]
            assert parent.arch == t.arch, "a promotion changed the architecture"
            assert parent.state is TrialState.COMPLETE, "promoted from an unfinished trial"
            assert (t.resource or 0) > (parent.resource or 0), "a promotion must go up"
