"""The search job: a study of a space, a strategy, an evaluator and a scheduler, run to
its budget in a folder, with its report. By default on the NAS-Bench-201 table (at
table speed, on a simulated clock); any registered evaluator can score it."""

from __future__ import annotations

from collections.abc import Sequence
from inspect import signature
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from archsearch.core.trial import Budget
from archsearch.estimation.base import Evaluator
from archsearch.execution import InlineExecutor, SimulatedExecutor
from archsearch.execution.base import Executor
from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime
from archsearch.report import write_report
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy
from archsearch.study import Constraint, Study
from archsearch.study.config import StudyConfig, build_components, build_scheduler
from archsearch.study.folder import StudyFolder
from archsearch.study.selection import best_trial

#: evaluators that score by look-up: their cost runs a simulated clock
TABULAR_EVALUATORS = ("nb201",)


class SearchConfig(JobConfig):
    """What `archsearch search` does."""

    space: str = Field("nb201", description="search space")
    space_options: dict[str, Any] = Field(default_factory=dict, description="space setting")
    strategy: str = Field("re", description="search strategy")
    strategy_options: dict[str, Any] = Field(
        default_factory=dict, description="strategy setting, e.g. population_size=20"
    )
    benchmark: str = Field("nb201", description="the evaluator: a tabular benchmark by default")
    dataset: str = Field("cifar10", description="cifar10, cifar100 or ImageNet16-120")
    fidelity: int = Field(12, description="benchmark epochs: 12 or 200")
    signal_seed: Literal["mean", "random"] = Field(
        "mean", description="validation accuracy: seed mean, or one seed at random (200 only)"
    )
    scheduler: str = Field("fifo", description="fifo, sh, hyperband or asha")
    scheduler_options: dict[str, Any] = Field(
        default_factory=dict, description="e.g. eta=3 or resources=[12,200]"
    )
    objectives: list[tuple[str, Literal["max", "min"]]] | None = Field(
        None, description="multi-objective mode, e.g. val_acc:max,params_m:min"
    )
    budget: str = Field("200trials", description="e.g. 12000s, 30m, 200trials")
    seed: int = Field(0, description="the study seed")

    def study_config(self) -> StudyConfig:
        options: dict[str, Any] = {}
        if self.benchmark == "nb201":
            options = {"dataset": self.dataset, "fidelity": self.fidelity, "seed": self.signal_seed}
            # the devices whose latency an objective names: `latency@pixel2`
            devices = [m.split("@", 1)[1] for m, _ in self.objectives or [] if "@" in m]
            if devices:
                options["devices"] = devices
        strategy_options = dict(self.strategy_options)
        if self.objectives and "objectives" in signature(STRATEGIES.get(self.strategy)).parameters:
            # a multi-objective strategy searches the study's objectives unless told others
            strategy_options.setdefault("objectives", [list(o) for o in self.objectives])
        return StudyConfig.parse(
            {
                "space": self.space,
                "space_options": self.space_options,
                "strategy": self.strategy,
                "strategy_options": strategy_options,
                "evaluator": self.benchmark,
                "evaluator_options": options,
                "scheduler": self.scheduler,
                "scheduler_options": self.scheduler_options,
                "objectives": self.objectives,
                "seed": self.seed,
            }
        )


def default_executor(config: StudyConfig) -> Executor:
    """A simulated clock for a tabular benchmark, else trials one at a time inline."""
    return SimulatedExecutor(1) if config.evaluator in TABULAR_EVALUATORS else InlineExecutor()


def check_study(config: StudyConfig) -> None:
    """Every name and option of a study config, checked by building its parts."""
    build_scheduler(config, build_components(config)[2])


def run_study(
    folder: StudyFolder,
    config: StudyConfig,
    budget: Budget,
    runtime: Runtime,
    *,
    parts: tuple[SearchSpace, Strategy, Evaluator] | None = None,
    constraints: Sequence[Constraint] = (),
) -> tuple[Study, int]:
    """Search `config`'s study in `folder` until `budget` (resuming what is stored),
    with its parts built already if given; the study and the trials it completed in
    this call."""
    space, strategy, evaluator = parts or build_components(config)
    scheduler = build_scheduler(config, evaluator)
    storage = folder.storage
    storage.set_meta("config", config.model_dump(mode="json"))
    storage.set_meta("budget", str(budget))
    study = Study(
        space,
        strategy,
        storage,
        seed=config.seed,
        metric=config.metric,
        mode=config.mode,
        objectives=config.objectives,
        constraints=constraints,
        checkpoint_dir=folder.checkpoints / "trials",
    )
    executor = runtime.executor() if runtime.executor is not None else default_executor(config)
    before = len(study.completed())
    try:
        study.optimize(
            evaluator,
            budget=budget,
            executor=executor,
            scheduler=scheduler,
            callbacks=runtime.callbacks,
            max_retries=runtime.max_retries,
        )
    finally:
        executor.shutdown()
    return study, len(study.completed()) - before


def study_summary(study: Study) -> dict[str, Any]:
    """Counts and the best trial (the one rule of `study.selection`)."""
    best = best_trial(study.trials, study.objectives)
    summary: dict[str, Any] = study.summary()
    if best is not None:
        summary |= {
            "best_trial": best.number,
            "architecture": study.space.describe(best.arch),
            "genotype": best.arch.to_dict(),
            **{f"best_{k}": v for k, v in best.metrics.items()},
        }
    return summary


def search(config: SearchConfig, folder: StudyFolder, runtime: Runtime) -> dict[str, Any]:
    study_config = config.study_config()
    study, new = run_study(folder, study_config, Budget.parse(config.budget), runtime)
    write_report(
        study.trials,
        study.space,
        folder.report,
        metric=study_config.metric or "val_acc",
        mode=study_config.mode or "max",
        objectives=study_config.objectives,
        title=f"archsearch search: {config.strategy} on {config.space} ({config.benchmark})",
    )
    return {**study_summary(study), "new_in_this_run": new}


JOBS.add(
    "search",
    Job(
        "search",
        SearchConfig,
        search,
        help="start (or continue) a search, on a tabular benchmark by default",
        free=("budget",),
        budget=lambda c: Budget.parse(c.budget),
        check=lambda c: check_study(c.study_config()),
        folder=lambda c: Path("runs") / f"search-{c.space}-{c.strategy}-{c.dataset}-s{c.seed}",
    ),
)
