"""The `archsearch` command line.

    archsearch search --space nb201 --benchmark nb201 --dataset cifar10 --strategy re \\
        --budget 12000s --seed 0 --study runs/demo
    archsearch status runs/demo
    archsearch resume runs/demo [--budget 400trials]
    archsearch export runs/demo [-o best.json]

Bad input (an unknown name, a malformed value, a study made with another config, a
corrupt database) prints one line, `archsearch: error: ...`, and exits with status 2
without writing anything.
"""

from __future__ import annotations

import sys
from types import ModuleType

from archsearch import __version__
from archsearch.cli import (
    bench,
    calibrate,
    export,
    oneshot,
    report,
    resume,
    run,
    search,
    status,
    transfer,
)
from archsearch.cli.common import Parser, fail
from archsearch.core.errors import ArchsearchError

#: every command, one module each: `add_parser(subparsers)` and `main(args)`
COMMANDS: dict[str, ModuleType] = {
    "run": run,
    "search": search,
    "resume": resume,
    "status": status,
    "export": export,
    "report": report,
    "bench": bench,
    "calibrate": calibrate,
    "oneshot": oneshot,
    "transfer": transfer,
}


def build_parser() -> Parser:
    parser = Parser(prog="archsearch", description="Neural architecture search for PyTorch.")
    parser.add_argument("--version", action="version", version=f"archsearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command].main(args) or 0)
    except ArchsearchError as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("archsearch: interrupted; continue with: archsearch resume STUDY", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
