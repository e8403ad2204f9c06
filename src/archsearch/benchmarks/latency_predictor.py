"""Few-shot latency prediction on a device outside the table, from a handful of measured
cells.

The setting is HELP's (Lee, Lee, Chong and Hwang, NeurIPS 2021): latencies of every cell are
known on some reference devices, and a new device has measured only ~10 cells. The method
here is simpler than HELP's meta-learned predictor: the new device's log latency is
modelled as a non-negative combination of the reference devices' log latencies plus an
offset, fitted to the measured cells by non-negative least squares (Lawson and Hanson's
algorithm, `scipy.optimize.nnls`). It generalises proxy-device adaptation (Lu, Yang,
Jiang, Shi and Ren, "One Proxy Device Is Enough for Hardware-Aware Neural Architecture
Search", SIGMETRICS 2022: the latency of a well-correlated proxy device, adapted with a
few target measurements, ranks cells as the target would): the fit picks and mixes the
proxies, and non-negativity keeps 10 measurements from overfitting 13 weights (a product
of latencies, each a power at least 0, stays monotone in each proxy).

On HELP's six meta-test devices, fitted on its meta-train and meta-valid devices from 10
random cells, the rank correlation with the measured latency of all 15,625 cells is
reported by `benchmarks/latency_predictor.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls

from archsearch.benchmarks import latency
from archsearch.core.errors import ConfigError

DEFAULT_SOURCES = latency.HELP_META_TRAIN + latency.HELP_META_VALID


class FewShotLatencyPredictor:
    """Predicts a new device's latency (ms) of every NB201 cell from a few measured ones.

    `sources`: the reference devices of the table (default: HELP's meta-train and
    meta-valid devices, so its meta-test devices stay unseen). `fit(indices, latency_ms)`
    with the official indices of the measured cells and their latencies; then
    `predict()` gives every cell's latency, indexed by official index.
    """

    def __init__(self, sources: Sequence[str] = DEFAULT_SOURCES) -> None:
        names = [latency.device_name(d) for d in sources]
        if not names:
            raise ConfigError("sources: give at least one device of the latency table")
        self.sources = tuple(dict.fromkeys(names))
        self._basis = np.log(np.column_stack([latency.latency_ms(d) for d in self.sources]))
        self.weights: np.ndarray | None = None
        self.offset = 0.0

    def fit(self, indices: Sequence[int], latency_ms: Sequence[float]) -> FewShotLatencyPredictor:
        idx = np.asarray(indices, dtype=int)
        y = np.asarray(latency_ms, dtype=float)
        if idx.shape != y.shape or idx.size < 2:
            raise ConfigError("fit: give two or more measured cells, one latency per index")
        if not (np.isfinite(y).all() and (y > 0).all()):
            raise ConfigError("fit: latencies must be positive and finite")
        x = self._basis[idx]
        # A free offset as the difference of two non-negative columns.
        design = np.column_stack([x, np.ones(len(y)), -np.ones(len(y))])
        coef, _ = nnls(design, np.log(y))
        self.weights, self.offset = coef[:-2], float(coef[-2] - coef[-1])
        return self

    def predict(self, indices: Sequence[int] | None = None) -> np.ndarray:
        """Predicted latency (ms) of the given cells, or of every cell by official index."""
        if self.weights is None:
            raise ConfigError("predict: fit the predictor to measured cells first")
        basis = self._basis if indices is None else self._basis[np.asarray(indices, dtype=int)]
        return np.exp(basis @ self.weights + self.offset)
