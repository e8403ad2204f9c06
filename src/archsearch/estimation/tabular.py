"""Evaluation by table look-up (NAS-Bench-201): metrics plus the simulated cost of a query.

A tabular evaluator is an ordinary evaluator, so benchmark comparisons run through the
very code path that real training uses; the simulated executor turns its `cost` into a
virtual clock (as in Syne Tune's simulated backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.benchmarks import latency as device_latency
from archsearch.benchmarks.nb201 import NB201Table, dataset_name, fidelity_epochs
from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.estimation.base import EVALUATORS, Evaluator, TrialContext
from archsearch.space.base import SearchSpace
from archsearch.space.nb201 import NB201Space


@EVALUATORS.register("nb201")
class NB201Evaluator(Evaluator):
    """Looks a cell up in NAS-Bench-201.

    Metrics: `val_acc` (the search signal, at `fidelity` epochs), `test_acc` (same
    fidelity), `final_test_acc` (200 epochs, for reporting only), `params_m`,
    `latency_ms` (NB201's own measurement), and for each device in `devices` its
    measured latency in milliseconds as `latency@DEVICE` (HELP's tables, see
    `archsearch.benchmarks.latency`; `devices="all"` for all 27; a name not in the table
    is a `ConfigError` listing them). `seed="random"` draws one training seed's validation
    accuracy per query (200 epochs only), as NATS-Bench's `is_random=True`; the draw is
    seeded by the trial.

    Under a multi-fidelity scheduler `ctx.resource` picks the table (12 or 200 epochs;
    NB201 has no others, and this evaluator does not interpolate between them). A
    promoted trial is charged only the training it adds to its parent's: (200 - 12)/200
    of the 200-epoch time, as if training continued from the 12-epoch checkpoint. (The
    12-epoch table comes from its own 12-epoch schedule, so the continuation is a cost
    model, not a measured run.)
    """

    metric = "val_acc"
    mode = "max"
    fidelities = (12.0, 200.0)

    def __init__(
        self,
        dataset: str = "cifar10",
        fidelity: int = 12,
        seed: str = "mean",
        devices: str | Sequence[str] = (),
    ) -> None:
        self.dataset = dataset_name(dataset)
        self.fidelity = fidelity_epochs(int(fidelity))
        if seed not in ("mean", "random"):
            raise ConfigError(f"seed: choose 'mean' or 'random', not {seed!r}")
        if seed == "random" and self.fidelity != 200:
            raise ConfigError("seed='random' needs fidelity 200: the 12-epoch table has means only")
        self.seed_mode = seed
        self.space = NB201Space()
        self.table = NB201Table()
        # Whole columns up front: a query is then a few array reads (table speed).
        self._valid = {f: self.table.column(self.dataset, f, "valid_mean") for f in (12, 200)}
        self._test = {f: self.table.column(self.dataset, f, "test_acc") for f in (12, 200)}
        self._final = self.table.column(self.dataset, 200, "test_acc")
        self._params = self.table.column(self.dataset, 200, "params_mb")
        self._latency = self.table.column(self.dataset, 200, "latency_s")
        self._time_200 = self.table.column(self.dataset, 200, "train_time_s")
        if isinstance(devices, str):
            devices = device_latency.devices() if devices == "all" else devices.split(",")
        self.devices = tuple(dict.fromkeys(device_latency.device_name(d) for d in devices))
        # HELP measured CIFAR-10-sized networks; the same column serves every dataset (the
        # classifier head is the only difference).
        self._devices = {
            device_latency.metric_name(d): device_latency.latency_ms(d) for d in self.devices
        }

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        if arch.space != self.space.id:
            raise GenotypeError(f"the nb201 evaluator scores nb201 cells, not {arch.space!r}")
        i = self.space.index(arch)
        fidelity = self.fidelity
        if ctx.resource is not None:
            fidelity = fidelity_epochs(round(ctx.resource))
        if self.seed_mode == "random" and fidelity == 200:
            val = self.table.valid_acc(i, self.dataset, 200, np.random.default_rng(ctx.seed))
        else:  # the 12-epoch table holds seed means only
            val = float(self._valid[fidelity][i])
        done = 0.0 if ctx.parent_resource is None else float(ctx.parent_resource)
        metrics = {
            "val_acc": val,
            "test_acc": float(self._test[fidelity][i]),
            "final_test_acc": float(self._final[i]),
            "params_m": float(self._params[i]),
            "latency_ms": 1000.0 * float(self._latency[i]),
            **{name: float(column[i]) for name, column in self._devices.items()},
        }
        cost = float(self._time_200[i]) * max(0.0, fidelity - done) / 200
        return Result.complete(metrics, cost=cost)

    def supports(self, space: SearchSpace) -> bool:
        return space.id == self.space.id

    def describe(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "fidelity": self.fidelity,
            "seed": self.seed_mode,
            "devices": list(self.devices),
        }
