"""`archsearch run`: the main job (search, final training, test, export, report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import run_with_progress
from archsearch.cli.flags import add_config_flags, config_from_args, print_config
from archsearch.jobs.run import RunConfig
from archsearch.study.config import build_components


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: search a network for a dataset, retrain, test, export, report",
        description="With no arguments: a CNN for scikit-learn's digits in a few minutes.",
    )
    add_config_flags(p, RunConfig)
    p.add_argument("--study", type=Path, help="job folder (default: runs/JOB-SETTINGS-sSEED)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> None:
    config = config_from_args(args, RunConfig)
    if args.print_config:
        print_config(config)
        return
    build_components(config.study_config())  # report bad names before any output
    run_with_progress(config, args.study, args)
