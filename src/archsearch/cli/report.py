"""`archsearch report`: the HTML report of any job folder: the trials of a search, run
or transfer, the epochs and derived cell of a one-shot search."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archsearch.cli.common import load_study
from archsearch.core.errors import StudyError
from archsearch.jobs import stored_config
from archsearch.jobs.oneshot import write_oneshot_report
from archsearch.report import write_report
from archsearch.study.folder import StudyFolder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="write the HTML report of a study")
    p.add_argument("study", type=Path)
    p.add_argument("-o", "--output", type=Path, help="file to write (default: STUDY/report.html)")


def main(args: argparse.Namespace) -> None:
    job, _ = stored_config(args.study)
    if job.name == "oneshot":  # epochs of one supernet, not trials
        summary = StudyFolder(args.study).summary()
        if summary is None:
            raise StudyError(f"{args.study}: the one-shot job has not finished yet")
        path = write_oneshot_report(summary, args.output or args.study / "report.html")
        print(f"wrote {path}")
        return
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
