"""The job contract: a job is a config model, a folder and steps.

Every job (`search`, `run`, `oneshot`, `transfer`, `calibrate`) is a registered `Job`:
its pydantic config model (the CLI's flags and a config file's keys are generated from
it), and `run(config, folder, runtime)`, which works through its steps in a
`StudyFolder` and returns the summary it also writes there. Running a job again on its
folder (or `archsearch resume FOLDER`) continues it after any crash, `kill -9`
included: finished steps are read back, a study resumes by replay, training resumes
from its last epoch checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from archsearch.core.registry import Registry
from archsearch.core.trial import Budget
from archsearch.execution.base import Executor
from archsearch.study.config import parse_model
from archsearch.study.folder import StudyFolder
from archsearch.study.loop import Callback

C = TypeVar("C", bound="JobConfig")
Log = Callable[[str], None]


class JobConfig(BaseModel):
    """Base of every job's config: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _quiet(_: str) -> None:
    pass


@dataclass
class Runtime:
    """How a job runs on this machine, not stored with it (a resume may choose anew):
    where messages go, study callbacks (a progress bar), the executor for searches that
    may choose one (None: the job's own default) and retries of lost trials."""

    log: Log = _quiet
    callbacks: tuple[Callback, ...] = ()
    executor: Callable[[], Executor] | None = None
    max_retries: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job(Generic[C]):
    """A registered job: its name, config model and runner; `free` names the config
    fields a resume may change (a search's budget), `budget` the search budget a
    progress bar should show (None: the job has none), `check` validates a config's
    names and options before anything is written (raising `ConfigError`), `folder` is
    the default folder of a config."""

    name: str
    config: type[C]
    run: Callable[[C, StudyFolder, Runtime], dict[str, Any]]
    help: str
    free: tuple[str, ...] = ()
    budget: Callable[[C], Budget | None] = lambda _: None
    check: Callable[[C], None] = lambda _: None
    folder: Callable[[C], Path] = lambda c: Path("runs") / f"job-s{getattr(c, 'seed', 0)}"


JOBS: Registry[Job[Any]] = Registry("job")


def run_job(
    config: JobConfig, folder: str | Path, runtime: Runtime | None = None
) -> dict[str, Any]:
    """Run (or continue) the job whose config this is, in `folder`; returns its summary
    (a finished job's stored summary, if it finished with this very config)."""
    job = job_of(config)
    job.check(config)
    settings = config.model_dump(mode="json")
    with StudyFolder(folder) as study_folder:
        done = study_folder.summary() if study_folder.db.exists() else None
        study_folder.open(job.name, settings, free=job.free)
        if done is not None and done.get("config") == settings:
            return done
        summary = job.run(config, study_folder, runtime or Runtime())
        return study_folder.finish({**summary, "job": job.name, "config": settings})


def job_of(config: JobConfig) -> Job[Any]:
    """The registered job whose config model `config` is."""
    for name in JOBS:
        if type(config) is JOBS.get(name).config:
            return JOBS.get(name)
    raise TypeError(f"{type(config).__name__} is not the config of a registered job")


def stored_config(folder: str | Path) -> tuple[Job[Any], JobConfig]:
    """The job and config a folder was made with (for `resume`, `status`, `report`)."""
    name, config = StudyFolder(folder).stored_job()
    job = JOBS.get(name)
    return job, parse_model(job.config, config)
