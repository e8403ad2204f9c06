"""One-shot NAS on NAS-Bench-201: DARTS (1st and 2nd order), two collapse remedies
(DARTS- and DARTS-PT), SNAS, GDAS, ENAS and random one-shot (RSPS), each searched on
real CIFAR-10 (the JPEG copy; its training set split 25k/25k into the weights' half and
the architecture's half, each subsampled) at a scale that fits a shared 2-core CPU, 3
seeds each. The derived cell is looked up in the NB201 tables (200-epoch test accuracy
on CIFAR-10, CIFAR-100, ImageNet16-120).

Also measured, in the same run: training the supernet along one sampled path per step
against running every op (weighted sum), images per second and peak RSS.

Every (method, seed) runs in its own forked process, single-threaded, so its peak RSS is
its own (the forked process shares the parent's pages, so the parent's RSS at fork time
is reported as the baseline). Run it under `nice -n 10`.

    python benchmarks/oneshot_nb201.py --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reporting

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets"

#: (label, method, options) rows of the table
METHOD_ROWS = {
    "darts1": ("DARTS (1st order)", "darts", {"order": 1}),
    "darts2": ("DARTS (2nd order)", "darts", {"order": 2}),
    "darts-": ("DARTS- (aux. skip, remedy)", "darts-", {"order": 1}),
    "darts-pt": ("DARTS-PT (perturbation selection, remedy)", "darts-pt", {"order": 1}),
    "drnas": ("DrNAS (Dirichlet)", "drnas", {"order": 1}),
    "drnas-prog": ("DrNAS (Dirichlet, progressive: 5 -> 3 ops)", "drnas", {"order": 1, "keep": 3}),
    "snas": ("SNAS", "snas", {}),
    "gdas": ("GDAS", "gdas", {}),
    "enas": ("ENAS", "enas", {}),
    "rsps": ("RSPS (random one-shot)", "rsps", {}),
}
GRADIENT = ("darts", "darts-", "darts-pt", "drnas", "snas", "gdas")
#: the collapse remedies, each judged against plain first-order DARTS
REMEDIES = ("darts-", "darts-pt")
#: published CIFAR-10 test accuracies (the issue's reference rows; the other datasets'
#: published numbers are not repeated here)
REFERENCES = [
    ("DARTS (NB201 paper: collapse to all-skip)", "54.30", "", ""),
    ("GDAS (NB201 paper)", "~93.5", "", ""),
    ("RSPS (NB201 paper)", "87.66", "", ""),
    ("DrNAS (Chen et al., ICLR 2021)", "94.36", "", ""),
]


def _rss_mb() -> float:
    """Current resident set size (VmRSS) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _child(target: Any, args: tuple[Any, ...], queue: Any) -> None:
    import torch

    torch.set_num_threads(1)
    try:
        queue.put(("ok", target(*args)))
    except BaseException as e:  # reported, not swallowed: the row shows the error
        queue.put(("error", f"{type(e).__name__}: {e}"))


def in_fork(target: Any, *args: Any) -> Any:
    """Run target(*args) in a forked child; its return value (picklable) or an error."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    status, value = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(value)
    return value


def run_search(
    data: Any, method: str, options: dict[str, Any], seed: int, settings: dict[str, Any]
) -> dict[str, Any]:
    from archsearch.oneshot import search
    from archsearch.oneshot.driver import peak_rss_mb

    before = _rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        result = search(
            method=method,
            data=data,
            seed=seed,
            out_dir=tmp,
            method_options=options,
            **settings,
        )
    return {
        "arch": result.arch_str,
        "test": result.nb201_test,
        "skip": sum(v == "skip_connect" for v in result.arch.values) / 6,
        "none": sum(v == "none" for v in result.arch.values) / 6,
        "seconds": result.search_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "history": result.history,
    }


def measure_paths(
    data: Any, mode: str, settings: dict[str, Any], seconds: float
) -> dict[str, float]:
    """Train the supernet's weights for `seconds` in `mode` ("all": weighted sum of every
    op; "single": one uniformly sampled path per step); images/s and peak RSS."""
    import torch
    import torch.nn.functional as F

    from archsearch.oneshot import NB201Supernet, PathSpec
    from archsearch.oneshot.driver import peak_rss_mb

    torch.manual_seed(0)
    net = NB201Supernet(
        data.num_classes, channels=settings["channels"], cells_per_stage=settings["cells_per_stage"]
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    bs = settings["batch_size"]
    before = _rss_mb()
    images, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        idx = torch.randint(0, len(data.y_train), (bs,), generator=g)
        if mode == "all":
            spec = PathSpec(weights=torch.full((6, 5), 0.2))
        else:
            spec = PathSpec(index=torch.randint(0, 5, (6,), generator=g).tolist())
        loss = F.cross_entropy(net(data.x_train[idx], spec), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        images += bs
    elapsed = time.perf_counter() - start
    return {"img_s": images / elapsed, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": before}


def _code(arch: str) -> str:
    """An arch string as inline code in a table cell (its "|" escaped)."""
    return "`" + arch.replace("|", "\\|") + "`"


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--methods", default=",".join(METHOD_ROWS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--train-size", type=int, default=8000)
    p.add_argument("--val-size", type=int, default=8000)
    p.add_argument("--resolution", type=int, default=16)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--cells", type=int, default=1)
    p.add_argument("--arch-lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument(
        "--pt-tune-epochs",
        type=int,
        default=0,
        help="DARTS-PT's epochs between two edge decisions (0: every edge decided on the "
        "finished supernet, which is then first-order DARTS's own, seed for seed)",
    )
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--measure-seconds", type=float, default=20.0)
    p.add_argument(
        "--second-order-seeds", type=int, default=None, help="seeds for DARTS 2nd order (cost)"
    )
    p.add_argument("--out", default=str(reporting.RESULTS / "oneshot_nb201.md"))
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from archsearch.oneshot import prepare_data

    settings = {
        "epochs": args.epochs,
        "channels": args.channels,
        "cells_per_stage": args.cells,
        "eval_size": args.eval_size,
        "batch_size": 64,
    }
    keys = [k.strip() for k in args.methods.split(",") if k.strip()]
    for k in keys:
        if k not in METHOD_ROWS:
            p.error(f"unknown method row {k!r}; choose from {list(METHOD_ROWS)}")
    started = time.perf_counter()
    data_by_seed = {}
    for seed in range(args.seeds):
        data_by_seed[seed] = prepare_data(
            "cifar10",
            data_dir=args.data_dir,
            train_size=args.train_size,
            val_size=args.val_size,
            resolution=args.resolution,
            split_seed=seed,
        )
    parent_rss = _rss_mb()
    print(
        f"data ready in {time.perf_counter() - started:.0f} s; parent RSS {parent_rss:.0f} MiB",
        file=sys.stderr,
    )

    # --- path sampling vs every op ----------------------------------------------------------
    paths = {
        mode: in_fork(measure_paths, data_by_seed[0], mode, settings, args.measure_seconds)
        for mode in ("all", "single")
    }
    print(f"paths: {paths}", file=sys.stderr)

    # --- the searches -------------------------------------------------------------------------
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    errors: list[str] = []
    for seed in range(args.seeds):
        for k in keys:
            limit = args.second_order_seeds
            if k == "darts2" and limit is not None and seed >= limit:
                continue
            _, method, options = METHOD_ROWS[k]
            options = dict(options)
            if method == "darts-pt":
                options["tune_epochs"] = args.pt_tune_epochs
            if method in GRADIENT:
                options["arch_lr"] = args.arch_lr
                if args.warmup:
                    options["warmup"] = args.warmup
            t = time.perf_counter()
            try:
                out = in_fork(run_search, data_by_seed[seed], method, options, seed, settings)
            except RuntimeError as e:
                errors.append(f"{k} seed {seed}: {e}")
                print(f"{k} seed {seed}: FAILED {e}", file=sys.stderr)
                continue
            rows[k].append(out)
            print(
                f"{k} seed {seed}: {out['arch']} c10 {out['test']['cifar10']:.2f} "
                f"search {out['seconds']:.0f} s (wall {time.perf_counter() - t:.0f} s)",
                file=sys.stderr,
            )

        # Written after every seed, so an interrupted run still leaves complete seeds.
        write_report(args, keys, rows, paths, parent_rss, errors, started, seed + 1)
    return 0


def write_report(
    args: argparse.Namespace,
    keys: list[str],
    rows: dict[str, list[dict[str, Any]]],
    paths: dict[str, dict[str, float]],
    parent_rss: float,
    errors: list[str],
    started: float,
    seeds_done: int,
) -> None:
    # --- the report ---------------------------------------------------------------------------
    lines = reporting.header("One-shot NAS on NAS-Bench-201 (CIFAR-10 search)", "oneshot_nb201.py")
    lines += [
        "",
        "Searched on the JPEG copy of CIFAR-10 (`cifar10-jpeg`): its training set split "
        "stratified 25k/25k (weights / architecture), each half subsampled. The derived cell's "
        "accuracy is the NB201 table's 200-epoch test accuracy (C=16, N=5 networks trained "
        "by the NB201 authors), mean ± std over seeds.",
        "",
        "**Reductions against the NB201 protocol** (C=16, N=5, 50 epochs, 25k+25k images at "
        "32 px, batch 64):",
        f"channels C={args.channels} (16), cells per stage N={args.cells} (5), "
        f"epochs {args.epochs} (50), {args.train_size:,} + {args.val_size:,} images "
        f"(25,000 + 25,000), resolution {args.resolution} px (32), architecture lr "
        f"{args.arch_lr:g} (3e-4; raised because there are ~{args.epochs * args.train_size // 64:,} "
        f"steps instead of ~19,500), warm-up {args.warmup:g} of the steps with alpha frozen, "
        f"DARTS-PT {args.pt_tune_epochs} tuning epoch(s) between edge decisions, "
        f"ENAS/RSPS score cells on {args.eval_size:,} validation images; batch 64, "
        "1 CPU thread, under nice on a shared 2-core machine.",
        "",
        "| method | seeds | derived cells | CIFAR-10 | CIFAR-100 | ImageNet16-120 | skip share | "
        "none share | search wall s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in keys:
        label = METHOD_ROWS[k][0]
        runs = rows[k]
        if not runs:
            lines.append(f"| {label} | 0 | failed | | | | | | | |")
            continue
        cells = Counter(r["arch"] for r in runs)
        cell_text = "<br>".join(f"{_code(a)} ×{n}" for a, n in cells.most_common())
        lines.append(
            f"| {label} | {len(runs)} | {cell_text} | "
            + " | ".join(
                _ms([r["test"][d] for r in runs]) for d in ("cifar10", "cifar100", "ImageNet16-120")
            )
            + f" | {statistics.mean(r['skip'] for r in runs):.2f} | "
            f"{statistics.mean(r['none'] for r in runs):.2f} | "
            f"{statistics.mean(r['seconds'] for r in runs):.0f} | "
            f"{max(r['peak_rss_mb'] for r in runs):.0f} |"
        )
    for name, c10, c100, im in REFERENCES:
        lines.append(f"| *ref.* {name} | | | {c10} | {c100} | {im} | | | | |")

    # The goal is a mean over 3 seeds: rows with fewer seeds do not count for it.
    best = max(
        (
            (statistics.mean(r["test"]["cifar10"] for r in rows[k]), k)
            for k in keys
            if len(rows[k]) >= min(3, args.seeds)
        ),
        default=(float("nan"), "none"),
    )
    lines += [
        "",
        f"Parent RSS at fork (shared data, counted in every child's RSS): {parent_rss:.0f} MiB.",
        "",
        "## Goals",
        "",
        f"- >= 93.5 mean CIFAR-10 test (over >= 3 seeds) for at least one method: best is "
        f"{METHOD_ROWS[best[1]][0] if best[1] in METHOD_ROWS else best[1]} at {best[0]:.2f}: "
        f"**{'met' if best[0] >= 93.5 else 'NOT met'}**.",
    ]
    plain = (
        statistics.mean(r["test"]["cifar10"] for r in rows["darts1"])
        if rows.get("darts1")
        else float("nan")
    )
    for k in REMEDIES:
        if rows.get(k):
            remedy = statistics.mean(r["test"]["cifar10"] for r in rows[k])
            lines.append(
                f"- the remedy lifts DARTS above 93.0: {METHOD_ROWS[k][0]} {remedy:.2f} vs "
                f"DARTS (1st order) {plain:.2f}: **{'met' if remedy > 93.0 else 'NOT met'}**."
            )

    lines += [
        "",
        "## Collapse watch: the derived cell after each epoch (mean over seeds)",
        "",
        "| method | epoch | skip share | none share | CIFAR-10 test of that cell |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k in keys:
        runs = rows[k]
        if not runs or runs[0]["history"][0]["arch"] is None:
            continue
        for e in range(min(len(r["history"]) for r in runs)):
            hs = [r["history"][e] for r in runs]
            lines.append(
                f"| {METHOD_ROWS[k][0]} | {e + 1} | "
                f"{statistics.mean(h['skip_share'] for h in hs):.2f} | "
                f"{statistics.mean(h['none_share'] for h in hs):.2f} | "
                f"{statistics.mean(h['cifar10_test'] for h in hs):.2f} |"
            )

    a, s = paths["all"], paths["single"]
    lines += [
        "",
        "## Path sampling against running every op (same run, same supernet, weights only)",
        "",
        f"C={args.channels}, N={args.cells}, {args.resolution} px, batch 64, "
        f"{args.measure_seconds:g} s of training each, in its own forked process.",
        "",
        "| forward | images/s | peak RSS MiB | RSS growth while training MiB |",
        "| --- | --- | --- | --- |",
        f"| every op (weighted sum: DARTS, SNAS) | {a['img_s']:.0f} | {a['peak_rss_mb']:.0f} | "
        f"{a['peak_rss_mb'] - a['rss_before_mb']:.0f} |",
        f"| one sampled path (GDAS, ENAS, RSPS) | {s['img_s']:.0f} | {s['peak_rss_mb']:.0f} | "
        f"{s['peak_rss_mb'] - s['rss_before_mb']:.0f} |",
        "",
        f"Single path: {s['img_s'] / a['img_s']:.2f}x the images per second of every op.",
        "",
        "## Per seed",
        "",
        "| method | seed | cell | CIFAR-10 | CIFAR-100 | ImageNet16-120 | search s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in keys:
        for seed, r in enumerate(rows[k]):
            t = r["test"]
            lines.append(
                f"| {METHOD_ROWS[k][0]} | {seed} | {_code(r['arch'])} | {t['cifar10']:.2f} | "
                f"{t['cifar100']:.2f} | {t['ImageNet16-120']:.2f} | {r['seconds']:.0f} | "
                f"{r['peak_rss_mb']:.0f} |"
            )
    if errors:
        lines += ["", "## Failed runs", ""] + [f"- {e}" for e in errors]
    lines += ["", f"Total benchmark wall time: {(time.perf_counter() - started) / 60:.1f} min."]
    lines.insert(5, f"- seeds completed: {seeds_done} of {args.seeds}")
    reporting.write(lines, Path(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
