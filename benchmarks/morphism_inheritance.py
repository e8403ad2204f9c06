"""Weight inheritance by network morphism: epochs a child needs to reach its parent's
validation accuracy, inherited against trained from scratch.

Protocol: on Fashion-MNIST (a fixed fraction of the training split, validation carved
out by a seed), train several random chain parents from scratch for `--parent-epochs`
epochs (each one admits all four morph kinds). Morph each parent once per kind (widen,
deepen, skip, kernel; the morph drawn at random), then train the child (a) from the
parent's morphed weights through the "inherit" evaluator, at each learning rate of
`--inherit-lr`, and (b) from scratch with the "train" evaluator. Every child run uses a
cosine schedule over `--cap` epochs and stops at the first epoch whose validation
accuracy reaches the parent's; a child that never does is reported as "> cap". Epoch
0 of an inherited child is the morphed parent itself (same function, same accuracy),
so the count starts at 1: the question is whether training from inherited weights
keeps, and how soon it regains, what the parent had.

    nice -n 10 python benchmarks/morphism_inheritance.py            # about 15 minutes
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reporting

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Pruned, Reporter
from archsearch.estimation.base import TrialContext
from archsearch.estimation.inheritance import InheritanceEvaluator, arch_key
from archsearch.estimation.training import TrainingEvaluator
from archsearch.space.chain import ChainSpace
from archsearch.space.morphism import MORPH_KINDS, apply_morph, available_morphs


class StopAtTarget(Reporter):
    """Records each epoch's validation accuracy; stops the trial once it reaches `target`."""

    def __init__(self, target: float) -> None:
        self.target = target
        self.curve: list[float] = []

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.curve.append(metrics["val_acc"])
        if metrics["val_acc"] >= self.target:
            raise Pruned


@dataclass
class Run:
    epochs: int | None  # None: not reached within the cap
    curve: list[float]
    seconds: float
    start_acc: float | None = None


@dataclass
class Row:
    parent: str
    parent_acc: float
    morph: str
    runs: dict[str, Run] = field(default_factory=dict)


def pick_parents(space: ChainSpace, n: int, seed: int, max_flops: float) -> list[Architecture]:
    """Random parents that admit every morph kind, under a FLOPs cap (rejection sampling)."""
    from archsearch.core.genotype import TaskSpec

    rng = np.random.default_rng(seed)
    task = TaskSpec((1, 28, 28), 10)
    out: list[Architecture] = []
    while len(out) < n:
        arch = space.sample(rng)
        kinds = {m.kind for m in available_morphs(space, arch)}
        if kinds != set(MORPH_KINDS) or arch in out:
            continue
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        net = space.build(arch, task).eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            net(torch.zeros(1, *task.input_shape))
        if counter.get_total_flops() <= max_flops:
            out.append(arch)
    return out


def run_child(
    evaluator: TrainingEvaluator, arch: Architecture, target: float, cap: int, number: int
) -> Run:
    reporter = StopAtTarget(target)
    start = time.perf_counter()
    result = evaluator.evaluate(arch, TrialContext(number, number, reporter, resource=cap))
    seconds = time.perf_counter() - start
    if result.error:
        raise RuntimeError(f"child {arch} failed: {result.error}")
    reached = next((i + 1 for i, acc in enumerate(reporter.curve) if acc >= target), None)
    return Run(reached, reporter.curve, seconds, result.metrics.get("val_acc_inherited"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=3)
    parser.add_argument("--parent-epochs", type=int, default=3)
    parser.add_argument("--cap", type=int, default=6, help="most epochs a child trains")
    parser.add_argument("--fraction", type=float, default=0.1, help="of the training split")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--inherit-lr", default="0.1,0.01", help="comma-separated")
    parser.add_argument("--max-flops", type=float, default=3e6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=reporting.RESULTS / "morphism_inheritance.md")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    began = time.perf_counter()
    space = ChainSpace(min_layers=2, max_layers=5, filters=(16, 32, 64), kernels=(1, 3, 5))
    settings = {
        "space": space,
        "data_dir": args.data_dir,
        "data_fraction": args.fraction,
        "val_fraction": args.val_fraction,
        "split_seed": args.seed,
        "latency_repeats": 1,
        "threads": 1,
    }
    lrs = [float(v) for v in args.inherit_lr.split(",")]
    weights = Path(tempfile.mkdtemp(prefix="morph-bench-"))
    parent_ev = InheritanceEvaluator(
        "fashion-mnist", weights_dir=weights, epochs=args.parent_epochs, **settings
    )
    scratch = TrainingEvaluator("fashion-mnist", epochs=args.cap, **settings)
    inheritors: dict[str, TrainingEvaluator] = {}  # (load_dataset keeps the images cached)
    for lr in lrs:
        ev = InheritanceEvaluator("fashion-mnist", weights_dir=weights, inherit_lr=lr, **settings)
        inheritors[f"inherited, lr {lr:g}"] = ev
    data = parent_ev.train_data()
    print(f"train {len(data.y_train)}, val {len(data.y_eval)} images", file=sys.stderr)

    rows: list[Row] = []
    rng = np.random.default_rng(args.seed)
    for p, parent in enumerate(pick_parents(space, args.parents, args.seed, args.max_flops)):
        result = parent_ev.evaluate(parent, TrialContext(p, p, Reporter()))
        parent_acc = result.metrics["val_acc"]
        print(f"parent {space.describe(parent)}: {parent_acc:.2f}%", file=sys.stderr)
        morphs = available_morphs(space, parent)
        for kind in MORPH_KINDS:
            of_kind = [m for m in morphs if m.kind == kind]
            morph = of_kind[int(rng.integers(len(of_kind)))]
            child = apply_morph(space, parent, morph)
            name = space.describe(parent).replace(" | ", " / ")  # a markdown table cell
            row = Row(name, parent_acc, f"{kind} L{morph.layer}:{morph.value}")
            number = 100 + 10 * p + MORPH_KINDS.index(kind)
            for name, ev in inheritors.items():
                row.runs[name] = run_child(ev, child, parent_acc, args.cap, number)
                for suffix in (".pt", ".json"):  # children never become parents here
                    (weights / f"{arch_key(child)}{suffix}").unlink(missing_ok=True)
            row.runs["scratch"] = run_child(scratch, child, parent_acc, args.cap, number)
            print(
                f"  {row.morph}: "
                + ", ".join(f"{k} {r.epochs or '>cap'}" for k, r in row.runs.items()),
                file=sys.stderr,
            )
            rows.append(row)
    shutil.rmtree(weights, ignore_errors=True)
    write(rows, args, [*inheritors, "scratch"], time.perf_counter() - began)


def _fmt(run: Run, cap: int) -> str:
    return str(run.epochs) if run.epochs is not None else f">{cap}"


def _mean(runs: list[Run], cap: int) -> str:
    """Mean epochs, a run that never reached counted as cap + 1 (so a lower bound)."""
    values = [r.epochs if r.epochs is not None else cap + 1 for r in runs]
    censored = sum(r.epochs is None for r in runs)
    text = f"{statistics.mean(values):.2f}"
    return f">={text} ({censored} not reached)" if censored else text


def write(rows: list[Row], args: argparse.Namespace, names: list[str], seconds: float) -> None:
    lines = reporting.header(
        "Weight inheritance by network morphism: epochs to regain the parent's accuracy",
        "morphism_inheritance.py",
    )
    lines += [
        f"- data: Fashion-MNIST, {args.fraction:g} of the training split, validation "
        f"fraction {args.val_fraction:g} (split seed {args.seed}); CPU, 1 thread",
        f"- {args.parents} random chain parents (each admits all four morph kinds, at most "
        f"{args.max_flops:g} FLOPs), trained {args.parent_epochs} epochs from scratch; "
        f"children trained with a cosine schedule over {args.cap} epochs (SGD, Nesterov, "
        "lr 0.1 from scratch), stopped at the first epoch whose validation accuracy "
        "reaches the parent's",
        "- inherited children: the 'inherit' evaluator (weights morphed by "
        "archsearch.space.morphism; widened units split their outgoing weights unequally, "
        "split_noise 0.1; an inserted layer's batch norm calibrated on 256 training images)",
        "- epochs: training epochs until val acc >= the parent's (an inherited child has "
        "it at epoch 0 by construction: the 'start' column; the count starts at 1)",
        f"- total wall time {seconds / 60:.1f} min",
        "",
        "## Mean epochs to reach the parent's validation accuracy",
        "",
        "| morph | n | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for kind in (*MORPH_KINDS, "all"):
        chosen = [r for r in rows if kind == "all" or r.morph.startswith(kind)]
        cells = [_mean([r.runs[n] for r in chosen], args.cap) for n in names]
        label = "**all**" if kind == "all" else kind
        lines.append(f"| {label} | {len(chosen)} | " + " | ".join(cells) + " |")
    secs = [statistics.mean(r.runs[n].seconds for r in rows) for n in names]
    lines.append("| mean seconds per child | | " + " | ".join(f"{s:.1f}" for s in secs) + " |")
    lines += [
        "",
        "## Per child",
        "",
        "| parent | parent val acc | morph | start (inherited) | "
        + " | ".join(f"{n}: epochs (val acc curve)" for n in names)
        + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for r in rows:
        start = next(iter(r.runs.values())).start_acc
        cells = [
            f"{_fmt(r.runs[n], args.cap)} ({', '.join(f'{a:.1f}' for a in r.runs[n].curve)})"
            for n in names
        ]
        lines.append(
            f"| {r.parent} | {r.parent_acc:.2f} | {r.morph} | "
            f"{start:.2f} | " + " | ".join(cells) + " |"
        )
    reporting.write(lines, args.out)


if __name__ == "__main__":
    main()
