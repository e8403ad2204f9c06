"""`archsearch export`: the best genotype of a study as JSON (the one best-trial rule)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from archsearch.cli.common import load_study
from archsearch.core.atomic import atomic_write_text
from archsearch.core.errors import StudyError
from archsearch.study.selection import best_trial


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write the best genotype as JSON")
    p.add_argument("study", type=Path)
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def main(args: argparse.Namespace) -> None:
    config, _, trials, space = load_study(args.study)
    best = best_trial(trials, config.objectives)
    if best is None:
        raise StudyError(f"{args.study}: no complete trial to export yet")
    document = {
        **best.arch.to_dict(),
        "description": space.describe(best.arch),
        "trial": best.number,
        "metrics": best.metrics,
    }
    text = json.dumps(document, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
