"""Measured latency of every NAS-Bench-201 cell on 27 device settings (HELP's tables).

HELP (Lee, Lee, Chong and Hwang, "HELP: Hardware-Adaptive Efficient Latency Prediction for NAS
via Meta-Learning", NeurIPS 2021; MIT licence) measured the inference latency of all
15,625 cells on GPUs (at batch sizes 1, 32 and 256: the `_1/_32/_256` suffix), server
CPUs, phones, a Raspberry Pi 4 and two accelerators (eyeriss, fpga; the last four columns
come from HW-NAS-Bench, Li et al., ICLR 2021). Values are milliseconds; the phone columns
samsung_a50, samsung_s7, pixel2 and essential_ph_1 are whole milliseconds, as measured.
See `data/README.md` for provenance.

As a metric a device's latency is spelled `latency@DEVICE`, e.g. `latency@pixel2`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture

#: prefix of a device-latency metric name: `latency@pixel2` (milliseconds)
METRIC_PREFIX = "latency@"

#: HELP's split of the devices (its `script/run_nas_metad2a.sh`): the predictor is fitted
#: on the meta-train and meta-valid devices and judged on the meta-test ones.
HELP_META_TRAIN = (
    "1080ti_1",
    "1080ti_32",
    "1080ti_256",
    "silver_4114",
    "silver_4210r",
    "samsung_a50",
    "pixel3",
    "essential_ph_1",
    "samsung_s7",
)
HELP_META_VALID = ("titanx_1", "titanx_32", "titanx_256", "gold_6240")
HELP_META_TEST = ("titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss")


@cache
def _arrays() -> dict[str, np.ndarray]:
    path = resources.files("archsearch.benchmarks").joinpath("data/nb201_latency.npz")
    with path.open("rb") as f, np.load(f) as npz:
        return {k: npz[k].astype(np.float64) for k in npz.files}


def devices() -> tuple[str, ...]:
    """The device settings in the table, sorted."""
    return tuple(sorted(_arrays()))


def device_name(name: str) -> str:
    """The device as the table spells it (case-insensitive; `-` or `_`), or a one-line
    `ConfigError` listing the choices."""
    key = name.strip().lower().replace("-", "_")
    if key in _arrays():
        return key
    raise ConfigError(
        f"device {name!r} is not in the NB201 latency table; choose one of: " + ", ".join(devices())
    )


def metric_name(device: str) -> str:
    """`latency@DEVICE`, the metric under which evaluators report a device's latency."""
    return METRIC_PREFIX + device_name(device)


def metric_device(metric: str) -> str | None:
    """The device a `latency@DEVICE` metric names (checked), or None for other metrics."""
    if not metric.startswith(METRIC_PREFIX):
        return None
    return device_name(metric[len(METRIC_PREFIX) :])


def latency_ms(device: str) -> np.ndarray:
    """The device's latency (ms) of every cell, indexed by official NB201 index
    (read-only: the array is shared)."""
    column = _arrays()[device_name(device)]
    column.flags.writeable = False
    return column


class LatencyLimit:
    """A study constraint (`Study(constraints=[...])`): a cell whose latency exceeds
    `limit_ms` is rejected before it is evaluated, so it costs no query, as a real
    hardware-aware search measures (or predicts) latency before it trains. The latency
    is the device's measured one, or `latencies`, any per-cell array indexed by
    official index (e.g. a `FewShotLatencyPredictor`'s prediction for a new device)."""

    def __init__(
        self,
        limit_ms: float,
        device: str | None = None,
        latencies: np.ndarray | None = None,
        label: str | None = None,
    ) -> None:
        from archsearch.space.nb201 import NB201Space

        if (device is None) == (latencies is None):
            raise ConfigError("LatencyLimit: give a device or a latency array, not both")
        self.limit_ms = float(limit_ms)
        column = latency_ms(device) if device is not None else latencies
        self.latency: np.ndarray = np.asarray(column, dtype=float)
        self.label = label or (metric_name(device) if device is not None else "predicted latency")
        self.space = NB201Space()

    def __call__(self, arch: Architecture) -> str | None:
        value = float(self.latency[self.space.index(arch)])
        if value <= self.limit_ms:
            return None
        return f"{self.label} {value:.3g} ms > {self.limit_ms:g} ms"
