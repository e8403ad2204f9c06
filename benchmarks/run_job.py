"""Run `archsearch run` with the given arguments and record its outcome in results/.

    python benchmarks/run_job.py fashion_mnist_30m -- --dataset fashion-mnist --time-budget 30m
    python benchmarks/run_job.py digits_default --          # the README's main job

The record holds the command, the machine, the wall time, and the run's summary: the
search (trials, winner), the final training and the test accuracy, and the exports.
`--record-only FOLDER` writes the record of a run made earlier with the same arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from reporting import RESULTS, header, write

from archsearch.cli import main as cli_main
from archsearch.jobs.run import SUMMARY_KEYS


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="the record's file name in benchmarks/results/")
    parser.add_argument("--record-only", type=Path, help="a finished run's folder")
    args = parser.parse_args(argv[:split])
    run_args = argv[split + 1 :]
    folder = args.record_only or Path("runs") / f"bench-{args.name}"
    wall = None
    if args.record_only is None:
        start = time.monotonic()
        cli_main(["run", *run_args, "--study", str(folder), "--quiet"])
        wall = time.monotonic() - start
    summary = json.loads((folder / "summary.json").read_text())
    lines = [
        *header(f"archsearch run: {args.name}", "run_job.py", argv),
        f"- `archsearch run {shlex.join(run_args)}`; load average at the end: "
        f"{os.getloadavg()[0]:.1f} (2 cores: above 2 means other work competed)",
    ]
    if wall is not None:
        lines.append(f"- wall time of the whole command: {wall:.0f} s")
    lines += ["", "| what | value |", "|---|---|"]
    for key in SUMMARY_KEYS:
        value = summary.get(key)
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {text.replace('|', '/')} |")
    write(lines, RESULTS / f"{args.name}.md")


if __name__ == "__main__":
    main()
