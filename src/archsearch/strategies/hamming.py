"""The exponentiated Hamming (overlap) kernel between architectures, for the GP strategies.

k(a, b) = exp(-h(a, b) / l), h the number of decisions on which the two genotypes differ
and l a length scale (in decisions), chosen by marginal likelihood. It is a product over
decisions of exp(-[a_i != b_i] / l), so positive definite, with unit diagonal. This is
the categorical kernel of Casmopolitan (Wan, Nguyen, Ha, Ru, Lu and Osborne, "Think
Global and Act Local: Bayesian Optimisation over High-Dimensional Categorical and Mixed
Search Spaces", ICML 2021), there with one length scale per variable, here shared; with a
shared scale it is also COMBO's diffusion kernel on the Hamming graph up to the
per-variable normalisation (Oh, Tomczak, Gavves and Welling, NeurIPS 2019).

Unlike a graph kernel it sees a cell as its list of decisions (on NAS-Bench-201: which op
sits on which edge), so what it learns is which op helps on which edge: the effect of
one move, exactly what a GP must rank when it orders an incumbent's neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.space.base import SearchSpace
from archsearch.strategies.bayesopt.kernels import ArchKernel


class HammingKernel(ArchKernel):
    """exp(-(number of differing decisions) / l) on any space whose genotypes are a
    fixed list of decisions; the length scales tried are `length_scales`."""

    def __init__(
        self, space: SearchSpace, length_scales: Sequence[float] = (0.5, 1, 2, 4, 8)
    ) -> None:
        if not length_scales or min(length_scales) <= 0:
            raise ValueError(f"length scales must be > 0, got {list(length_scales)}")
        self.space = space
        self.grid = tuple(float(v) for v in sorted(set(length_scales)))
        self._codes: dict[Architecture, np.ndarray] = {}
        self._options = [{v: k for k, v in enumerate(d.options)} for d in space.decisions()]

    def trim_cache(self, max_entries: int) -> None:
        if len(self._codes) > max_entries:
            self._codes.clear()

    def _encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Each genotype as the indices of its options (n x decisions)."""
        rows = []
        for arch in archs:
            code = self._codes.get(arch)
            if code is None:
                code = np.array(
                    [opts[v] for opts, v in zip(self._options, arch.values, strict=True)],
                    dtype=np.int64,
                )
                self._codes[arch] = code
            rows.append(code)
        return np.stack(rows) if rows else np.zeros((0, len(self._options)), dtype=np.int64)

    def raw(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        ea, eb = self._encode(a), self._encode(b)
        return (ea[:, None, :] != eb[None, :, :]).sum(-1, dtype=np.float64)[None]

    def raw_diag(self, a: Sequence[Architecture]) -> np.ndarray:
        return np.zeros((1, len(a)))

    def apply(
        self, raw: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray, theta: float
    ) -> np.ndarray:
        return np.exp(-raw[0] / theta)


__all__ = ["HammingKernel"]
