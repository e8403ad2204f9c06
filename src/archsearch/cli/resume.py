"""`archsearch resume`: continue a study after an interruption or crash."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import add_execution_options, stored
from archsearch.cli.search import run_study
from archsearch.core.trial import Budget


def add_parser(sub: Any) -> None:
    p = sub.add_parser("resume", help="continue a study after an interruption or crash")
    p.add_argument("study", type=Path)
    p.add_argument("--budget", help="a new total budget (default: the stored one)")
    p.add_argument("--quiet", action="store_true")
    add_execution_options(p)


def main(args: argparse.Namespace) -> None:
    config, budget = stored(args.study)
    if args.budget is not None:
        budget = Budget.parse(args.budget)
    run_study(args.study, config, budget, args)
