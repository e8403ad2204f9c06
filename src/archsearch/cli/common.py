"""What the commands share: the parser that fails in one line, KEY=VALUE options, the
execution flags, reading a stored study, and the progress display."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from archsearch.core.errors import ConfigError, StudyError
from archsearch.core.trial import Budget, Trial
from archsearch.execution import (
    Executor,
    InlineExecutor,
    ProcessPoolExecutor,
    RayExecutor,
    SimulatedExecutor,
)
from archsearch.space.base import SearchSpace
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.study import Study
from archsearch.study.config import StudyConfig, build_components

DB_NAME = "study.db"
TABULAR_EVALUATORS = ("nb201",)  # scored by look-up: their cost runs a simulated clock


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse's convention)
        fail(message)


def fail(message: str) -> NoReturn:
    print(f"archsearch: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def key_value_option(text: str) -> tuple[str, Any]:
    """argparse type of `--space-option` and the like: KEY=VALUE, the value JSON if it
    parses (numbers, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a bare word is a string


def add_scheduler_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        default="fifo",
        help="fifo (default), sh, hyperband, asha; BOHB is --strategy bohb --scheduler hyperband",
    )
    p.add_argument(
        "--scheduler-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. eta=3, min_resource=1, max_resource=27 or resources=[12,200] (repeatable)",
    )


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


def make_executor(args: argparse.Namespace, config: StudyConfig) -> Executor:
    kind = args.executor
    if kind == "auto":
        kind = "simulated" if config.evaluator in TABULAR_EVALUATORS else "inline"
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.max_retries < 0:
        raise ConfigError(f"--max-retries must be >= 0, got {args.max_retries}")
    if args.trial_timeout is not None and kind not in ("pool", "ray"):
        raise ConfigError(
            "--trial-timeout needs --executor pool or ray (inline trials cannot stop)"
        )
    if kind == "inline":
        return InlineExecutor()
    if kind == "simulated":
        return SimulatedExecutor(args.workers or 1)
    if kind == "pool":
        return ProcessPoolExecutor(
            args.workers or 2,
            threads_per_worker=args.threads_per_worker,
            trial_timeout=args.trial_timeout,
        )
    return RayExecutor(
        args.workers,
        num_cpus=args.threads_per_worker,
        num_gpus=args.gpus_per_trial,
        address=args.ray_address,
        trial_timeout=args.trial_timeout,
    )


def stored(folder: Path) -> tuple[StudyConfig, Budget]:
    """A study's config and budget, read without writing anything."""
    db = folder / DB_NAME
    if not db.exists():
        raise StudyError(f"{folder}: no study here (missing {DB_NAME})")
    with SQLiteStorage(db, readonly=True) as storage:
        config, budget = storage.get_meta("config"), storage.get_meta("budget")
    if config is None or budget is None:
        raise StudyError(f"{db}: holds no study config")
    return StudyConfig.parse(config), Budget.parse(budget)


def load_study(folder: Path) -> tuple[StudyConfig, Budget, list[Trial], SearchSpace]:
    """A stored study's config, budget, trials and space, read without writing."""
    config, budget = stored(folder)
    with SQLiteStorage(folder / DB_NAME, readonly=True) as storage:
        trials = storage.trials()
    return config, budget, trials, build_components(config)[0]


class Progress:
    """A rich progress bar over the budget (trials or clock seconds), redrawn at most 10x/s."""

    def __init__(self, budget: Budget, quiet: bool, already: int) -> None:
        self.budget, self.quiet, self.already = budget, quiet, already
        self._last = 0.0
        self._latest: tuple[Study, Trial] | None = None

    def __enter__(self) -> Progress:
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]searching"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            total = self.budget.trials if self.budget.seconds is None else self.budget.seconds
            self.task = self.bar.add_task("search", total=total, info="", completed=0)
            self.bar.start()
        return self

    def log(self, message: str) -> None:
        if not self.quiet:
            self.bar.console.print(message)

    def update(self, study: Study, trial: Trial, force: bool = False) -> None:
        self._latest = (study, trial)
        now = time.monotonic()
        if self.quiet or (now - self._last < 0.1 and not force):
            return
        self._last = now
        done = len(study.trials) if self.budget.seconds is None else (trial.clock_end or 0.0)
        best = max((t.score for t in study.trials if t.score is not None), default=None)
        info = f"{len(study.trials)} trials" + ("" if best is None else f", best score {best:.3f}")
        self.bar.update(self.task, completed=done, info=info)

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            if self._latest is not None:
                self.update(*self._latest, force=True)
            self.bar.stop()


def print_summary(study: Study, folder: Path, new: int) -> None:

    console = Console()
    s = study.summary()
    console.print(
        f"{folder}: {s['trials']} trials ({s['COMPLETE']} complete, {s['FAILED']} failed, "
        f"{s['PRUNED']} pruned); {new} new in this run"
    )
    if study.completed():
        best = study.best()
        table = Table(title=f"best architecture: trial {best.number}", show_header=False)
        table.add_column(overflow="fold")
        table.add_column(overflow="fold")
        table.add_row("architecture", study.space.describe(best.arch))
        for name, value in best.metrics.items():
            table.add_row(name, f"{value:.4g}")
        console.print(table)


def parse_objectives(text: str | None) -> list[tuple[str, str]] | None:
    if text is None:
        return None
    pairs = []
    for item in text.split(","):
        metric, _, direction = item.partition(":")
        if direction not in ("max", "min") or not metric:
            raise ConfigError(f"--objectives: write METRIC:max or METRIC:min, not {item!r}")
        pairs.append((metric, direction))
    return pairs
