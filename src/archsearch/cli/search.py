"""`archsearch search`: start (or continue) a search, by default on a tabular benchmark."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from archsearch import __version__
from archsearch.cli.common import (
    DB_NAME,
    Progress,
    add_execution_options,
    add_scheduler_options,
    key_value_option,
    make_executor,
    parse_objectives,
    print_summary,
    stored,
)
from archsearch.core.errors import StudyError
from archsearch.core.trial import Budget
from archsearch.execution import Executor
from archsearch.schedulers import Scheduler
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.study import Study
from archsearch.study.config import StudyConfig, build_components, build_scheduler


def add_parser(sub: Any) -> None:
    p = sub.add_parser("search", help="start (or continue) a search on a tabular benchmark")
    p.add_argument("--space", default="nb201", help="search space (default: nb201)")
    p.add_argument("--benchmark", default="nb201", help="tabular benchmark that scores cells")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or ImageNet16-120")
    p.add_argument("--fidelity", type=int, default=12, help="benchmark epochs: 12 or 200")
    p.add_argument(
        "--signal-seed",
        choices=("mean", "random"),
        default="mean",
        help="validation accuracy: seed mean, or one seed at random (200 epochs only)",
    )
    p.add_argument("--strategy", default="re", help="search strategy (default: re)")
    p.add_argument(
        "--strategy-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy setting, e.g. population_size=20 (repeatable)",
    )
    add_scheduler_options(p)
    p.add_argument(
        "--objectives",
        help="multi-objective mode, e.g. val_acc:max,params_m:min (ranked by Pareto front)",
    )
    p.add_argument("--budget", required=True, help="e.g. 12000s, 30m, 200trials")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--study", required=True, type=Path, help="study folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_options(p)


def run_study(folder: Path, config: StudyConfig, budget: Budget, args: argparse.Namespace) -> None:
    space, strategy, evaluator = build_components(config)  # every check before any write
    scheduler = build_scheduler(config, evaluator)
    executor = make_executor(args, config)
    try:
        _search(folder, config, budget, args, space, strategy, evaluator, scheduler, executor)
    finally:
        executor.shutdown()


def _search(
    folder: Path,
    config: StudyConfig,
    budget: Budget,
    args: argparse.Namespace,
    space: Any,
    strategy: Any,
    evaluator: Any,
    scheduler: Scheduler,
    executor: Executor,
) -> None:
    with SQLiteStorage(folder / DB_NAME) as storage:
        study = Study(
            space,
            strategy,
            storage,
            seed=config.seed,
            metric=config.metric,
            mode=config.mode,
            objectives=config.objectives,
        )
        if storage.get_meta("config") is None:
            storage.set_meta("library_version", __version__)
            storage.set_meta("created_at", time.time())
            storage.set_meta("config", config.model_dump())
        storage.set_meta("budget", str(budget))
        done_before = len(study.completed())
        with Progress(budget, args.quiet, len(study.trials)) as progress:
            study.optimize(
                evaluator,
                budget=budget,
                executor=executor,
                scheduler=scheduler,
                callbacks=[progress.update],
                max_retries=args.max_retries,
            )
        print_summary(study, folder, len(study.completed()) - done_before)


def main(args: argparse.Namespace) -> None:
    budget = Budget.parse(args.budget)
    config = StudyConfig.parse(
        {
            "space": args.space,
            "strategy": args.strategy,
            "strategy_options": dict(args.strategy_option),
            "scheduler": args.scheduler,
            "scheduler_options": dict(args.scheduler_option),
            "evaluator": args.benchmark,
            "evaluator_options": {
                "dataset": args.dataset,
                "fidelity": args.fidelity,
                "seed": args.signal_seed,
            },
            "objectives": parse_objectives(args.objectives),
            "seed": args.seed,
        }
    )
    build_scheduler(config, build_components(config)[2])  # bad names before comparing configs
    if (args.study / DB_NAME).exists():
        previous, _ = stored(args.study)
        diff = config.differences(previous)
        if diff:
            raise StudyError(
                f"{args.study} holds a study with a different config ({', '.join(diff)}); "
                "use another --study folder, or `archsearch resume` to continue that one"
            )
    run_study(args.study, config, budget, args)
