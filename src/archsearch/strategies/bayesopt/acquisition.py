"""Acquisition functions (maximised): expected improvement and an upper confidence bound.

* EI: Mockus, Tiesis and Zilinskas, "The application of Bayesian methods for seeking the
  extremum", 1978; closed form as in Jones, Schonlau and Welch, "Efficient Global
  Optimization of Expensive Black-Box Functions", J. Global Optim. 1998:
  EI(x) = (mu - best - xi) Phi(u) + sigma phi(u), u = (mu - best - xi) / sigma.
* UCB: Srinivas, Krause, Kakade and Seeger, "Gaussian Process Optimization in the Bandit
  Setting", ICML 2010: mu + beta * sigma (beta here is the multiplier of sigma).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(u: np.ndarray) -> np.ndarray:
    # erfc keeps precision in the far lower tail, where EI lives for poor candidates.
    return 0.5 * np.asarray(_erfc(-u / _SQRT2), dtype=np.float64)


def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0
) -> np.ndarray:
    std = np.maximum(std, 1e-12)
    gap = mean - best - xi
    u = gap / std
    return gap * normal_cdf(u) + std * _INV_SQRT_2PI * np.exp(-0.5 * u * u)


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float = 2.0) -> np.ndarray:
    return mean + beta * std


Acquisition = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_acquisition(name: str, best: float, xi: float = 0.0, beta: float = 2.0) -> Acquisition:
    """The acquisition `name` ("ei" or "ucb") as a function of (mean, std)."""
    if name == "ei":
        return lambda m, s: expected_improvement(m, s, best, xi)
    if name == "ucb":
        return lambda m, s: upper_confidence_bound(m, s, beta)
    raise ValueError(f"acquisition: choose 'ei' or 'ucb', not {name!r}")


ACQUISITIONS = ("ei", "ucb")

__all__ = [
    "ACQUISITIONS",
    "expected_improvement",
    "make_acquisition",
    "normal_cdf",
    "upper_confidence_bound",
]
