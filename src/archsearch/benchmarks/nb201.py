"""NAS-Bench-201 tables, shipped as package data (read-only).

Every number comes from the NAS-Bench-201 / NATS-Bench data (Dong & Yang, ICLR 2020;
Dong et al., TPAMI 2021; MIT licence): see `data/README.md` for provenance. Two fidelities:

* 200 epochs: test accuracy, validation accuracy (mean and per seed), training time,
  latency and parameters, for cifar10, cifar100 and ImageNet16-120;
* 12 epochs (the separate `hp=12` schedule, the NB201 paper's search signal): validation
  and test accuracy, seed means only. Its training time is not in the data; the cost of a
  12-epoch query is taken as the 200-epoch time x 12/200, an approximation.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.space.nb201 import NB201Space

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
FIDELITIES = (12, 200)
_ALIASES = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
}


def dataset_name(name: str) -> str:
    """The canonical NB201 dataset name for a user's spelling; a clear error otherwise."""
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ConfigError(
            f"dataset {name!r} is not in NAS-Bench-201; choose one of: {', '.join(DATASETS)}"
        ) from None


def fidelity_epochs(epochs: int) -> int:
    """The epochs checked against the fidelities NB201 has."""
    if epochs not in FIDELITIES:
        raise ConfigError(f"fidelity: NAS-Bench-201 has 12 and 200 epochs, not {epochs}")
    return epochs


#: decimals the accuracies are rounded to (percentage points)
ACCURACY_DECIMALS = 4


def _snap(key: str, values: np.ndarray) -> np.ndarray:
    """Accuracies rounded to `ACCURACY_DECIMALS`: the stored means of per-seed counts
    carry float noise (up to about 4e-5 points), which splits equal accuracies and so
    breaks real ties by chance (e.g. the two best cifar100 12-epoch cells, both 61.32).
    Rounding to 3, 4 or 5 decimals gives the same distinct values in every column, so
    4 decimals removes the noise and nothing else."""
    if key.rsplit("/", 1)[-1] in ("valid_mean", "valid_seeds", "test_acc"):
        return np.round(values, ACCURACY_DECIMALS)
    return values


@cache
def _arrays() -> dict[str, np.ndarray]:
    path = resources.files("archsearch.benchmarks").joinpath("data/nb201.npz")
    with path.open("rb") as f, np.load(f) as npz:
        return {k: _snap(k, npz[k].astype(np.float64)) for k in npz.files}


class NB201Table:
    """Query NAS-Bench-201 by official index (see `NB201Space.index`)."""

    def column(self, dataset: str, fidelity: int, name: str) -> np.ndarray:
        """A whole column, indexed by official index: `valid_mean`, `test_acc`, and for
        200 epochs also `valid_seeds` (n x 3, NaN where a cell has 2 seeds),
        `train_time_s`, `latency_s`, `params_mb`."""
        key = f"{dataset_name(dataset)}/hp{fidelity_epochs(fidelity)}/{name}"
        try:
            return _arrays()[key]
        except KeyError:
            raise ConfigError(
                f"NAS-Bench-201 has no column {name!r} at {fidelity} epochs"
            ) from None

    def valid_acc(
        self, index: int, dataset: str, fidelity: int = 200, rng: np.random.Generator | None = None
    ) -> float:
        """Validation accuracy (%): the seed mean, or with `rng` one seed drawn at random
        (as NATS-Bench's `is_random=True`; 200 epochs only, the 12-epoch data has means)."""
        if rng is None:
            return float(self.column(dataset, fidelity, "valid_mean")[index])
        if fidelity != 200:
            raise ConfigError("NAS-Bench-201 per-seed accuracies exist for 200 epochs only")
        seeds = self.column(dataset, 200, "valid_seeds")[index]
        seeds = seeds[np.isfinite(seeds)]
        return float(seeds[rng.integers(len(seeds))])

    def test_acc(self, index: int, dataset: str, fidelity: int = 200) -> float:
        return float(self.column(dataset, fidelity, "test_acc")[index])

    def params_m(self, index: int, dataset: str) -> float:
        """Parameters in millions."""
        return float(self.column(dataset, 200, "params_mb")[index])

    def latency_ms(self, index: int, dataset: str) -> float:
        """NB201's own inference latency measurement, in milliseconds."""
        return 1000.0 * float(self.column(dataset, 200, "latency_s")[index])

    def train_time_s(self, index: int, dataset: str, fidelity: int = 200) -> float:
        """Training time in seconds; for 12 epochs the approximation 200-epoch time x 12/200."""
        time200 = float(self.column(dataset, 200, "train_time_s")[index])
        return time200 * fidelity_epochs(fidelity) / 200

    def query_cost(self, index: int, dataset: str, fidelity: int) -> float:
        """Simulated seconds one query costs: training at that fidelity."""
        return self.train_time_s(index, dataset, fidelity)

    def query(
        self,
        arch: Architecture | int | str,
        dataset: str,
        fidelity: int = 200,
        rng: np.random.Generator | None = None,
    ) -> dict[str, float]:
        """Every number for one cell (a genotype, an official index or an arch string)."""
        if isinstance(arch, int):
            index = arch
            NB201Space().from_index(index)  # range check
        else:
            space = NB201Space()
            index = space.index(space.parse(arch) if isinstance(arch, str) else arch)
        return {
            "index": index,
            "valid_acc": self.valid_acc(index, dataset, fidelity, rng),
            "test_acc": self.test_acc(index, dataset, fidelity),
            "params_m": self.params_m(index, dataset),
            "latency_ms": self.latency_ms(index, dataset),
            "train_time_s": self.train_time_s(index, dataset, fidelity),
            "cost_s": self.query_cost(index, dataset, fidelity),
        }

    def best_valid(self, dataset: str, fidelity: int) -> float:
        """The best mean validation accuracy in the whole space (for regret)."""
        return float(np.max(self.column(dataset, fidelity, "valid_mean")))
