"""`archsearch resume`: continue any job (search, run, oneshot, transfer, calibrate)
after an interruption or crash, with the config its folder stores."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import add_execution_options, run_with_progress
from archsearch.core.errors import ConfigError
from archsearch.jobs import stored_config
from archsearch.study.config import parse_model


def add_parser(sub: Any) -> None:
    p = sub.add_parser("resume", help="continue a job after an interruption or crash")
    p.add_argument("study", type=Path)
    p.add_argument("--budget", help="a search's new total budget (default: the stored one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_options(p)


def main(args: argparse.Namespace) -> None:
    job, config = stored_config(args.study)
    if args.budget is not None:
        if "budget" not in job.free:
            raise ConfigError(f"--budget: a {job.name} job has no search budget to extend")
        config = parse_model(job.config, {**config.model_dump(), "budget": args.budget})
    run_with_progress(config, args.study, args)
