"""`archsearch calibrate`: how well cheap estimates rank architectures, and their cost."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from archsearch.cli.common import key_value_option
from archsearch.core.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="rank correlation of cheap estimates (few epochs, data fraction, resolution, "
        "zero-cost proxies) with full training, and their cost",
        description="Trains a sample of architectures at the reference setting and at each "
        "cheap one, then prints Kendall's tau and Spearman's rho against the reference.",
    )
    p.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10")
    p.add_argument("--data-dir", help="where datasets are (default: $ARCHSEARCH_DATA, ...)")
    p.add_argument("--space", default="chain")
    p.add_argument(
        "--space-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    p.add_argument("--sample", type=int, default=8, help="architectures to score")
    p.add_argument(
        "--reference",
        default="epochs=10",
        help="training settings of the full estimate, e.g. epochs=20,batch_size=128",
    )
    p.add_argument(
        "--estimate",
        action="append",
        metavar="SETTINGS",
        help="a cheap estimate (repeatable): training settings that override the reference's "
        "(epochs=1 | data_fraction=0.25 | resolution=14 | several, comma-separated) or "
        "proxy=NAME; default: epochs=1, epochs=3, data_fraction=0.25, half resolution, "
        "and every zero-cost proxy",
    )
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, help="also write the results as JSON here")
    p.add_argument("--quiet", action="store_true")


def _settings(text: str) -> dict[str, Any]:
    """'epochs=1,data_fraction=0.25' -> {'epochs': 1, 'data_fraction': 0.25}."""
    try:
        return dict(key_value_option(item) for item in text.split(",") if item)
    except argparse.ArgumentTypeError as e:
        raise ConfigError(f"calibrate settings {text!r}: {e}") from None


def main(args: argparse.Namespace) -> None:
    import numpy as np

    from archsearch.estimation.proxies import PROXIES, ProxyEvaluator
    from archsearch.estimation.training import TrainingEvaluator
    from archsearch.jobs.calibrate import calibrate
    from archsearch.nn.device import resolve_device
    from archsearch.space.base import get_space

    if args.sample < 3:
        raise ConfigError(f"--sample must be >= 3, got {args.sample}")
    space = get_space(args.space, **dict(args.space_option))
    common: dict[str, Any] = {
        "space": space,
        "data_dir": args.data_dir,
        "threads": args.threads,
        "device": resolve_device(args.device),
        "split_seed": args.seed,
    }
    reference_settings = _settings(args.reference)

    def training(settings: dict[str, Any]) -> TrainingEvaluator:
        try:
            return TrainingEvaluator(args.dataset, **common, **settings)
        except TypeError as e:
            raise ConfigError(f"calibrate: unknown training setting ({e})") from None

    reference = training(reference_settings)
    specs = args.estimate
    if specs is None:
        side = reference.dataset.task().input_shape[-1]
        specs = ["epochs=1", "epochs=3", "data_fraction=0.25", f"resolution={max(4, side // 2)}"]
        specs = [s for s in specs if _settings(s).items() - reference_settings.items()]
        specs += [f"proxy={name}" for name in PROXIES.names()]
    estimates: dict[str, Any] = {}
    for spec in specs:
        settings = _settings(spec)
        if "proxy" in settings:
            estimates[spec] = ProxyEvaluator(
                str(settings.pop("proxy")),
                args.dataset,
                space=space,
                data_dir=args.data_dir,
                threads=args.threads,
                split_seed=args.seed,
                **settings,
            )
        else:
            estimates[spec] = training({**reference_settings, **settings})
    rng = np.random.default_rng(args.seed)
    archs: list[Any] = []
    for _ in range(100 * args.sample):  # distinct architectures (a small space may run out)
        arch = space.sample(rng)
        if arch not in archs:
            archs.append(arch)
        if len(archs) == args.sample:
            break
    console = Console(stderr=True)

    def progress(label: str, done: int, total: int) -> None:
        if not args.quiet:
            console.print(f"  {label}: {done}/{total}", highlight=False)

    result = calibrate(
        archs,
        reference,
        estimates,
        seed=args.seed,
        reference_label=args.reference,
        progress=progress,
    )
    table = Table(
        title=f"calibration on {args.dataset}: {len(archs)} {args.space} architectures, "
        f"reference {args.reference} ({result.reference_seconds_per_arch:.1f} s each)"
    )
    for column in ("estimate", "Kendall tau", "Spearman", "s / arch", "cost ratio", "failed"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(
            row.label,
            f"{row.kendall_tau:.3f}",
            f"{row.spearman:.3f}",
            f"{row.seconds_per_arch:.2f}",
            f"{row.cost_ratio:.3f}",
            str(row.failed),
        )
    Console().print(table)
    if args.output is not None:
        from archsearch.core.atomic import atomic_write_text

        rows = [vars(r) for r in result.rows]
        payload = {
            "dataset": args.dataset,
            "space": space.id,
            "reference": args.reference,
            "reference_seconds_per_arch": result.reference_seconds_per_arch,
            "architectures": [a.to_json() for a in archs],
            "scores": result.scores,
            "estimates": rows,
        }
        atomic_write_text(args.output, json.dumps(payload, indent=2))
