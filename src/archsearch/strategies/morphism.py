"""Bayesian optimisation on network morphism, after Auto-Keras: Jin, Song and Hu,
"Auto-Keras: An Efficient Neural Architecture Search System", KDD 2019.

* **Kernel** (their Section 3.1): an edit distance between architectures,
  d(a, b) = D_l(L_a, L_b) + lambda * D_s(S_a, S_b). D_l matches the layer sequences in
  order (a dynamic programme: a layer not matched costs 1, a matched pair costs
  d_l = |w_a - w_b| / max(w_a, w_b) on the widths; we average that relative difference
  over filters, kernel and stride, add an activation mismatch, and charge 1 for layers
  of different ops, as the authors' code does). D_s matches skip connections (Hungarian
  assignment; an unmatched skip costs 1) with d_s = (|u_a - u_b| + |delta_a - delta_b|)
  / (max(u_a, u_b) + max(delta_a, delta_b)), u the index of the layer a skip leaves and
  delta the number of layers it spans. The kernel is exp(-rho * d). An edit distance
  need not make that positive definite: Auto-Keras embeds the distance (Bourgain);
  here the training Gram matrix is projected onto the PSD cone (negative eigenvalues
  clipped to 0, `bayesopt.gp.eigen`) and the predictive variance floored at 0. rho and
  the noise are chosen by marginal likelihood on a grid.
* **Acquisition**: UCB, mean + beta * std (beta = 2.576, the Auto-Keras default).
* **Acquisition search** (their Algorithm 1, a tree search with simulated annealing):
  trained architectures sit in a priority queue by their own UCB; the best is popped and
  all its morphs (`archsearch.space.morphism`) are scored; the temperature decays by
  `decay` per expansion and the search moves on to the next queued architecture with
  the annealing probability exp((a_next - a_best) / T), stopping below `t_min`. Unlike
  Algorithm 1, morphed children are not pushed back into the queue: every proposal is
  exactly one morph from a trained architecture, so the "inherit" evaluator gives it its
  parent's weights (the paper chains several operations and morphs the weights through
  all of them; our weight transfer handles one).

Spaces without morphisms (the cell spaces) get the same search over one-decision moves
(`space.neighbors`) with the Hamming distance between decisions as edit distance, so the
strategy runs anywhere; the morphism machinery applies to the chain space.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.space.capabilities import LayerwiseSpace
from archsearch.space.chain import ACTIVATIONS, LAYER_OPS, LayerSpec
from archsearch.space.morphism import apply_morph, available_morphs
from archsearch.strategies.base import STRATEGIES, Strategy
from archsearch.strategies.bayesopt.acquisition import upper_confidence_bound
from archsearch.strategies.bayesopt.gp import GPFit, select, standardise

RHO_GRID = (0.1, 0.3, 1.0, 3.0)
_CONVS = ("conv", "sep_conv")


# --- the edit distance ------------------------------------------------------------------------
@functools.lru_cache(maxsize=65536)  # few distinct layers: the DP asks the same pairs
def layer_distance(a: LayerSpec, b: LayerSpec) -> float:
    """d_l between two layers: 1 for different ops, else the mean relative difference
    of their attributes (Jin et al. 2019, Section 3.1, extended from width to kernel
    and stride)."""
    if a.op != b.op:
        return 1.0
    if a.op == "identity":
        return 0.0
    pairs = [(a.kernel, b.kernel), (a.stride, b.stride)]
    extra = 0.0
    if a.op in _CONVS:
        pairs.append((a.filters, b.filters))
        extra = float(a.act != b.act)
    diff = sum(abs(x - y) / max(x, y) for x, y in pairs) + extra
    return diff / (len(pairs) + (1 if a.op in _CONVS else 0))


def layers_distance(a: Sequence[LayerSpec], b: Sequence[LayerSpec]) -> float:
    """D_l: the order-preserving edit distance between layer sequences (insertion and
    deletion cost 1, a match costs `layer_distance`)."""
    n, m = len(a), len(b)
    prev = [float(j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [float(i)] + [0.0] * m
        for j in range(1, m + 1):
            cur[j] = min(
                prev[j] + 1.0, cur[j - 1] + 1.0, prev[j - 1] + layer_distance(a[i - 1], b[j - 1])
            )
        prev = cur
    return prev[m]


def skips_of(layers: Sequence[LayerSpec]) -> list[tuple[int, int]]:
    """Skip connections as (u, delta): the layer they leave and the layers they span."""
    return [(j, i - j) for i, spec in enumerate(layers) for j in spec.skips]


def skips_distance(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> float:
    """D_s: the minimum-cost matching of skip connections (unmatched ones cost 1)."""
    if not a or not b:
        return float(len(a) + len(b))
    from scipy.optimize import linear_sum_assignment  # SciPy comes with scikit-learn

    cost = np.empty((len(a), len(b)))
    for i, (u1, d1) in enumerate(a):
        for j, (u2, d2) in enumerate(b):
            cost[i, j] = (abs(u1 - u2) + abs(d1 - d2)) / (max(u1, u2) + max(d1, d2))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum()) + abs(len(a) - len(b))


class _Geometry:
    """Moves (the tree's edges) and the edit distance of a space.

    On the chain space the distance is computed for whole blocks of pairs at once: the
    layer distances of every pair of layers as arrays, the edit-distance programme run
    over all pairs in step, and the skip distance looked up per pair of distinct skip
    sets (few, and cached). `layers_distance` and `skips_distance` are the reference.
    """

    def __init__(self, space: SearchSpace, skip_weight: float) -> None:
        self.space = space
        self.skip_weight = skip_weight
        self.chain = isinstance(space, LayerwiseSpace)
        self._features: dict[Architecture, Any] = {}
        self._skip_ids: dict[tuple[tuple[int, int], ...], int] = {}
        self._skip_sets: list[tuple[tuple[int, int], ...]] = []
        self._skip_cache: dict[tuple[int, int], float] = {}

    def children(self, arch: Architecture) -> list[Architecture]:
        if isinstance(self.space, LayerwiseSpace):
            return [apply_morph(self.space, arch, m) for m in available_morphs(self.space, arch)]
        return list(self.space.neighbors(arch))

    def _feature(self, arch: Architecture) -> Any:
        f = self._features.get(arch)
        if f is None:
            if len(self._features) > 100_000:
                self._features.clear()
            if isinstance(self.space, LayerwiseSpace):
                f = self._chain_feature(self.space, arch)
            else:
                f = np.array([hash(v) for v in arch.values], dtype=np.int64)
            self._features[arch] = f
        return f

    def _chain_feature(
        self, space: LayerwiseSpace, arch: Architecture
    ) -> tuple[np.ndarray, int, int]:
        """(attributes: op id, kernel, stride, filters, act id per layer, padded to
        max_layers with op -1; the depth; the id of the skip set)."""
        layers = space.layers(arch)
        attrs = np.ones((5, space.max_layers))
        attrs[0] = -1.0
        for i, spec in enumerate(layers):
            attrs[:, i] = (
                LAYER_OPS.index(spec.op),
                spec.kernel,
                spec.stride,
                spec.filters,
                ACTIVATIONS.index(spec.act),
            )
        skips = tuple(skips_of(layers))
        sid = self._skip_ids.get(skips)
        if sid is None:
            sid = self._skip_ids[skips] = len(self._skip_sets)
            self._skip_sets.append(skips)
        return attrs, len(layers), sid

    def distances(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        if not a or not b:
            return np.zeros((len(a), len(b)))
        fa = [self._feature(x) for x in a]
        fb = [self._feature(x) for x in b]
        if not self.chain:  # Hamming distance between the decisions
            return (np.stack(fa)[:, None, :] != np.stack(fb)[None, :, :]).sum(-1).astype(float)
        return self._layer_part(fa, fb) + self.skip_weight * self._skip_part(fa, fb)

    def _layer_part(self, fa: list[Any], fb: list[Any]) -> np.ndarray:
        """D_l for every pair: `layer_distance` and `layers_distance`, vectorised."""
        A = np.stack([f[0] for f in fa])[:, None, :, :, None]  # (M, 1, 5, L, 1)
        B = np.stack([f[0] for f in fb])[None, :, :, None, :]  # (1, N, 5, 1, L)

        def rel(row: int) -> np.ndarray:
            x, y = A[:, :, row], B[:, :, row]
            return np.abs(x - y) / np.maximum(x, y)

        op = A[:, :, 0]
        same = op == B[:, :, 0]
        conv = (rel(1) + rel(2) + rel(3) + (A[:, :, 4] != B[:, :, 4])) / 4.0
        pool = (rel(1) + rel(2)) / 2.0
        is_conv = (op == 0) | (op == 1)
        d = np.where(same, np.where(op == LAYER_OPS.index("identity"), 0.0, pool), 1.0)
        d = np.where(same & is_conv, conv, d)  # (M, N, L, L)
        M, N, L = d.shape[0], d.shape[1], d.shape[2]
        rows = np.empty((L + 1, M, N, L + 1))
        rows[0] = np.arange(L + 1, dtype=float)
        for i in range(1, L + 1):
            prev, cur = rows[i - 1], rows[i]
            cur[..., 0] = float(i)
            for j in range(1, L + 1):
                cur[..., j] = np.minimum(
                    np.minimum(prev[..., j] + 1.0, cur[..., j - 1] + 1.0),
                    prev[..., j - 1] + d[..., i - 1, j - 1],
                )
        na = np.array([f[1] for f in fa])[:, None]
        nb = np.array([f[1] for f in fb])[None, :]
        return rows[na, np.arange(M)[:, None], np.arange(N)[None, :], nb]

    def _skip_part(self, fa: list[Any], fb: list[Any]) -> np.ndarray:
        """D_s for every pair, computed once per pair of distinct skip sets."""
        ua, inv_a = np.unique([f[2] for f in fa], return_inverse=True)
        ub, inv_b = np.unique([f[2] for f in fb], return_inverse=True)
        table = np.empty((len(ua), len(ub)))
        for r, x in enumerate(ua.tolist()):
            for c, y in enumerate(ub.tolist()):
                value = self._skip_cache.get((x, y))
                if value is None:
                    if len(self._skip_cache) > 1_000_000:
                        self._skip_cache.clear()
                    value = skips_distance(self._skip_sets[x], self._skip_sets[y])
                    self._skip_cache[(x, y)] = value
                table[r, c] = value
        return table[inv_a.reshape(-1)][:, inv_b.reshape(-1)]


def edit_distance(
    space: SearchSpace, a: Architecture, b: Architecture, skip_weight: float = 1.0
) -> float:
    """Auto-Keras's d(a, b) between two chain architectures."""
    return float(_Geometry(space, skip_weight).distances([a], [b])[0, 0])


# --- the strategy -----------------------------------------------------------------------------
@STRATEGIES.register("morphism")
class MorphismBO(Strategy):
    """Auto-Keras BO: a GP on the edit-distance kernel, UCB, and a simulated-annealing
    tree search over morphs of trained architectures (see the module docstring).

    The first `n_init` asks are random architectures; after that every proposal is a
    child of a COMPLETE architecture (one morph on the chain space), never one proposed
    before. When no trained architecture has an unseen child, a random unseen
    architecture is asked (None once the space is exhausted). FAILED and PRUNED results
    are remembered (never asked again) but do not enter the GP.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_init: int = 5,
        beta: float = 2.576,
        skip_weight: float = 1.0,
        t_init: float = 1.0,
        t_min: float = 0.05,
        decay: float = 0.5,
        max_children: int = 40,
    ) -> None:
        super().__init__(space, seed)
        if n_init < 1:
            raise ConfigError(f"morphism: n_init must be >= 1, got {n_init}")
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"morphism: decay must be in (0, 1), got {decay}")
        if not 0.0 < t_min < t_init:
            raise ConfigError(f"morphism: need 0 < t_min < t_init, got {t_min} and {t_init}")
        if max_children < 1:
            raise ConfigError(f"morphism: max_children must be >= 1, got {max_children}")
        self.n_init = int(n_init)
        self.beta = float(beta)
        self.t_init, self.t_min, self.decay = float(t_init), float(t_min), float(decay)
        self.max_children = int(max_children)
        self.geometry = _Geometry(space, float(skip_weight))
        self._told: dict[Architecture, float | None] = {}  # score, None if not COMPLETE
        self._asked: set[Architecture] = set()
        self._order: list[Architecture] = []  # asked, in order (for the state)
        self._gram: np.ndarray = np.zeros((0, 0))  # distances between the COMPLETE ones
        self._complete: list[Architecture] = []
        #: the trained architecture each proposal is a child of (None: random)
        self.parent_of: dict[Architecture, Architecture | None] = {}

    # --- ask / tell ----------------------------------------------------------------------
    def ask(self) -> Architecture | None:
        before = self.rng.bit_generator.state
        if len(self._asked) < self.n_init or not self._complete:
            arch = self._random_unseen()
            parent = None
        else:
            found = self._search()
            arch, parent = found if found is not None else (self._random_unseen(), None)
        if arch is None:
            self.rng.bit_generator.state = before  # a None ask changes no state
            return None
        self._asked.add(arch)
        self._order.append(arch)
        self.parent_of[arch] = parent
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        ok = result.state is TrialState.COMPLETE and result.score is not None
        if arch in self._told:
            return
        self._asked.add(arch)
        self._told[arch] = float(result.score) if ok and result.score is not None else None
        if ok:
            d = self.geometry.distances([arch], self._complete)[0]
            n = len(self._complete)
            gram = np.zeros((n + 1, n + 1))
            gram[:n, :n] = self._gram
            gram[n, :n] = gram[:n, n] = d
            self._gram = gram
            self._complete.append(arch)

    # --- the model -------------------------------------------------------------------------
    def _fit(self) -> tuple[GPFit, np.ndarray]:
        y = np.array([self._told[a] for a in self._complete], dtype=float)
        z = standardise(y)
        kernels = {rho: np.exp(-rho * self._gram) for rho in RHO_GRID}
        return select(kernels, z), z

    def _ucb(self, gp: GPFit, archs: Sequence[Architecture]) -> np.ndarray:
        d = self.geometry.distances(archs, self._complete)
        mean, std = gp.predict(np.exp(-gp.theta * d))
        return upper_confidence_bound(mean, std, self.beta)

    def _search(self) -> tuple[Architecture, Architecture] | None:
        """Algorithm 1 of Jin et al. (2019), one morph deep (see the module docstring)."""
        gp, _ = self._fit()
        mean, std = gp.predict(np.exp(-gp.theta * self._gram))  # the trained ones' own
        own = upper_confidence_bound(mean, std, self.beta)
        # Max-heap by the parent's own UCB; ties by ask order, so the search is seeded.
        index = {a: k for k, a in enumerate(self._order)}
        heap = [
            (-float(u), index.get(a, 0), k)
            for k, (a, u) in enumerate(zip(self._complete, own, strict=True))
        ]
        heapq.heapify(heap)
        best: tuple[float, Architecture, Architecture] | None = None
        temperature = self.t_init
        # Cooling ends the search, but not before some parent offered an unseen child.
        while heap and (temperature > self.t_min or best is None):
            _, _, k = heapq.heappop(heap)
            parent = self._complete[k]
            children = [c for c in self.geometry.children(parent) if c not in self._asked]
            if len(children) > self.max_children:
                pick = self.rng.choice(len(children), self.max_children, replace=False)
                children = [children[int(i)] for i in sorted(pick)]
            if children:
                values = self._ucb(gp, children)
                i = int(np.argmax(values))
                if best is None or values[i] > best[0]:
                    best = (float(values[i]), children[i], parent)
            temperature *= self.decay
            if not heap or best is None:
                continue
            # Simulated annealing: look at the next queued parent with probability
            # exp((a_next - a_best) / T); a next parent whose own value beats the best
            # child found is always expanded.
            a_next = -heap[0][0]
            if self.rng.random() >= math.exp(min(0.0, (a_next - best[0]) / temperature)):
                break
        if best is None:
            return None
        return best[1], best[2]

    def _random_unseen(self) -> Architecture | None:
        size = self.space.size()
        if size is not None and len(self._asked) >= size:
            return None
        for _ in range(1000):
            arch = self.space.sample(self.rng)
            if arch not in self._asked:
                return arch
        return None

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "asked": [a.to_json() for a in self._order],
            "parents": [_json_or_none(self.parent_of.get(a)) for a in self._order],
            "told": [[a.to_json(), s] for a, s in self._told.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._told, self._asked, self._order = {}, set(), []
        self._gram, self._complete, self.parent_of = np.zeros((0, 0)), [], {}
        for text, parent in zip(state["asked"], state["parents"], strict=True):
            arch = Architecture.from_json(text)
            self._asked.add(arch)
            self._order.append(arch)
            self.parent_of[arch] = None if parent is None else Architecture.from_json(parent)
        for text, score in state["told"]:
            arch = Architecture.from_json(text)
            self._told[arch] = None if score is None else float(score)
            if score is not None:
                self._complete.append(arch)
        self._gram = self.geometry.distances(self._complete, self._complete)


def _json_or_none(arch: Architecture | None) -> str | None:
    return None if arch is None else arch.to_json()
