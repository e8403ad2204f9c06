"""A zero-mean GP on standardised scores, with a unit-diagonal kernel K:

    z ~ GP(0, s2 * (K + lam * I))

(Rasmussen and Williams, "Gaussian Processes for Machine Learning", 2006, ch. 2 and 5.)
The hyperparameters are the kernel's own (WL iterations or a length scale), the relative
noise `lam` and the signal variance `s2`. For a given (theta, lam), s2 has a closed-form
maximum-likelihood value, s2 = z' (K + lam I)^-1 z / n, so selecting by marginal
likelihood is a search over a small grid of (theta, lam) that needs one
eigendecomposition of K per theta (every noise level then comes almost free): a few
milliseconds at 150 observations, cheap enough to redo on each ask.

NumPy only: a few hundred points need no more than its eigendecomposition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from archsearch.core.errors import ConfigError

# Relative noise values tried by marginal likelihood. Even noise-free benchmarks need a
# floor: distinct cells can have identical graphs (kernel rows equal), and a surrogate
# that interpolates noise-free data it cannot explain generalises badly.
NOISE_GRID = (1e-3, 1e-2, 3e-2, 0.1, 0.3)

_NORMAL = NormalDist()


def copula_transform(y: np.ndarray) -> np.ndarray:
    """Scores mapped through their ranks to standard-normal quantiles (a Gaussian copula,
    as in Salinas et al., "A Quantile-based Approach for Hyperparameter Transfer
    Learning", ICML 2020). NAS scores are skewed (on NAS-Bench-201 a few cells score
    10%, most 70-90%): ranks keep a handful of broken cells from dominating the
    variance the GP must explain. Ties get their mean rank."""
    n = len(y)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(y, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    # mean rank over ties, so equal scores map to equal values
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = sums[inverse] / counts[inverse]
    return np.array([_NORMAL.inv_cdf((r + 0.5) / n) for r in ranks])


TRANSFORMS = ("copula", "standardise")


def check_transform(transform: str) -> None:
    """The surrogate's target transform must be one of `TRANSFORMS`."""
    if transform not in TRANSFORMS:
        raise ConfigError(f"transform: choose 'copula' or 'standardise', not {transform!r}")


def standardise(y: np.ndarray) -> np.ndarray:
    std = float(y.std())
    return (y - y.mean()) / (std if std > 0 else 1.0)


@dataclass
class GPFit:
    """A fitted GP: everything prediction needs. The kernel matrix is kept as its
    eigendecomposition K = Q diag(e) Q', so (K + lam I)^-1 = Q diag(1 / (e + lam)) Q'."""

    theta: float  # the kernel hyperparameter
    lam: float  # noise variance relative to the signal variance
    s2: float  # signal variance (of the standardised targets)
    basis: np.ndarray  # Q
    inv_eig: np.ndarray  # 1 / (e + lam)
    alpha: np.ndarray  # (K + lam I)^-1 z
    log_ml: float

    def predict(self, k_cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at points whose
        unit-diagonal kernel against the training points is `k_cross` (m x n):
        mean = k' (K + lam I)^-1 z, var = s2 (1 - k' (K + lam I)^-1 k)."""
        mean = k_cross @ self.alpha
        v = k_cross @ self.basis
        var = self.s2 * np.clip(1.0 - (v * v) @ self.inv_eig, 1e-12, None)
        return mean, np.sqrt(var)


def eigen(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0: K is PSD up to rounding) and eigenvectors of `k`."""
    e, q = np.linalg.eigh(k)
    return np.clip(e, 0.0, None), q


def fit(eig: tuple[np.ndarray, np.ndarray], z: np.ndarray, theta: float, lam: float) -> GPFit:
    """The GP for a unit-diagonal kernel matrix, given as `eigen(K)`, and targets `z`.
    One eigendecomposition serves every noise level: that is why it is used rather
    than a Cholesky factorisation per level."""
    e, q = eig
    n = len(z)
    inv_eig = 1.0 / (e + lam)
    proj = q.T @ z
    quad = float(proj * proj @ inv_eig)
    s2 = max(quad / n, 1e-12)
    logdet = float(np.log(e + lam).sum())
    # log N(z | 0, s2 (K + lam I)) at the optimal s2
    log_ml = -0.5 * (n * math.log(s2) + logdet + n * (1.0 + math.log(2.0 * math.pi)))
    return GPFit(theta, lam, s2, q, inv_eig, q @ (proj * inv_eig), log_ml)


def select(
    kernels: dict[float, np.ndarray], z: np.ndarray, noise_grid: Sequence[float] = NOISE_GRID
) -> GPFit:
    """The fit with the highest marginal likelihood over kernel hyperparameters (the keys
    of `kernels`, each with its kernel matrix) and relative noise levels. Ties go to the
    first in grid order, so the choice is deterministic."""
    best: GPFit | None = None
    for theta, k in kernels.items():
        eig = eigen(k)
        for lam in noise_grid:
            gp = fit(eig, z, theta, lam)
            if best is None or gp.log_ml > best.log_ml:
                best = gp
    if best is None:
        raise ValueError("select: no kernel hyperparameter to try")
    return best


__all__ = [
    "NOISE_GRID",
    "TRANSFORMS",
    "GPFit",
    "check_transform",
    "copula_transform",
    "eigen",
    "fit",
    "select",
    "standardise",
]
