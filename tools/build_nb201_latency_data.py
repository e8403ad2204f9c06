"""Convert HELP's measured NAS-Bench-201 latencies into the package data archsearch ships.

Usage: python tools/build_nb201_latency_data.py SOURCE_DIR

SOURCE_DIR holds `nb201_latency_help.csv.gz` (the project's shared benchmark folder,
`nasbench201/`): one row per cell (official NB201 index and arch string) and one column
per device setting, latency in milliseconds. The script writes
`src/archsearch/benchmarks/data/nb201_latency.npz`: one float64 array per device, indexed
by the official index, after checking that every arch string matches the op codes the
package already ships (`src/archsearch/space/data/nb201_index.txt`), so the two tables
cannot disagree on which cell an index is.

The source data is HELP (Lee, Lee, Chong and Hwang, "HELP: Hardware-Adaptive Efficient Latency
Prediction for NAS via Meta-Learning", NeurIPS 2021; MIT licence); its pixel3, raspi4,
eyeriss and fpga columns are HW-NAS-Bench's (Li et al., ICLR 2021). See the README beside
the package data for provenance and attribution.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import numpy as np

N_ARCHS = 15_625
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
ROOT = Path(__file__).resolve().parents[1]


def op_codes(arch_str: str) -> str:
    """'|op~0|+|op~0|op~1|+...' -> the 6 op codes in edge order (as nb201_index.txt)."""
    edges = [e for node in arch_str.split("+") for e in node.strip("|").split("|")]
    return "".join(str(OPS.index(e.split("~")[0])) for e in edges)


def main(source: Path) -> None:
    index_codes = (ROOT / "src/archsearch/space/data/nb201_index.txt").read_text().split()
    with gzip.open(source / "nb201_latency_help.csv.gz", "rt", newline="") as f:
        reader = csv.DictReader(f)
        devices = [c for c in reader.fieldnames or () if c not in ("index", "arch_str")]
        arrays = {d: np.full(N_ARCHS, np.nan) for d in devices}
        for row in reader:
            i = int(row["index"])
            assert op_codes(row["arch_str"]) == index_codes[i], f"index {i} is another cell"
            for d in devices:
                arrays[d][i] = float(row[d])
    for name, arr in arrays.items():
        assert np.isfinite(arr).all() and (arr > 0).all(), f"missing values in {name}"
    # float64: the values stay exactly those of the source table.
    np.savez_compressed(ROOT / "src/archsearch/benchmarks/data/nb201_latency.npz", **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
