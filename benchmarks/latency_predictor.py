"""Few-shot latency prediction on devices held out of the fit (HELP's Table 3 setting).

For each of HELP's six meta-test devices: draw 10 cells at random, "measure" them (the
table's latency), fit `FewShotLatencyPredictor` on HELP's meta-train and meta-valid
devices, and compute the Spearman rank correlation of its prediction with the measured
latency over all 15,625 cells; mean±std over `--draws` draws. Beside it: the best single
proxy device (the reference device whose latencies rank the 10 cells most like the target:
proxy adaptation with one device) and the parameter count alone (no device data).

    python benchmarks/latency_predictor.py
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from reporting import RESULTS, header, write
from scipy.stats import spearmanr

from archsearch.benchmarks.latency import HELP_META_TEST, latency_ms
from archsearch.benchmarks.latency_predictor import DEFAULT_SOURCES, FewShotLatencyPredictor
from archsearch.benchmarks.nb201 import NB201Table

# HELP README Table 3 (Spearman from 10 target samples), as in the shared REFERENCE_RESULTS.md.
HELP_TABLE3 = {
    "titan_rtx_256": 0.987,
    "gold_6226": 0.989,
    "fpga": 0.985,
    "pixel2": 0.802,
    "raspi4": 0.890,
    "eyeriss": 0.940,
}


def mean_std(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}±{statistics.pstdev(values):.3f}"


def rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10, help="measured cells per device")
    parser.add_argument("--draws", type=int, default=100, help="random draws of those cells")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS / "latency_predictor.md")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    params = NB201Table().column("cifar10", 200, "params_mb")
    predictor = FewShotLatencyPredictor()
    sources = {d: latency_ms(d) for d in DEFAULT_SOURCES}
    rows = {}
    for device in HELP_META_TEST:
        target = latency_ms(device)
        ours, proxy = [], []
        for _ in range(args.draws):
            cells = rng.choice(len(target), args.samples, replace=False)
            ours.append(rho(predictor.fit(cells, target[cells]).predict(), target))
            best = max(sources, key=lambda d: (rho(sources[d][cells], target[cells]), d))
            proxy.append(rho(sources[best], target))
        rows[device] = (ours, proxy, rho(params, target))
    lines = [
        *header(
            "Few-shot latency prediction on held-out devices (NB201)", "latency_predictor.py", argv
        ),
        f"- fitted on HELP's meta-train and meta-valid devices ({', '.join(DEFAULT_SOURCES)});",
        f"  {args.samples} cells measured on the target, drawn at random, {args.draws} draws per device;",
        "  Spearman over all 15,625 cells, mean±std over draws (NaN-free: every draw counted).",
        "- best single proxy: the source device whose latencies rank the measured cells most",
        "  like the target (ties: by name); params: NB201's parameter count (cifar10) alone.",
        "",
        "| device | FewShotLatencyPredictor | best single proxy | params alone | HELP (Table 3) |",
        "|---|---|---|---|---|",
    ]
    for device, (ours, proxy, by_params) in rows.items():
        lines.append(
            f"| {device} | {mean_std(ours)} | {mean_std(proxy)} | "
            f"{by_params:.3f} | {HELP_TABLE3[device]:.3f} |"
        )
    mean_ours = statistics.fmean(statistics.fmean(r[0]) for r in rows.values())
    mean_proxy = statistics.fmean(statistics.fmean(r[1]) for r in rows.values())
    mean_params = statistics.fmean(r[2] for r in rows.values())
    lines.append(
        f"| mean | {mean_ours:.3f} | {mean_proxy:.3f} | {mean_params:.3f} | "
        f"{statistics.fmean(HELP_TABLE3.values()):.3f} |"
    )
    write(lines, args.output)


if __name__ == "__main__":
    main()
