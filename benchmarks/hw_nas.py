"""Hardware-aware search on NAS-Bench-201: cifar100 accuracy x measured device latency.

Two parts, each run through the library's `Study` with the NB201 evaluator
(`devices=[...]`, HELP's latency tables) and the simulated executor, as
`nb201_protocol.py` runs its searches (its helpers and chunk cache are reused):

1. Fronts. For each device, a search with the objectives `val_acc:max,
   latency@DEVICE:min`; the share of the exact front's hypervolume (see
   `archsearch.benchmarks.fronts`) reached by the cells found after 100 and after 300
   queries (the first 100 of the same 300-query run).
2. Accuracy under a latency limit. For each device and limit of HELP's Table 4, a
   search maximising `val_acc` with the limit as a constraint
   (`latency@DEVICE<=LIMIT`), 100 queries; the result is the cifar100 test accuracy of
   the feasible cell with the best validation accuracy found.

The search signal is the 200-epoch cifar100 validation accuracy (seed mean, the "x-valid"
half of the test set); test accuracy is only read for the report.

    python benchmarks/hw_nas.py                                    # both parts, 100 runs
    python benchmarks/hw_nas.py --fronts pareto-re nsga2 motpe --runs-for motpe=30
    python benchmarks/hw_nas.py --limited pareto-re --runs 20 --skip-fronts
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from nb201_protocol import Job, cache_file, code_fingerprint, make_jobs, mean_std
from reporting import RESULTS, header, write

from archsearch.benchmarks.fronts import columns, exact_front
from archsearch.benchmarks.latency import LatencyLimit, latency_ms, metric_name
from archsearch.benchmarks.latency_predictor import FewShotLatencyPredictor
from archsearch.benchmarks.nb201 import NB201Table
from archsearch.core.atomic import atomic_write
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.nb201 import NB201Space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies import STRATEGIES
from archsearch.study import Constraint, Study

CACHE = Path(__file__).resolve().parent / ".cache" / "hw_nas"
DATASET = "cifar100"
# HELP's meta-test devices (its split: neither HELP nor our latency predictor fitted on them).
DEVICES = ("titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss")
BUDGETS = (100, 300)
LIMITED_BUDGET = 100
FILTERS = ("measured", "predicted", "none")
# A job option read by this script, not the strategy: how limits reject cells (above).
FILTER_KEY = "latency_filter"
N_MEASURED = 10  # cells measured on the device to fit the few-shot predictor
PREDICTOR_SEED = 10_000
# HELP README Table 4 (MetaD2A + HELP, 10 target samples): limit ms -> (accuracy, latency
# of the found cell), as quoted in the project's shared REFERENCE_RESULTS.md, section 7.
HELP_TABLE4 = {
    "titan_rtx_256": {18: (69.7, 17.8), 21: (71.5, 18.9), 25: (71.8, 24.2)},
    "gold_6226": {8: (67.3, 8.0), 11: (70.2, 10.7), 14: (72.1, 14.3)},
    "pixel2": {14: (69.7, 13.0), 18: (71.8, 19.0), 22: (73.2, 25.0)},
    "eyeriss": {5: (71.5, 3.9), 7: (71.8, 5.1), 9: (73.5, 9.1)},
    "fpga": {4: (70.2, 3.8), 5: (71.8, 4.7), 6: (73.5, 7.4)},
}


def study_for(
    job: Job, seed: int, device: str, budget: int, constraints: Sequence[Constraint] = ()
) -> Study:
    """One search: the job's strategy (its options name the objectives and limits) on
    cifar100 with the device's latency served, `budget` queries."""
    space = NB201Space()
    options = {k: v for k, v in job.options if k != FILTER_KEY}
    strategy = STRATEGIES.get(job.strategy)(space, seed=seed, **options)
    study = Study(
        space,
        strategy,
        InMemoryStorage(),
        seed=seed,
        metric="val_acc",
        mode="max",
        constraints=constraints,
    )
    study.optimize(
        NB201Evaluator(DATASET, fidelity=200, devices=[device]),
        budget=f"{budget}trials",
        executor=SimulatedExecutor(),
    )
    return study


def run_front_chunk(job: Job, device: str) -> list[dict[str, Any]]:
    space = NB201Space()
    fronts = {acc: exact_front(DATASET, device, acc) for acc in ("valid", "test")}
    rows = []
    for seed in job.seeds:
        start = time.perf_counter()
        study = study_for(job, seed, device, max(BUDGETS))
        wall = time.perf_counter() - start
        cells = [space.index(t.arch) for t in sorted(study.completed(), key=lambda t: t.number)]
        row: dict[str, Any] = {"seed": seed, "wall_s": wall}
        for n in BUDGETS:
            for acc, front in fronts.items():
                row[f"{acc}@{n}"] = front.share(cells[:n])
        rows.append(row)
    return rows


def limit_filter(mode: str, device: str, limit: float, seed: int) -> list[Constraint]:
    """The study constraint that rejects a cell before it is trained: none, the device's
    measured latency, or the latency predicted from 10 measured cells (drawn per run)."""
    if mode == "none":
        return []
    if mode == "measured":
        return [LatencyLimit(limit, device)]
    rng = np.random.default_rng(PREDICTOR_SEED + seed)
    cells = rng.choice(len(latency_ms(device)), N_MEASURED, replace=False)
    predicted = FewShotLatencyPredictor().fit(cells, latency_ms(device)[cells]).predict()
    return [LatencyLimit(limit, latencies=predicted, label=f"predicted latency@{device}")]


def run_limited_chunk(job: Job, device: str, limit: float) -> list[dict[str, Any]]:
    space, table = NB201Space(), NB201Table()
    metric = metric_name(device)
    mode = dict(job.options)[FILTER_KEY]
    rows = []
    for seed in job.seeds:
        study = study_for(
            job, seed, device, LIMITED_BUDGET, limit_filter(mode, device, limit, seed)
        )
        feasible = [t for t in study.completed() if t.metrics[metric] <= limit]
        row: dict[str, Any] = {"seed": seed, "found": bool(feasible)}
        if feasible:
            # The best validation accuracy; ties go to the one found first.
            best = max(feasible, key=lambda t: (t.metrics["val_acc"], -t.number))
            index = space.index(best.arch)
            row["test"] = table.test_acc(index, DATASET, 200)
            row["latency"] = best.metrics[metric]
        rows.append(row)
    return rows


def with_options(jobs: list[Job], *options: tuple[str, Any]) -> list[Job]:
    return [dataclasses.replace(job, options=(*job.options, *options)) for job in jobs]


def cached_run(folder: Path, code: str, job: Job, task: str, run: Any) -> list[dict[str, Any]]:
    """A chunk's rows from the cache, or run it and keep them (`nb201_protocol`'s cache,
    keyed by the job and the task: the part, device and limit)."""
    path = cache_file(folder, dataclasses.replace(job, dataset=f"{job.dataset}|{task}"), code)
    if path.exists():
        return list(json.loads(path.read_text()))
    rows = run()
    text = json.dumps(rows)
    atomic_write(path, lambda tmp: tmp.write_text(text))
    return rows


def limit_optimum(device: str, limit: float) -> tuple[float, float]:
    """(best test, test of the best-validation cell) among cells within the limit."""
    valid, lat = columns(DATASET, device, "valid")
    test, _ = columns(DATASET, device, "test")
    ok = lat <= limit
    best_valid = max(range(len(valid)), key=lambda i: (valid[i] if ok[i] else -1.0, -i))
    return float(test[ok].max()), float(test[best_valid])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fronts", nargs="*", default=["pareto-re", "nsga2", "motpe"])
    parser.add_argument("--limited", nargs="*", default=["ls", "tpe", "pareto-re"])
    parser.add_argument(
        "--limit-filters",
        nargs="*",
        choices=FILTERS,
        default=["measured", "predicted"],
        help="how a limit rejects cells before training (strategies with a constraints "
        "option also get the limit as one)",
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--runs-for", nargs="*", default=[], metavar="STRATEGY=N")
    parser.add_argument(
        "--limited-runs", type=int, default=100, help="runs per strategy and row of part 2"
    )
    parser.add_argument("--devices", nargs="*", default=list(DEVICES))
    parser.add_argument("--output", type=Path, default=RESULTS / "hw_nas.md")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    code = code_fingerprint()
    start = time.perf_counter()

    # Part 1: fronts.
    front_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for device in args.devices:
        objectives = f"val_acc:max,{metric_name(device)}:min"
        base = make_jobs(args.fronts, args.runs, args.runs_for, 1, (DATASET,))
        for plain, job in zip(base, with_options(base, ("objectives", objectives)), strict=True):
            rows = cached_run(
                args.cache,
                code,
                job,
                f"front|{device}",
                lambda job=job, device=device: run_front_chunk(job, device),
            )
            front_rows.setdefault((plain.label, device), []).extend(rows)
            print(f"fronts {plain.label} {device}: {time.perf_counter() - start:.0f} s", flush=True)

    # Part 2: accuracy under a latency limit.
    limited_rows: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for device, limits in HELP_TABLE4.items():
        for limit in limits:
            constraint = f"{metric_name(device)}<={limit}"
            base = make_jobs(args.limited, args.limited_runs, args.runs_for, 1, (DATASET,))
            pairs = []
            for mode in args.limit_filters:
                for plain in base:
                    job = dataclasses.replace(plain, options=(*plain.options, (FILTER_KEY, mode)))
                    if (
                        "constraints"
                        in inspect.signature(STRATEGIES.get(plain.strategy)).parameters
                    ):
                        job = with_options([job], ("constraints", constraint))[0]
                    label = dataclasses.replace(plain, options=(*plain.options, ("filter", mode)))
                    pairs.append((label, job))
            for plain, job in pairs:
                rows = cached_run(
                    args.cache,
                    code,
                    job,
                    f"limited|{device}<={limit}",
                    lambda job=job, device=device, limit=limit: run_limited_chunk(
                        job, device, limit
                    ),
                )
                limited_rows.setdefault((plain.label, device, limit), []).extend(rows)
            print(f"limited {device}<={limit}: {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    write(report(args, argv, front_rows, limited_rows, wall), args.output)


def report(
    args: argparse.Namespace,
    argv: list[str] | None,
    front_rows: dict[tuple[str, str], list[dict[str, Any]]],
    limited_rows: dict[tuple[str, str, int], list[dict[str, Any]]],
    wall: float,
) -> list[str]:
    lines = [
        *header(
            "Hardware-aware NAS on NAS-Bench-201 (cifar100 x device latency)", "hw_nas.py", argv
        ),
        f"- one worker process (`nice -n 19`); wall time of the whole run: {wall:.0f} s "
        "(chunks found in the cache cost nothing)",
        f"- runs (seeds 0..n-1) per strategy and device: {args.runs} unless the runs column says otherwise",
        "- devices: HELP's six meta-test devices, "
        + ", ".join(f"`{d}`" for d in args.devices)
        + " (latency in ms as HELP measured it)",
        "- search signal: cifar100 200-epoch validation accuracy (seed mean); test accuracy is",
        "  read only for the report. Every query is one `Study` trial through the NB201",
        "  evaluator and the simulated executor.",
        "",
        "## 1. Hypervolume of the found front, as a share of the exact front's",
        "",
        "Objectives `val_acc:max,latency@DEVICE:min`. The share is the hypervolume of the",
        "cells found within the first N queries over that of the exact front, with the exact",
        "front's nadir as the reference point (`archsearch.benchmarks.fronts`); mean±std over",
        "runs. `valid`: the fronts in the searched objectives (validation accuracy x",
        "latency); `test`: the same found cells' test-accuracy front against the exact test",
        "front. Optuna rows: its samplers behind the archsearch interface (`nsga2`, `motpe`",
        "with their defaults, deduplicated as `tpe` is).",
        "",
    ]
    front_labels = list(dict.fromkeys(label for label, _ in front_rows))
    for acc in ("valid", "test"):
        lines += [
            f"### {acc} accuracy",
            "",
            "| strategy | "
            + " | ".join(f"{d} @{n}" for d in args.devices for n in BUDGETS)
            + " | mean @100 | mean @300 | runs |",
            "|---" * (2 * len(args.devices) + 4) + "|",
        ]
        for label in front_labels:
            cells, means = [], {n: [] for n in BUDGETS}
            for d in args.devices:
                rows = front_rows[(label, d)]
                for n in BUDGETS:
                    values = [100 * r[f"{acc}@{n}"] for r in rows]
                    cells.append(mean_std(values))
                    means[n].append(statistics.fmean(values))
            runs = len(front_rows[(label, args.devices[0])])
            lines.append(
                f"| {label} | "
                + " | ".join(cells)
                + f" | {statistics.fmean(means[100]):.2f} | {statistics.fmean(means[300]):.2f} | {runs} |"
            )
        lines.append("")
    lines += [
        "## 2. Best cifar100 test accuracy within 100 queries under a latency limit",
        "",
        "The limit is a hard constraint (`constraints=latency@DEVICE<=LIMIT`); the result is the",
        "test accuracy of the feasible cell of best validation accuracy found (mean±std over",
        "runs; `feasible` counts the runs that found a cell within the limit). HELP: its",
        "README Table 4 (accuracy and, in brackets, the latency of its cell; ! where over the",
        "limit). Exact: the best test accuracy within the limit, and the test accuracy of the",
        "best-validation cell within the limit (what a search choosing by validation finds",
        "at best).",
        "",
        "How a limit rejects cells before training (a rejected cell costs no query, as a",
        "hardware-aware search measures or predicts latency before it trains): `measured`,",
        "the device's latency from HELP's table (`LatencyLimit`); `predicted`, the latency",
        f"predicted by `FewShotLatencyPredictor` from {N_MEASURED} cells measured on the device",
        "(drawn at random per run; HELP's setting, 10 samples); strategies with a `constraints`",
        "option (pareto-re) also get the limit as one, and the result only counts cells whose",
        "measured latency is within the limit.",
        "",
        "| device, limit ms | strategy | found test | feasible | HELP | exact best test | test of best valid | >= HELP | gap to exact |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    gaps: dict[str, list[float]] = {}
    floor = [
        b - v for b, v in (limit_optimum(d, x) for d, lims in HELP_TABLE4.items() for x in lims)
    ]
    wins: dict[str, list[bool]] = {}
    for (label, device, limit), rows in limited_rows.items():
        help_acc, help_lat = HELP_TABLE4[device][limit]
        best, of_valid = limit_optimum(device, limit)
        tests = [r["test"] for r in rows if r["found"]]
        found = statistics.fmean(tests) if tests else float("nan")
        gap = best - found
        gaps.setdefault(label, []).append(gap)
        wins.setdefault(label, []).append(found >= help_acc)
        mark = " !" if help_lat > limit else ""
        lines.append(
            f"| {device} <= {limit} | {label} | {mean_std(tests) if tests else '–'} | "
            f"{len(tests)}/{len(rows)} | {help_acc} ({help_lat}{mark}) | {best:.2f} | "
            f"{of_valid:.2f} | {'yes' if found >= help_acc else 'no'} | {gap:.2f} |"
        )
    lines += [
        "",
        f"- ceiling of a search that chooses by validation: the best-validation feasible cell's "
        f"test is {statistics.fmean(floor):.2f} points below the exact best test on average",
    ]
    for label in gaps:
        lines.append(
            f"- {label}: at least HELP on {sum(wins[label])}/{len(wins[label])} rows; mean gap to "
            f"the exact optimum {statistics.fmean(gaps[label]):.2f} points"
        )
    return lines


if __name__ == "__main__":
    main()
