"""Exact accuracy x device-latency Pareto fronts of NAS-Bench-201, computed from the tables,
and the hypervolume of a found front as a share of the exact one's.

The front is over all 15,625 cells: accuracy (maximised) from `NB201Table`, latency
(minimised) from HELP's measurements (`latency`). The hypervolume's reference point is the
exact front's nadir (its worst accuracy, that of its fastest cell, and its worst latency,
that of its most accurate cell), so the exact front's share is 1 and a found cell outside
the box the exact front spans adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.benchmarks import latency
from archsearch.benchmarks.nb201 import NB201Table


def front_indices(accuracy: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated cells (higher accuracy, lower latency), fastest first.
    Of cells with equal (accuracy, latency) the lowest index is kept."""
    # Sort by latency, then by accuracy descending, then index: a cell is on the front
    # iff it is more accurate than every cell sorted before it.
    order = np.lexsort((np.arange(len(accuracy)), -accuracy, latency_ms))
    best = -np.inf
    keep = []
    for i in order:
        if accuracy[i] > best:
            keep.append(i)
            best = accuracy[i]
    return np.asarray(keep, dtype=int)


@dataclass(frozen=True)
class ExactFront:
    """The exact front of one dataset's accuracy column against one device's latency."""

    dataset: str
    device: str
    accuracy: str  # "valid" (200-epoch validation, seed mean) or "test" (200-epoch test)
    indices: np.ndarray
    reference: tuple[float, float]  # (accuracy, latency) of the nadir
    volume: float

    def share(self, cells: Sequence[int]) -> float:
        """Hypervolume of the cells' front (by official index) over the exact front's."""
        acc, lat = columns(self.dataset, self.device, self.accuracy)
        idx = np.asarray(list(cells), dtype=int)
        if idx.size == 0:
            return 0.0
        return volume(acc[idx], lat[idx], self.reference) / self.volume


def columns(dataset: str, device: str, accuracy: str) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, latency ms) of every cell."""
    table = NB201Table()
    if accuracy not in ("valid", "test"):
        raise ValueError(f"accuracy: 'valid' or 'test', not {accuracy!r}")
    acc = table.column(dataset, 200, "valid_mean" if accuracy == "valid" else "test_acc")
    return acc, latency.latency_ms(device)


def volume(acc: np.ndarray, lat: np.ndarray, reference: tuple[float, float]) -> float:
    """The hypervolume of (accuracy, latency) points, both turned into minimisation."""
    points = np.column_stack([-np.asarray(acc, float), np.asarray(lat, float)])
    return hypervolume(points, (-reference[0], reference[1]))


def exact_front(dataset: str, device: str, accuracy: str = "valid") -> ExactFront:
    """The exact front of 200-epoch `accuracy` ("valid" or "test") against `device`."""
    device = latency.device_name(device)
    acc, lat = columns(dataset, device, accuracy)
    idx = front_indices(acc, lat)
    reference = (float(acc[idx].min()), float(lat[idx].max()))
    return ExactFront(
        dataset, device, accuracy, idx, reference, volume(acc[idx], lat[idx], reference)
    )


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """The hypervolume dominated by `points` (rows, every objective minimised) and bounded
    by `reference` (Zitzler and Thiele, "Multiobjective Optimization Using Evolutionary
    Algorithms: A Comparative Case Study", PPSN 1998): Optuna's exact routine
    (`optuna._hypervolume.compute_hypervolume`). Points not strictly better than the
    reference in every objective add nothing."""
    try:
        from optuna._hypervolume import compute_hypervolume
    except ImportError:  # pragma: no cover - optuna is in the dev extra
        raise ImportError(
            "the hypervolume needs Optuna: pip install 'archsearch[optuna]'"
        ) from None
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, ref.size)
    pts = pts[(pts < ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(compute_hypervolume(pts, ref))
