"""Kernels between architectures for GP Bayesian optimisation.

Two kernels, both with unit diagonal (a GP's signal variance is fitted separately):

* `WLKernel`: the Weisfeiler-Lehman subtree kernel on the cell's labelled DAG (Shervashidze
  et al., "Weisfeiler-Lehman Graph Kernels", JMLR 2011), as Ru, Wan, Dong and Osborne use
  it for NAS in "Interpretable Neural Architecture Search via Bayesian Optimisation with
  Weisfeiler-Lehman Kernels" (NAS-BOWL, ICLR 2021): the inner product of label-count
  histograms over WL iterations 0..h, normalised. The number of iterations h is the
  hyperparameter, chosen by marginal likelihood as in NAS-BOWL.
* `PathDistanceKernel`: exp(-d / l) with d the Hamming distance between BANANAS path
  encodings (White, Neiswanger and Savani, AAAI 2021), the length scale l the
  hyperparameter (an exponential kernel on a distance, as NASBOT's OTMANN kernel is on
  its distance; Kandasamy et al., NeurIPS 2018). On spaces that are not cells it uses
  the space's one-hot encoding instead, so it works on every space.

A kernel splits into `raw()` statistics that do not depend on the hyperparameter (WL
per-iteration inner products; path distances), computed once per pair and cached by the
GP strategy, and `apply()`, which turns them into a kernel matrix for one hyperparameter
value cheaply. That split is what makes marginal-likelihood selection over a small grid
cost a few milliseconds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.space.base import SearchSpace
from archsearch.space.encodings import LabelledDAG, labelled_dag, vector_encoding


class ArchKernel(ABC):
    """A positive semi-definite kernel between architectures with unit diagonal."""

    #: the hyperparameter values that marginal-likelihood selection tries
    grid: tuple[float, ...]

    @abstractmethod
    def raw(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        """Hyperparameter-free statistics, shape (S, len(a), len(b))."""

    @abstractmethod
    def raw_diag(self, a: Sequence[Architecture]) -> np.ndarray:
        """The statistics of each architecture with itself, shape (S, len(a))."""

    @abstractmethod
    def apply(
        self, raw: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray, theta: float
    ) -> np.ndarray:
        """The kernel matrix (len(a), len(b)) for hyperparameter `theta`."""

    def prepare(self, b: Sequence[Architecture]) -> Any:
        """A form of `b` that makes repeated `raw_to(a, prepared)` calls cheap (the
        training set, against which many candidates are compared); default: `b`."""
        return list(b)

    def trim_cache(self, max_entries: int) -> None:
        """Forget cached per-architecture features beyond `max_entries` (a long search
        of a large space would otherwise keep every candidate it ever scored). Only
        between uses of prepared forms: kernel values do not change."""

    def raw_to(self, a: Sequence[Architecture], prepared: Any) -> np.ndarray:
        """`raw(a, b)` for `prepared = prepare(b)`."""
        return self.raw(a, prepared)

    def __call__(
        self, a: Sequence[Architecture], b: Sequence[Architecture], theta: float
    ) -> np.ndarray:
        return self.apply(self.raw(a, b), self.raw_diag(a), self.raw_diag(b), theta)


@dataclass
class _WLFeatures:
    """One graph's WL histogram, all iterations in one sparse vector: label ids (one id
    space for every iteration), their counts and iterations, ordered by iteration; and
    the squared norm of each iteration's histogram."""

    ids: np.ndarray
    counts: np.ndarray
    level: np.ndarray
    self_dot: np.ndarray


@dataclass
class _WLGallery:
    """Reference graphs as one dense (label x graph) count matrix over the labels they
    contain; `row[label id]` is a label's row, or -1."""

    row: np.ndarray
    counts: np.ndarray
    n: int


class WLKernel(ArchKernel):
    """Weisfeiler-Lehman subtree kernel on op-on-node cell graphs (NAS-BOWL).

    Iteration 0 labels each node with its op; iteration k relabels a node with its
    previous label and the sorted multiset of its neighbours' previous labels (by
    default its predecessors: in a cell, what a node computes depends on its inputs, so
    a label then names the sub-computation ending at that node). The features of a graph
    are the counts of each label at each iteration; the kernel with h iterations is
    the normalised inner product of the counts over iterations 0..h,
    k(G, G') = <phi(G), phi(G')> / sqrt(<phi(G), phi(G)> <phi(G'), phi(G')>),
    positive semi-definite (an inner product) with k(G, G) = 1.

    Labels are compressed to integers the first time they are seen; the features of an
    architecture are cached, so a candidate met again costs a dictionary look-up.
    Kernel values are sums of integer products, so they are exact and do not depend
    on the order in which labels got their integers (state restores stay bit-exact).
    """

    def __init__(
        self,
        space: SearchSpace,
        iterations: Sequence[int] = (1, 2, 3),
        neighbours: str = "in",
    ) -> None:
        if not iterations or min(iterations) < 0:
            raise ValueError(f"WL iterations must be >= 0, got {list(iterations)}")
        if neighbours not in ("in", "both"):
            raise ValueError(f"neighbours: choose 'in' or 'both', not {neighbours!r}")
        self.space = space
        self.grid = tuple(float(h) for h in sorted(set(iterations)))
        self.max_iter = int(max(iterations))
        self.neighbours = neighbours
        # (iteration, label) -> id, where an iteration-k label is (own id, *sorted
        # neighbour ids) of iteration k - 1; the iteration in the key keeps them apart.
        self._label_ids: dict[tuple[Any, ...], int] = {}
        self._features: dict[Architecture, _WLFeatures] = {}

    def _histograms(self, dag: LabelledDAG) -> _WLFeatures:
        preds = dag.predecessors()
        nbrs = preds
        if self.neighbours == "both":
            # Successors are tagged so that "feeds x" and "is fed by x" differ.
            succs = dag.successors()
            nbrs = [p + [-1 - s for s in succ] for p, succ in zip(preds, succs, strict=True)]
        ids = self._label_ids
        labels = [ids.setdefault((0, lab), len(ids)) for lab in dag.labels]
        all_ids: list[int] = []
        all_counts: list[int] = []
        levels: list[int] = []
        self_dot = []
        for k in range(self.max_iter + 1):
            if k:
                labels = [
                    ids.setdefault(
                        (k, own, *sorted(labels[u] if u >= 0 else -1 - labels[-1 - u] for u in nb)),
                        len(ids),
                    )
                    for own, nb in zip(labels, nbrs, strict=True)
                ]
            hist: dict[int, int] = {}
            for label in labels:
                hist[label] = hist.get(label, 0) + 1
            all_ids += hist.keys()
            all_counts += hist.values()
            levels += [k] * len(hist)
            self_dot.append(float(sum(c * c for c in hist.values())))
        return _WLFeatures(
            ids=np.array(all_ids, dtype=np.int64),
            counts=np.array(all_counts, dtype=np.float64),
            level=np.array(levels, dtype=np.int64),
            self_dot=np.array(self_dot),
        )

    def features(self, arch: Architecture) -> _WLFeatures:
        feats = self._features.get(arch)
        if feats is None:
            feats = self._histograms(labelled_dag(self.space, arch))
            self._features[arch] = feats
        return feats

    def trim_cache(self, max_entries: int) -> None:
        if len(self._features) > max_entries:
            # Label ids may be renumbered too: values depend only on label equality.
            self._features.clear()
            self._label_ids = {}

    def prepare(self, b: Sequence[Architecture]) -> _WLGallery:
        feats = [self.features(arch) for arch in b]
        row = np.full(len(self._label_ids), -1, dtype=np.int64)
        if feats:
            ids = np.concatenate([f.ids for f in feats])
            present = np.unique(ids)
            row[present] = np.arange(len(present))
            cols = np.repeat(np.arange(len(feats)), [len(f.ids) for f in feats])
            mat = np.zeros((len(present), len(feats)))
            mat[row[ids], cols] = np.concatenate([f.counts for f in feats])
        else:
            mat = np.zeros((0, 0))
        return _WLGallery(row, mat, len(feats))

    def raw_to(self, a: Sequence[Architecture], prepared: Any) -> np.ndarray:
        gallery: _WLGallery = prepared
        n_levels = self.max_iter + 1
        feats = [self.features(arch) for arch in a]
        out = np.zeros((len(a) * n_levels, gallery.n))
        if feats and gallery.n:
            ids = np.concatenate([f.ids for f in feats])
            # labels first seen after the gallery was prepared are in none of its graphs
            rows = np.full(len(ids), -1, dtype=np.int64)
            known = ids < len(gallery.row)
            rows[known] = gallery.row[ids[known]]
            hit = rows >= 0
            if hit.any():
                owner = np.repeat(np.arange(len(feats)), [len(f.ids) for f in feats])
                level = np.concatenate([f.level for f in feats])
                # entries come candidate by candidate, iteration by iteration: each
                # (candidate, iteration) segment is contiguous, so one reduceat sums them
                segment = (owner * n_levels + level)[hit]
                contrib = np.concatenate([f.counts for f in feats])[hit, None]
                contrib = contrib * gallery.counts[rows[hit]]
                starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
                out[segment[starts]] = np.add.reduceat(contrib, starts, axis=0)
        return out.reshape(len(a), n_levels, gallery.n).transpose(1, 0, 2)

    def raw(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        return self.raw_to(a, self.prepare(b))

    def raw_diag(self, a: Sequence[Architecture]) -> np.ndarray:
        if not a:
            return np.zeros((self.max_iter + 1, 0))
        return np.stack([self.features(arch).self_dot for arch in a], axis=1)

    def apply(
        self, raw: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray, theta: float
    ) -> np.ndarray:
        h = int(theta) + 1
        dot = raw[:h].sum(axis=0)
        na = np.sqrt(diag_a[:h].sum(axis=0))
        nb = np.sqrt(diag_b[:h].sum(axis=0))
        return dot / np.outer(na, nb)


class PathDistanceKernel(ArchKernel):
    """k(a, b) = exp(-d(a, b) / l), d the L1 distance between encodings: for a cell
    space the binary BANANAS path encodings (d = the number of input->output paths one
    cell has and the other lacks), for any other space its one-hot `encode()` (d = twice
    the number of differing decisions). The exponential of an L1 distance is positive
    definite (a product of one-dimensional Laplace kernels). The length-scale grid is
    in units of that distance."""

    def __init__(self, space: SearchSpace, length_scales: Sequence[float] = (1, 2, 4, 8)) -> None:
        if not length_scales or min(length_scales) <= 0:
            raise ValueError(f"length scales must be > 0, got {list(length_scales)}")
        self.space = space
        self.grid = tuple(float(v) for v in sorted(set(length_scales)))
        self._cache: dict[Architecture, np.ndarray] = {}

    def trim_cache(self, max_entries: int) -> None:
        if len(self._cache) > max_entries:
            self._cache.clear()

    def _encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        rows = []
        for arch in archs:
            vec = self._cache.get(arch)
            if vec is None:
                vec = self._cache[arch] = np.asarray(vector_encoding(self.space, arch), float)
            rows.append(vec)
        return np.stack(rows)

    def raw(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        if not len(a) or not len(b):
            return np.zeros((1, len(a), len(b)))
        ea, eb = self._encode(a), self._encode(b)
        if np.isin(ea, (0.0, 1.0)).all() and np.isin(eb, (0.0, 1.0)).all():
            # for 0/1 vectors |x - y|_1 = |x| + |y| - 2 x.y: one matrix product
            dist = ea.sum(1)[:, None] + eb.sum(1)[None, :] - 2.0 * (ea @ eb.T)
        else:
            dist = np.abs(ea[:, None, :] - eb[None, :, :]).sum(-1)
        return dist[None]

    def raw_diag(self, a: Sequence[Architecture]) -> np.ndarray:
        return np.zeros((1, len(a)))

    def apply(
        self, raw: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray, theta: float
    ) -> np.ndarray:
        return np.exp(-raw[0] / theta)


KERNELS = {"wl": WLKernel, "path": PathDistanceKernel}


__all__ = ["KERNELS", "ArchKernel", "PathDistanceKernel", "WLKernel"]
