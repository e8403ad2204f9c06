"""What the commands share: the parser that fails in one line, the execution flags,
running a job with a progress display, and reading a stored study."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from archsearch.core.errors import ConfigError, StudyError
from archsearch.core.trial import Budget, Trial, TrialState
from archsearch.execution import (
    Executor,
    InlineExecutor,
    ProcessPoolExecutor,
    RayExecutor,
    SimulatedExecutor,
)
from archsearch.jobs import JobConfig, Runtime, job_of, run_job
from archsearch.jobs.search import TABULAR_EVALUATORS, SearchConfig
from archsearch.space.base import SearchSpace
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.study import Study
from archsearch.study.config import StudyConfig, build_components
from archsearch.study.folder import DB_NAME


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse's convention)
        fail(message)


def fail(message: str) -> NoReturn:
    print(f"archsearch: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def add_execution_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution (not stored with the study; a resume may choose anew)")
    g.add_argument(
        "--executor",
        choices=("auto", "inline", "simulated", "pool", "ray"),
        default="auto",
        help="auto: a simulated clock for tabular benchmarks, else inline; pool: local worker "
        "processes; ray: Ray tasks (with pool or ray a seconds budget is wall time)",
    )
    g.add_argument("--workers", type=int, help="trials at once (pool: 2; ray: as the CPUs allow)")
    g.add_argument("--threads-per-worker", type=int, default=1, help="threads (CPUs) per trial")
    g.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs each Ray trial asks for")
    g.add_argument("--ray-address", help="'auto' joins a running Ray cluster; default: a local one")
    g.add_argument(
        "--trial-timeout", type=float, help="seconds before a trial is stopped (pool, ray)"
    )
    g.add_argument(
        "--max-retries", type=int, default=1, help="re-runs of a trial whose worker died"
    )


def executor_factory(args: argparse.Namespace, config: JobConfig) -> Callable[[], Executor] | None:
    """The executor the execution flags ask for (None: the job's own default)."""
    if not hasattr(args, "executor"):
        return None
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.max_retries < 0:
        raise ConfigError(f"--max-retries must be >= 0, got {args.max_retries}")
    kind = args.executor
    if kind == "auto":
        tabular = isinstance(config, SearchConfig) and config.benchmark in TABULAR_EVALUATORS
        kind = "simulated" if tabular else "inline"
    if args.trial_timeout is not None and kind not in ("pool", "ray"):
        raise ConfigError(
            "--trial-timeout needs --executor pool or ray (inline trials cannot stop)"
        )
    if kind == "inline":
        return InlineExecutor
    if kind == "simulated":
        return lambda: SimulatedExecutor(args.workers or 1)
    if kind == "pool":
        return lambda: ProcessPoolExecutor(
            args.workers or 2,
            threads_per_worker=args.threads_per_worker,
            trial_timeout=args.trial_timeout,
        )
    return lambda: RayExecutor(
        args.workers,
        num_cpus=args.threads_per_worker,
        num_gpus=args.gpus_per_trial,
        address=args.ray_address,
        trial_timeout=args.trial_timeout,
    )


def run_with_progress(
    config: JobConfig, folder: Path | None, args: argparse.Namespace, *, show: bool = True
) -> dict[str, Any]:
    """Run (or continue) a job in `folder` (None: the job's default for this config)
    with a progress display; return its summary (and print it, with `show`)."""
    job = job_of(config)
    folder = folder or job.folder(config)
    job.check(config)  # bad names and flags before any output
    executor = executor_factory(args, config)
    with Progress(job.budget(config), args.quiet) as progress:
        runtime = Runtime(
            log=progress.log,
            callbacks=(progress.update,),
            executor=executor,
            max_retries=getattr(args, "max_retries", 1),
        )
        summary = run_job(config, folder, runtime)
    if show:
        print_summary(folder, summary)
    return summary


def stored(folder: Path) -> tuple[StudyConfig, Budget]:
    """A folder's search config and budget, read without writing anything."""
    db = folder / DB_NAME
    if not db.exists():
        raise StudyError(f"{folder}: no study here (missing {DB_NAME})")
    with SQLiteStorage(db, readonly=True) as storage:
        config, budget = storage.get_meta("config"), storage.get_meta("budget")
    if config is None or budget is None:
        raise StudyError(f"{db}: holds no search (this job has no trials)")
    return StudyConfig.parse(config), Budget.parse(budget)


def load_study(folder: Path) -> tuple[StudyConfig, Budget, list[Trial], SearchSpace]:
    """A stored study's config, budget, trials and space, read without writing."""
    config, budget = stored(folder)
    with SQLiteStorage(folder / DB_NAME, readonly=True) as storage:
        trials = storage.trials()
    return config, budget, trials, build_components(config)[0]


class Progress:
    """A rich progress bar over a search budget (trials or clock seconds), redrawn at
    most 10 times a second, and the job's messages above it; with no budget, the
    messages only; with `quiet`, nothing."""

    def __init__(self, budget: Budget | None, quiet: bool) -> None:
        self.budget, self.quiet = budget, quiet
        self._last = 0.0
        self._latest: tuple[Study, Trial] | None = None
        self.bar: Any = None
        self.console = Console()

    def __enter__(self) -> Progress:
        if not self.quiet and self.budget is not None:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("[bold]searching"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            total = self.budget.seconds or self.budget.trials
            self.task = self.bar.add_task("search", total=total, info="", completed=0)
            self.bar.start()
            self.console = self.bar.console
        return self

    def log(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False)

    def update(self, study: Study, trial: Trial, force: bool = False) -> None:
        self._latest = (study, trial)
        now = time.monotonic()
        if self.bar is None or (now - self._last < 0.1 and not force):
            return
        self._last = now
        seconds = self.budget is not None and self.budget.seconds is not None
        done = (trial.clock_end or 0.0) if seconds else len(study.trials)
        best = max((t.score for t in study.trials if t.score is not None), default=None)
        info = f"{len(study.trials)} trials" + ("" if best is None else f", best score {best:.3f}")
        self.bar.update(self.task, completed=done, info=info)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            if self._latest is not None:
                self.update(*self._latest, force=True)
            self.bar.stop()


def print_summary(folder: Path, summary: dict[str, Any]) -> None:
    """A job's summary: its trial counts, then a two-column table (the config left out:
    `--print-config` shows it)."""
    console = Console()
    if "trials" in summary and "COMPLETE" in summary:
        new = summary.get("new_in_this_run")
        console.print(
            f"{folder}: {summary['trials']} trials ({summary['COMPLETE']} complete, "
            f"{summary['FAILED']} failed, {summary['PRUNED']} pruned)"
            + ("" if new is None else f"; {new} new in this run")
        )
    title = (
        f"best architecture: trial {summary['best_trial']}"
        if "best_trial" in summary
        else str(folder)
    )
    table = Table(title=title, show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    hidden = {"config", "job", "genotype", "trials", "new_in_this_run", *TrialState.__members__}
    for key, value in summary.items():
        if key in hidden or isinstance(value, dict | list):
            continue
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
