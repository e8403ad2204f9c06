"""What every benchmark's results file starts with, and how it is written.

Each benchmark prints a table and writes it to `benchmarks/results/` with the command that
made it, the machine and the date, so a number can always be traced to its run.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def header(title: str, script: str, argv: list[str] | None = None) -> list[str]:
    """Markdown lines: the title, the command, the date and the machine."""
    from archsearch import __version__

    args = " ".join(sys.argv[1:] if argv is None else argv)
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        import torch

        torch_version = f", PyTorch {torch.__version__}"
    except ImportError:
        torch_version = ""
    return [
        f"# {title}",
        "",
        f"- command: `python benchmarks/{script} {args}`".rstrip("` ") + "`",
        f"- date: {now:%Y-%m-%d %H:%M} UTC; archsearch {__version__}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, NumPy {np.__version__}"
        f"{torch_version}",
    ]


def write(lines: list[str], path: Path) -> None:
    """Print the table and write it atomically."""
    text = "\n".join(lines) + "\n"
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    print(f"wrote {path}", file=sys.stderr)
