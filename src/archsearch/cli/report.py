"""`archsearch report`: the HTML report of any study folder (search, run, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import load_study
from archsearch.report import write_report


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="write the HTML report of a study")
    p.add_argument("study", type=Path)
    p.add_argument("-o", "--output", type=Path, help="file to write (default: STUDY/report.html)")


def main(args: argparse.Namespace) -> None:
    config, _, trials, space = load_study(args.study)
    path = write_report(
        trials,
        space,
        args.output or args.study / "report.html",
        metric=config.metric or "val_acc",
        mode=config.mode or "max",
        objectives=config.objectives,
        title=f"archsearch: {config.strategy} on {config.space} ({config.evaluator})",
    )
    print(f"wrote {path}")
