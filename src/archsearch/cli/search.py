"""`archsearch search`: start (or continue) a search, on a tabular benchmark by default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import add_execution_options, run_with_progress
from archsearch.cli.flags import add_config_flags, config_from_args, print_config
from archsearch.jobs.search import SearchConfig


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "search", help="start (or continue) a search, on a tabular benchmark by default"
    )
    add_config_flags(p, SearchConfig)
    p.add_argument("--study", type=Path, help="job folder (default: runs/JOB-SETTINGS-sSEED)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_options(p)


def main(args: argparse.Namespace) -> None:
    config = config_from_args(args, SearchConfig)
    if args.print_config:
        print_config(config)
        return
    run_with_progress(config, args.study, args)
