"""OTMANN: the optimal-transport distance between neural networks of Kandasamy,
Neiswanger, Schneider, Poczos and Xing, "Neural Architecture Search with Bayesian
Optimisation and Optimal Transport" (NASBOT), NeurIPS 2018, Section 3, for the
layer-wise chain space (`archsearch.space.chain`).

A network is a DAG of layers, each with a label (its type) and a mass; the distance is
the cost of the cheapest way to transport one network's layer mass onto the other's:

* mass: a convolution's mass is its number of units times the number of units coming
  into it (in x out channels), a pooling or identity layer's the channels coming in; the
  input, output and decision (linear head) layers get max(0.1 x the processing layers'
  total, 100) each, as the NASBOT code does. Like NASBOT, the input counts 1 unit, so
  the distance does not depend on the dataset's channel count.
* label mismatch (matching mass of layer i onto layer j costs M(i, j) per unit): as
  NASBOT's CNN table: conv k vs conv k' costs sqrt(2)/10 x sqrt(|k - k'|), a pooling
  layer vs another kind of pooling 0.5, any other pair of families infinity (never
  matched). NASBOT has residual blocks where the chain space has separable convolutions:
  conv vs sep_conv costs as NASBOT's conv vs res, 0.9 x the conv cost + 0.1. Our
  additions for what NASBOT's CNNs lack: an identity layer vs a pool costs 0.5 (both
  parameter-free and channel-preserving), and a convolution with another activation
  0.1 more (NASBOT's cost between two rectifiers in its MLP table). Strides and pool
  sizes are not labels, as in NASBOT.
* structure (`struct_coeff` x S(i, j) per unit): S is the mean absolute difference of
  the layers' path lengths, shortest, longest and random-walk (the expected length when
  each step picks one of the next layers uniformly), from the input and to the output,
  counting all layers and then only convolutions and only parameter-free layers (NASBOT's
  layer groups), the from-input and to-output halves averaged;
* non-assignment: mass left unmatched costs `non_assignment` (1) per unit, on either
  side.

The optimum d is the OT problem's value; d_bar = d / (total mass of both networks) is
NASBOT's normalised variant. The kernel is exp(-(d / D + d_bar) / theta): the sum of
the two distances as in NASBOT's kernel exp(-beta d - beta_bar d_bar), with the raw d
put on d_bar's scale by a fixed reference mass D (twice the mean total mass of 64
networks drawn from the space with a fixed private seed), so one length scale theta,
chosen by marginal likelihood, weighs both. It is not PSD in general; NASBOT reports
it is in practice and projects onto the PSD cone otherwise, which the GP here does:
`gp.eigen` clips negative eigenvalues at 0.

Solver: the transport problem with dummy nodes is a partial transport, cost
non_assignment x (M1 + M2) + sum Z_ij (C_ij - 2 x non_assignment); pairs of layers of
different families never match, so it splits into one small problem per family (input,
output and decision layers are single nodes; the convolutions; the parameter-free
layers), each solved exactly by successive shortest paths (Bellman-Ford: a few dozen
edges), in pure Python since numpy's per-call cost dominates at this size.
Distances are cached per pair.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.space.base import SearchSpace
from archsearch.space.capabilities import LayerwiseSpace
from archsearch.strategies.bayesopt.kernels import ArchKernel

CONV_SCALE = math.sqrt(2) / 10  # NASBOT: cost per sqrt(kernel-size difference)
POOL_MISMATCH = 0.5
CONV_RES_FRAC = 0.9  # NASBOT: conv vs res costs 0.9 x conv cost + 0.1 x non-assignment
ACT_MISMATCH = 0.1
NON_PROC_FRAC = 0.1
NON_PROC_MIN = 100.0
_CONVS = ("conv", "sep_conv")
_FREE = ("max_pool", "avg_pool", "identity")
_GROUPS = ("all", "conv", "free")
_MAX_CACHE = 500_000


@dataclass(frozen=True)
class Layer:
    """One node of a network for OTMANN: `kind` is "ip", "op", "decision" or a chain
    layer op; `kernel` and `act` matter for convolutions only."""

    kind: str
    kernel: int = 0
    act: str = ""

    @property
    def family(self) -> str:
        if self.kind in _CONVS:
            return "conv"
        if self.kind in _FREE:
            return "free"
        return self.kind


@dataclass(frozen=True)
class Network:
    """Layers in topological order (input first, output last), edges (from, to), masses
    and, per layer, its 9 path lengths from the input and 9 to the output."""

    layers: tuple[Layer, ...]
    edges: tuple[tuple[int, int], ...]
    masses: tuple[float, ...]
    from_input: tuple[tuple[float, ...], ...]
    to_output: tuple[tuple[float, ...], ...]

    @property
    def total_mass(self) -> float:
        return float(sum(self.masses))

    @functools.cached_property
    def families(self) -> dict[str, tuple[list[Layer], list[float], np.ndarray]]:
        """Per layer family: its layers, their masses and their 18 path lengths (the
        distance matches layers within a family only)."""
        out: dict[str, tuple[list[Layer], list[float], np.ndarray]] = {}
        for family in dict.fromkeys(layer.family for layer in self.layers):
            idx = [i for i, layer in enumerate(self.layers) if layer.family == family]
            out[family] = (
                [self.layers[i] for i in idx],
                [self.masses[i] for i in idx],
                np.array([self.from_input[i] + self.to_output[i] for i in idx]),
            )
        return out


def _path_lengths(
    n: int, preds: list[list[int]], layers: Sequence[Layer], forward: bool
) -> list[tuple[float, ...]]:
    """Per node: shortest, longest and random-walk path length, for each layer group,
    from the input (`forward=False`: over predecessors) or to the output (over
    successors). An edge counts 1 when the layer it leaves, read in the direction of
    the walk, is in the group (NASBOT's group edge weights)."""
    succs: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        for u in preds[v]:
            succs[u].append(v)
    nbrs = succs if forward else preds
    order = range(n - 1, -1, -1) if forward else range(n)
    out: list[list[float]] = [[] for _ in range(n)]
    for group in _GROUPS:
        sp, lp, rw = [0.0] * n, [0.0] * n, [0.0] * n
        for v in order:
            if not nbrs[v]:
                continue
            w = 1.0 if group == "all" or layers[v].family == group else 0.0
            sp[v] = w + min(sp[u] for u in nbrs[v])
            lp[v] = w + max(lp[u] for u in nbrs[v])
            rw[v] = w + sum(rw[u] for u in nbrs[v]) / len(nbrs[v])
        for v in range(n):
            out[v] += [sp[v], lp[v], rw[v]]
    return [tuple(row) for row in out]


def chain_network(space: LayerwiseSpace, arch: Architecture) -> Network:
    """The OTMANN view of a chain-space genotype: input, its layers (each fed by the
    layer before and its skip layers, channels concatenated), the decision layer (the
    linear head) and the output."""
    specs = space.layers(arch)
    layers = [Layer("ip")]
    preds: list[list[int]] = [[]]
    channels = [1]  # the input counts one unit, as in NASBOT
    masses = [0.0]
    for i, spec in enumerate(specs):
        node = i + 1
        inputs = [node - 1] + [j + 1 for j in spec.skips]
        c_in = sum(channels[u] for u in inputs)
        if spec.op in _CONVS:
            layers.append(Layer(spec.op, spec.kernel, spec.act))
            channels.append(spec.filters)
            masses.append(float(c_in * spec.filters))
        else:
            layers.append(Layer(spec.op))
            channels.append(c_in)
            masses.append(float(c_in))
        preds.append(inputs)
    n_proc = len(layers)
    non_proc = max(NON_PROC_FRAC * sum(masses), NON_PROC_MIN)
    layers += [Layer("decision"), Layer("op")]
    preds += [[n_proc - 1], [n_proc]]
    masses[0] = non_proc
    masses += [non_proc, non_proc]
    n = len(layers)
    edges = tuple((u, v) for v in range(n) for u in preds[v])
    return Network(
        layers=tuple(layers),
        edges=edges,
        masses=tuple(masses),
        from_input=tuple(_path_lengths(n, preds, layers, forward=False)),
        to_output=tuple(_path_lengths(n, preds, layers, forward=True)),
    )


@functools.lru_cache(maxsize=4096)
def label_cost(a: Layer, b: Layer) -> float:
    """Cost per unit of mass of matching layer `a` with layer `b` (inf: never)."""
    if a.family != b.family:
        return math.inf
    if a.family == "conv":
        cost = CONV_SCALE * math.sqrt(abs(a.kernel - b.kernel))
        if a.kind != b.kind:  # conv vs sep_conv, as NASBOT's conv vs res
            cost = CONV_RES_FRAC * cost + (1 - CONV_RES_FRAC)
        return cost + (ACT_MISMATCH if a.act != b.act else 0.0)
    if a.family == "free":
        return 0.0 if a.kind == b.kind else POOL_MISMATCH
    return 0.0  # input, output, decision


def _max_gain_transport(supply: list[float], demand: list[float], gain: list[list[float]]) -> float:
    """max sum Z_ij gain_ij over Z >= 0 with row sums <= supply and column sums <=
    demand: successive shortest paths (costs -gain, Bellman-Ford), stopping when no
    augmenting path has a positive gain. Exact: the optimal value is concave in the
    amount shipped, so the first non-improving path marks the optimum."""
    n, m = len(supply), len(demand)
    if n == 1 and m == 1:
        return max(gain[0][0], 0.0) * min(supply[0], demand[0])
    flow = [[0.0] * m for _ in range(n)]
    left_s, left_d = list(supply), list(demand)
    pairs = [(i, j) for i in range(n) for j in range(m) if gain[i][j] > 0]
    total = 0.0
    # nodes: 0 source, 1..n rows, n+1..n+m columns, n+m+1 sink
    sink = n + m + 1
    for _ in range(4 * (n + m) + 8):
        dist = [math.inf] * (sink + 1)
        prev = [-1] * (sink + 1)
        dist[0] = 0.0
        for _ in range(sink):
            changed = False
            for i in range(n):
                if left_s[i] > 1e-12 and dist[0] < dist[1 + i]:
                    dist[1 + i], prev[1 + i] = dist[0], 0
                    changed = True
            for i, j in pairs:
                r, c = 1 + i, 1 + n + j
                if dist[r] - gain[i][j] < dist[c] - 1e-12:
                    dist[c], prev[c] = dist[r] - gain[i][j], r
                    changed = True
                if flow[i][j] > 1e-12 and dist[c] + gain[i][j] < dist[r] - 1e-12:
                    dist[r], prev[r] = dist[c] + gain[i][j], c
                    changed = True
            for j in range(m):
                c = 1 + n + j
                if left_d[j] > 1e-12 and dist[c] < dist[sink] - 1e-12:
                    dist[sink], prev[sink] = dist[c], c
                    changed = True
            if not changed:
                break
        if not dist[sink] < -1e-12:
            break
        # the path and its bottleneck
        path = [sink]
        while path[-1] != 0:
            path.append(prev[path[-1]])
        path.reverse()
        amount = math.inf
        for u, v in itertools.pairwise(path):
            if u == 0:
                amount = min(amount, left_s[v - 1])
            elif v == sink:
                amount = min(amount, left_d[u - 1 - n])
            elif u > n:  # a column back to a row: undo flow
                amount = min(amount, flow[v - 1][u - 1 - n])
        for u, v in itertools.pairwise(path):
            if u == 0:
                left_s[v - 1] -= amount
            elif v == sink:
                left_d[u - 1 - n] -= amount
            elif u <= n:
                flow[u - 1][v - 1 - n] += amount
            else:
                flow[v - 1][u - 1 - n] -= amount
        total -= amount * dist[sink]
    return total


def otmann_distance(
    a: Network, b: Network, struct_coeff: float = 0.1, non_assignment: float = 1.0
) -> tuple[float, float]:
    """(d, d_bar): the OTMANN distance between two networks and its normalised form."""
    total = a.total_mass + b.total_mass
    gained = 0.0
    fam_b = b.families
    for family, (layers_a, masses_a, paths_a) in a.families.items():
        if family not in fam_b:
            continue
        layers_b, masses_b, paths_b = fam_b[family]
        # the structural term: mean |difference| over the 9 from-input and the 9
        # to-output path lengths, the two halves averaged (= the mean over all 18)
        struct = np.abs(paths_a[:, None, :] - paths_b[None, :, :]).mean(axis=2)
        labels = np.array([[label_cost(x, y) for y in layers_b] for x in layers_a])
        gain = 2 * non_assignment - labels - struct_coeff * struct
        gained += _max_gain_transport(masses_a, masses_b, gain.tolist())
    d = max(non_assignment * total - gained, 0.0)
    return d, d / total


class OTMANNKernel(ArchKernel):
    """exp(-(d / D + d_bar) / theta) between chain networks (see the module docstring);
    theta from `length_scales`, chosen by marginal likelihood."""

    def __init__(
        self,
        space: SearchSpace,
        length_scales: Sequence[float] = (0.1, 0.2, 0.5, 1.0),
        struct_coeff: float = 0.1,
        non_assignment: float = 1.0,
    ) -> None:
        if not isinstance(space, LayerwiseSpace):
            raise ConfigError(
                f"kernel 'otmann' compares layer-wise networks: it needs the chain space, "
                f"not {space.id}"
            )
        if not length_scales or min(length_scales) <= 0:
            raise ConfigError(f"otmann length scales must be > 0, got {list(length_scales)}")
        if struct_coeff < 0 or non_assignment <= 0:
            raise ConfigError(
                f"otmann: need struct_coeff >= 0 and non_assignment > 0, got "
                f"{struct_coeff} and {non_assignment}"
            )
        self.space = space
        self.grid = tuple(float(v) for v in sorted(set(length_scales)))
        self.struct_coeff = float(struct_coeff)
        self.non_assignment = float(non_assignment)
        self._networks: dict[Architecture, Network] = {}
        self._pairs: dict[tuple[Architecture, Architecture], float] = {}
        rng = np.random.default_rng(0)  # private: the reference mass is a constant
        sample = [chain_network(space, space.sample(rng)).total_mass for _ in range(64)]
        self.reference_mass = 2.0 * float(np.mean(sample))

    def network(self, arch: Architecture) -> Network:
        net = self._networks.get(arch)
        if net is None:
            net = self._networks[arch] = chain_network(self.space, arch)
        return net

    def distance(self, a: Architecture, b: Architecture) -> float:
        """d / D + d_bar, cached (symmetric)."""
        # a fixed order, so both argument orders (and any process) get one value
        key = (a, b) if a.values <= b.values else (b, a)
        value = self._pairs.get(key)
        if value is None:
            if a == b:
                value = 0.0
            else:
                d, d_bar = otmann_distance(
                    self.network(a), self.network(b), self.struct_coeff, self.non_assignment
                )
                value = d / self.reference_mass + d_bar
            self._pairs[key] = value
        return value

    def trim_cache(self, max_entries: int) -> None:
        if len(self._networks) > max_entries or len(self._pairs) > _MAX_CACHE:
            self._networks.clear()
            self._pairs.clear()

    def raw(self, a: Sequence[Architecture], b: Sequence[Architecture]) -> np.ndarray:
        out = np.zeros((1, len(a), len(b)))
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                out[0, i, j] = self.distance(x, y)
        return out

    def raw_diag(self, a: Sequence[Architecture]) -> np.ndarray:
        return np.zeros((1, len(a)))

    def apply(
        self, raw: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray, theta: float
    ) -> np.ndarray:
        return np.exp(-raw[0] / theta)


__all__ = [
    "Layer",
    "Network",
    "OTMANNKernel",
    "chain_network",
    "label_cost",
    "otmann_distance",
]
