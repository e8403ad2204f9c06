"""Training throughput of `TrainingEvaluator` against a bare PyTorch loop, same run.

Both loops train the same network (a small CNN, built under the same seed) on the same
prepared tensors (normalised once, in memory) with the same batch size, SGD settings
and thread count; where the dataset is augmented, both apply the same torch
crop-and-flip to every batch. The bare loop is randperm -> index -> forward -> loss ->
backward -> step and nothing else. The evaluator adds its cosine schedule, per-step
divergence check, per-epoch validation, the memory probe, and the FLOP and latency
measurements at the end.

After one untimed warm-up run of each, the two run as `--repeats` back-to-back pairs
(alternating which goes first). Each pair gives the ratio of the evaluator's images per
second to the bare loop's, for

* the evaluator's training steps (`train_seconds`, validation excluded): the loop itself,
* the evaluator's whole trial (`Result.cost`): everything a search pays per trial, in
  wall time and in process CPU time (CPU time is less disturbed by other processes),

and the table gives the median of those ratios: a pair is measured within seconds, so
its ratio cancels most of a shared machine's drift. The target is >= 90 %.

    python benchmarks/trainer_speed.py [--dataset mnist [cifar.npz ...]] [--data-dir DIR]
        [--augment] [--fraction 0.2 [1.0 ...]] [--epochs 1] [--batch-size 128]
        [--threads 1] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from reporting import RESULTS, header, write
from torch import nn

from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.core.trial import Reporter
from archsearch.datasets import DatasetError, load_dataset
from archsearch.datasets.transforms import augment
from archsearch.estimation.base import TrialContext
from archsearch.estimation.loop import TrainData
from archsearch.estimation.training import TrainingEvaluator
from archsearch.space.base import SearchSpace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
SEED = 0


class SmallCNN(SearchSpace):
    """Three conv-BN-ReLU stages (widths w, 2w, 4w; the last two stride 2), global
    average pooling and a linear classifier: a typical small NAS candidate."""

    name = "bench_cnn"

    def decisions(self) -> Sequence[Decision]:
        return (Decision("width", (16, 32, 64)),)

    def build(self, arch: Architecture, task: TaskSpec) -> nn.Module:
        c, w = task.input_shape[0], int(arch["width"])

        def stage(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        return nn.Sequential(
            *stage(c, w, 1),
            *stage(w, 2 * w, 2),
            *stage(2 * w, 4 * w, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, task.num_classes),
        )


def bare_loop(
    space: SmallCNN, arch: Architecture, data: TrainData, ev: TrainingEvaluator, epochs: int
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and images of the plainest loop over the same model and
    tensors."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = space.build(arch, data.task)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=ev.lr,
        momentum=ev.momentum,
        nesterov=ev.nesterov,
        weight_decay=ev.weight_decay,
    )
    generator = torch.Generator().manual_seed(SEED)
    x, y, bs = data.x_train, data.y_train, ev.batch_size
    steps = len(y) // bs
    before = torch.get_num_threads()
    torch.set_num_threads(ev.threads)
    try:
        model.train()
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for b in range(steps):
                idx = order[b * bs : (b + 1) * bs]
                xb = x[idx]
                if data.padding:
                    xb = augment(xb, data.padding, generator)
                loss = F.cross_entropy(model(xb), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        torch.set_num_threads(before)
    return seconds, cpu, epochs * steps * bs


def measure(
    args: argparse.Namespace, name: str, fraction: float, data_dir: str | None
) -> list[str]:
    """Pairs of the two loops on one dataset; markdown lines of the result."""
    options = {"augment": True} if args.augment and name.endswith(".npz") else {}
    try:
        dataset = load_dataset(name, data_dir=data_dir, **options)
    except DatasetError as e:
        raise SystemExit(f"trainer_speed: {e}") from None
    space = SmallCNN()
    arch = space.make([args.width])
    ev = TrainingEvaluator(
        dataset,
        space=space,
        epochs=args.epochs,
        batch_size=args.batch_size,
        data_fraction=fraction,
        threads=args.threads,
    )
    data = ev.train_data()  # prepared once, outside every timing
    steps = len(data.y_train) // args.batch_size
    images = args.epochs * steps * args.batch_size

    def trainer() -> tuple[float, float, float]:
        """Images/s of the training steps, of the whole trial, and in CPU time."""
        cpu_start = time.process_time()
        result = ev.evaluate(arch, TrialContext(0, SEED, Reporter()))
        cpu = time.process_time() - cpu_start
        assert result.state.value == "COMPLETE", result.error
        return images / result.metrics["train_seconds"], images / result.cost, images / cpu

    # Warm up (allocator, oneDNN primitives, caches) so no timed run pays for being first.
    bare_loop(space, arch, data, ev, 1)
    trainer()
    rows: list[tuple[float, ...]] = []  # bare, bare cpu, loop, trial, trial cpu (images/s)
    for r in range(args.repeats):
        if r % 2 == 0:
            wall, cpu, n = bare_loop(space, arch, data, ev, args.epochs)
            loop, trial, trial_cpu = trainer()
        else:
            loop, trial, trial_cpu = trainer()
            wall, cpu, n = bare_loop(space, arch, data, ev, args.epochs)
        rows.append((n / wall, n / cpu, loop, trial, trial_cpu))
        print(
            f"{dataset.name} pair {r + 1}: bare {n / wall:,.0f}, loop {loop:,.0f}, "
            f"trial {trial:,.0f} img/s; loop/bare {loop * wall / n:.3f}"
        )

    def median(i: int) -> float:
        return statistics.median(row[i] for row in rows)

    def ratio(i: int, base: int) -> float:
        return 100.0 * statistics.median(row[i] / row[base] for row in rows)

    loop_ratio, trial_ratio, cpu_ratio = ratio(2, 0), ratio(3, 0), ratio(4, 1)
    c, h, w = data.task.input_shape
    params = sum(p.numel() for p in space.build(arch, data.task).parameters())
    source = dataset.source
    if Path(source).is_absolute():  # shown relative to the repository, not this machine
        source = os.path.relpath(source, REPO)
    return [
        "",
        f"## {dataset.name}",
        "",
        f"Data: `{source}`.",
        "",
        f"{len(data.y_train):,} training images ({fraction:.0%} of the training split) at "
        f"{c}x{h}x{w}{', crop+flip augmentation in both loops' if data.padding else ''}; "
        f"{len(data.y_eval):,} validation images; SmallCNN width {args.width} "
        f"({params:,} parameters); batch {args.batch_size}; SGD; {args.epochs} epoch(s) per "
        f"run; {args.threads} thread(s); {args.repeats} back-to-back pairs.",
        "",
        "| loop | images/s (median) | vs bare loop (median of pair ratios) |",
        "|---|---|---|",
        f"| bare PyTorch loop | {median(0):,.0f} | 100.0 % |",
        f"| TrainingEvaluator, training steps | {median(2):,.0f} | **{loop_ratio:.1f} %** |",
        f"| TrainingEvaluator, whole trial (validation, FLOPs, latency), wall | {median(3):,.0f} "
        f"| {trial_ratio:.1f} % |",
        f"| TrainingEvaluator, whole trial, CPU time (bare loop: {median(1):,.0f} CPU img/s) "
        f"| {median(4):,.0f} | {cpu_ratio:.1f} % |",
        "",
        "Pair ratios, training steps / bare: "
        + ", ".join(f"{row[2] / row[0]:.3f}" for row in rows)
        + ".",
        f"Target >= 90 % of the bare loop: training steps "
        f"{'met' if loop_ratio >= 90 else 'NOT met'}; whole trial (wall) "
        f"{'met' if trial_ratio >= 90 else 'NOT met'}.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", nargs="+", default=["mnist"], help="names or .npz paths")
    parser.add_argument("--data-dir", default=None, help="default: ARCHSEARCH_DATA, ../shared")
    parser.add_argument("--augment", action="store_true", help="crop+flip for .npz datasets")
    parser.add_argument(
        "--fraction", type=float, nargs="+", default=[0.2], help="per dataset (or one for all)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=32, choices=(16, 32, 64))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=RESULTS / "trainer_speed.md")
    args = parser.parse_args()
    fractions = args.fraction * len(args.dataset) if len(args.fraction) == 1 else args.fraction
    if len(fractions) != len(args.dataset):
        parser.error("give one --fraction, or one per --dataset")

    data_dir = args.data_dir or (str(SHARED) if SHARED.is_dir() else None)
    lines = header("Trainer speed: TrainingEvaluator vs a bare PyTorch loop", "trainer_speed.py")
    for name, fraction in zip(args.dataset, fractions, strict=True):
        lines += measure(args, name, fraction, data_dir)
    write(lines, args.output)


if __name__ == "__main__":
    main()
