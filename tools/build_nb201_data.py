"""Convert the NAS-Bench-201 CSV tables into the package data archsearch ships.

Usage: python tools/build_nb201_data.py SOURCE_DIR

SOURCE_DIR holds `nb201_hp200.csv.gz` and `nb201_hp12_valid_test_acc.csv.gz` (the
project's shared benchmark folder, `nasbench201/`). The script writes

* `src/archsearch/space/data/nb201_index.txt`: the 15,625 op-code strings in official
  index order (the space needs the official index; it must not import the benchmark);
* `src/archsearch/benchmarks/data/nb201.npz`: every table column as an array indexed by
  the official index.

The source data is NAS-Bench-201 / NATS-Bench (MIT licence); see the README beside the
package data for provenance and attribution.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import numpy as np

N_ARCHS = 15_625
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
HP12_COLUMNS = {
    "cifar10": ("cifar10valid_valid", "cifar10_test"),
    "cifar100": ("cifar100_valid", "cifar100_test"),
    "ImageNet16-120": ("imagenet16_120_valid", "imagenet16_120_test"),
}
ROOT = Path(__file__).resolve().parents[1]


def main(source: Path) -> None:
    ops_by_index = [""] * N_ARCHS
    arrays: dict[str, np.ndarray] = {}
    for ds in DATASETS:
        for col in ("test_acc", "valid_mean", "train_time_s", "latency_s", "params_mb"):
            arrays[f"{ds}/hp200/{col}"] = np.full(N_ARCHS, np.nan)
        arrays[f"{ds}/hp200/valid_seeds"] = np.full((N_ARCHS, 3), np.nan)
    with gzip.open(source / "nb201_hp200.csv.gz", "rt", newline="") as f:
        for row in csv.DictReader(f):
            i, ds = int(row["index"]), row["dataset"]
            ops_by_index[i] = row["ops"]
            arrays[f"{ds}/hp200/test_acc"][i] = float(row["test_acc"])
            arrays[f"{ds}/hp200/valid_mean"][i] = float(row["valid_acc_mean"])
            arrays[f"{ds}/hp200/train_time_s"][i] = float(row["train_time_s"])
            arrays[f"{ds}/hp200/latency_s"][i] = float(row["latency_s"])
            arrays[f"{ds}/hp200/params_mb"][i] = float(row["params_mb"])
            seeds = [float(v) for v in row["valid_acc_seeds"].split(";")]
            arrays[f"{ds}/hp200/valid_seeds"][i, : len(seeds)] = seeds
    with gzip.open(source / "nb201_hp12_valid_test_acc.csv.gz", "rt", newline="") as f:
        hp12 = {ds: (np.full(N_ARCHS, np.nan), np.full(N_ARCHS, np.nan)) for ds in DATASETS}
        for row in csv.DictReader(f):
            i = int(row["index"])
            for ds, (vcol, tcol) in HP12_COLUMNS.items():
                hp12[ds][0][i] = float(row[vcol])
                hp12[ds][1][i] = float(row[tcol])
    for ds, (valid, test) in hp12.items():
        arrays[f"{ds}/hp12/valid_mean"] = valid
        arrays[f"{ds}/hp12/test_acc"] = test

    assert all(ops_by_index) and len(set(ops_by_index)) == N_ARCHS
    for name, arr in arrays.items():
        finite = np.isfinite(arr) if arr.ndim == 1 else np.isfinite(arr[:, :2])
        assert finite.all(), f"missing values in {name}"
    # float64: the values stay exactly those of the source tables.
    np.savez_compressed(ROOT / "src/archsearch/benchmarks/data/nb201.npz", **arrays)
    (ROOT / "src/archsearch/space/data/nb201_index.txt").write_text("\n".join(ops_by_index) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
