"""Hierarchical and flat representations: Liu, Simonyan, Vinyals, Fernando and
Kavukcuoglu, "Hierarchical Representations for Efficient Architecture Search", ICLR 2018.

A *motif* is a small DAG whose nodes 0..n-1 are in topological order: node 0 is the
motif's input, node n-1 its output, and each edge i -> j (i < j) carries one operation
of the level below, or "none" (no edge). Level 1 holds the primitives (Section 2.3 of the
paper): 1x1 convolution, 3x3 depthwise convolution, 3x3 separable convolution, 3x3 max
pooling, 3x3 average pooling and identity, each convolution followed by batch norm and
ReLU, every primitive at C channels and stride 1. Level 2 holds `motifs` motifs of
`motif_nodes` nodes over the primitives; level 3 holds one motif of `top_nodes` nodes
whose edges are level-2 motifs: the cell. Assembling it (every level-3 edge replaced by
the level-2 DAG it names) gives the cell's full graph of primitives.

Merge: a node with several inputs concatenates them along channels (depthwise
concatenation, as the paper) and, to keep every edge at the primitives' C channels, a 1x1
Conv-BN-ReLU maps the k*C channels back to C (`merge="concat"`, the default); `merge="sum"`
adds them instead (cheaper; no extra weights).

The "flat" space is the paper's flat baseline: one level, a single DAG over the
primitives, with `nodes` nodes; by default as many as the hierarchical cell assembled
along a chain top motif (`top_nodes + (top_nodes - 1) * (motif_nodes - 2)`, 13 for the
defaults).

Genotype: one decision per motif edge, motif by motif (level 2 motifs "m1".."mM" then
the level-3 "cell"; the flat space has only "cell"), each motif's edges in the order
(0,1), (0,2), (1,2), (0,3), ... (by successor, then predecessor). Decision "m2.1-3" is
the op on edge 1 -> 3 of motif m2; values are op names, or "m1".."mM" at level 3. Nodes
off every path from a motif's input to its output are dead and are not built. Every
combination of values is a valid genotype (strategies such as MCTS or TPE set each
decision on its own): a motif with no input-output path at all computes the identity,
as if its only edge were an identity from input to output.

Mutation is the paper's (Section 3): pick a level with motifs to change, a motif of it,
a successor node i, a predecessor j < i, and replace the op on j -> i by another one
(adding, changing or removing the edge), redrawing if the motif would lose its
input-output path. `sample` draws every edge uniformly and redraws a disconnected motif (so
sampled and mutated motifs always have a path),
the distribution that the paper's initialisation (a trivial genotype diversified by 1000
random mutations) approaches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture, Decision
from archsearch.space.base import SPACES, SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    pass

#: level-1 primitives of Liu et al. 2018, Section 2.3 (all at C channels, stride 1)
PRIMITIVES = (
    "conv_1x1",
    "dw_conv_3x3",
    "sep_conv_3x3",
    "max_pool_3x3",
    "avg_pool_3x3",
    "identity",
)
NONE = "none"
MERGES = ("concat", "sum")
CELL = "cell"
_MAX_REDRAWS = 10_000

#: a motif's live edges: (predecessor, successor, op)
Edges = tuple[tuple[int, int, str], ...]


def motif_edges(n: int) -> list[tuple[int, int]]:
    """The edges (i, j), i < j, of an n-node motif, by successor then predecessor."""
    return [(i, j) for j in range(1, n) for i in range(j)]


def live_edges(n: int, ops: Sequence[str]) -> Edges:
    """The edges on some path from node 0 to node n-1 (ops in `motif_edges(n)` order);
    empty when no path exists. Only these are built: other nodes feed nothing or are
    fed nothing."""
    edges = [(i, j, op) for (i, j), op in zip(motif_edges(n), ops, strict=True) if op != NONE]
    forward = {0}
    for i, j, _ in edges:  # successor order: i is settled before any edge leaves j
        if i in forward:
            forward.add(j)
    if n - 1 not in forward:
        return ()
    backward = {n - 1}
    for i, j, _ in reversed(edges):
        if j in backward:
            backward.add(i)
    return tuple((i, j, op) for i, j, op in edges if i in forward and j in backward)


class _MotifSpace(SearchSpace):
    """Shared machinery: a list of motifs (name, nodes, options), one decision per edge."""

    network = "archsearch.nn.hierarchical:build"

    def __init__(self, channels: int, cells: int, merge: str) -> None:
        if int(channels) < 1 or int(cells) < 1:
            raise ConfigError(
                f"{self.name}: channels and cells must be >= 1, got {channels}, {cells}"
            )
        if merge not in MERGES:
            raise ConfigError(f"{self.name}: merge must be one of {list(MERGES)}, not {merge!r}")
        self.channels, self.cells, self.merge = int(channels), int(cells), merge
        # (motif name, level, nodes, op options), lowest level first; set by subclasses
        self.motifs: list[tuple[str, int, int, tuple[str, ...]]] = []
        self._decisions: tuple[Decision, ...] = ()
        self._slices: dict[str, slice] = {}

    def _finish(self) -> None:
        decisions: list[Decision] = []
        for name, _, n, options in self.motifs:
            start = len(decisions)
            decisions += [Decision(f"{name}.{i}-{j}", options) for i, j in motif_edges(n)]
            self._slices[name] = slice(start, len(decisions))
        self._decisions = tuple(decisions)
        self._levels = sorted({level for _, level, _, _ in self.motifs})

    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def size(self) -> int | None:
        return None  # not every combination is valid; the count is astronomically large

    # --- structure ------------------------------------------------------------------------
    def motif_ops(self, arch: Architecture, motif: str) -> tuple[str, ...]:
        """The ops of one motif's edges, in `motif_edges` order."""
        return tuple(arch.values[self._slices[motif]])

    def live(self, arch: Architecture) -> dict[str, Edges]:
        """Each motif's live edges (see `live_edges`)."""
        return {name: live_edges(n, self.motif_ops(arch, name)) for name, _, n, _ in self.motifs}

    def _connected(self, values: Sequence[Any], motif: int) -> bool:
        name, _, n, _ = self.motifs[motif]
        return bool(live_edges(n, values[self._slices[name]]))

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Architecture:
        """Every edge uniform over its options; a motif without an input-output path is
        drawn again."""
        values: list[Any] = []
        for name, _, n, options in self.motifs:
            for _ in range(_MAX_REDRAWS):
                ops = [options[int(rng.integers(len(options)))] for _ in motif_edges(n)]
                if live_edges(n, ops):
                    break
            else:  # pragma: no cover - needs a vanishing chance with >= 2 options
                raise RuntimeError(f"{self.id}: could not draw a connected motif {name!r}")
            values += ops
        return self.make_unchecked(values)

    def make_unchecked(self, values: Sequence[Any]) -> Architecture:
        names = [d.name for d in self._decisions]
        return Architecture(self.id, tuple(zip(names, values, strict=True)))

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """Liu et al.'s mutation: a level, a motif of it, a successor node i, a predecessor
        j < i, a new op on j -> i (redrawn while it would disconnect a connected motif)."""
        values = list(arch.values)
        for _ in range(_MAX_REDRAWS):
            level = self._levels[int(rng.integers(len(self._levels)))]
            candidates = [k for k, m in enumerate(self.motifs) if m[1] == level]
            k = candidates[int(rng.integers(len(candidates)))]
            name, _, n, options = self.motifs[k]
            i = int(rng.integers(1, n))  # successor
            j = int(rng.integers(i))  # predecessor
            index = self._slices[name].start + motif_edges(n).index((j, i))
            others = [o for o in options if o != values[index]]
            new = list(values)
            new[index] = others[int(rng.integers(len(others)))]
            if self._connected(new, k) or not self._connected(values, k):
                return self.make_unchecked(new)
        raise RuntimeError(f"{self.id}: found no valid mutation")  # pragma: no cover

    def neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        """Every genotype one edge op away that leaves no connected motif without its
        input-output path, in decision and option order."""
        values = list(arch.values)
        owner = {idx: k for k, m in enumerate(self.motifs) for idx in range(*self._span(m[0]))}
        for idx, d in enumerate(self._decisions):
            for option in d.options:
                if option != values[idx]:
                    new = list(values)
                    new[idx] = option
                    k = owner[idx]
                    if self._connected(new, k) or not self._connected(values, k):
                        yield self.make_unchecked(new)

    def _span(self, motif: str) -> tuple[int, int]:
        s = self._slices[motif]
        return s.start, s.stop

    def canonical(self, arch: Architecture) -> Any:
        """The genotype with dead edges set to "none", disconnected motifs written as
        their identity (one identity edge from input to output), and level-2 motifs the
        cell never uses reset to a fixed chain of identities: equal networks, equal keys."""
        live = self.live(arch)
        used = {op for _, _, op in live[CELL]}
        values: list[Any] = []
        for name, level, n, _ in self.motifs:
            if name != CELL and level < self._levels[-1] and name not in used:
                edges = {(i, i + 1) for i in range(n - 1)}
                values += ["identity" if e in edges else NONE for e in motif_edges(n)]
                continue
            kept = {(i, j): op for i, j, op in live[name]} or {(0, n - 1): "identity"}
            values += [kept.get(e, NONE) for e in motif_edges(n)]
        return self.make_unchecked(values)

    def describe(self, arch: Architecture) -> str:
        live = self.live(arch)
        parts = []
        for name, _, _, _ in self.motifs:
            edges = " ".join(f"{i}-{j}:{op}" for i, j, op in live[name])
            parts.append(f"{name}[{edges}]")
        return " ".join(parts)

    # --- the network ----------------------------------------------------------------------


@SPACES.register("hierarchical")
class HierarchicalSpace(_MotifSpace):
    """Three levels (Liu et al. 2018): primitives, `motifs` level-2 motifs of
    `motif_nodes` nodes, one level-3 cell of `top_nodes` nodes over the level-2 motifs.

    Defaults follow the paper's hierarchical setting (4-node level-2 motifs, a 5-node
    cell) with 4 level-2 motifs (the paper used 6) to keep CPU networks small; `channels`
    is the stem's C (16 in the paper's small model), `cells` the cells per stage.
    """

    name = "hierarchical"
    version = 1

    def __init__(
        self,
        motifs: int = 4,
        motif_nodes: int = 4,
        top_nodes: int = 5,
        channels: int = 16,
        cells: int = 1,
        merge: str = "concat",
    ) -> None:
        super().__init__(channels, cells, merge)
        if int(motifs) < 1:
            raise ConfigError(f"hierarchical: motifs must be >= 1, got {motifs}")
        if int(motif_nodes) < 2 or int(top_nodes) < 2:
            raise ConfigError(
                f"hierarchical: motif_nodes and top_nodes must be >= 2, got "
                f"{motif_nodes}, {top_nodes}"
            )
        self.n_motifs, self.motif_nodes, self.top_nodes = (
            int(motifs),
            int(motif_nodes),
            int(top_nodes),
        )
        level2 = (NONE, *PRIMITIVES)
        names = tuple(f"m{k + 1}" for k in range(self.n_motifs))
        self.motifs = [(m, 2, self.motif_nodes, level2) for m in names]
        self.motifs.append((CELL, 3, self.top_nodes, (NONE, *names)))
        self._finish()

    def assembled_nodes(self, arch: Architecture) -> int:
        """Nodes of the cell's graph of primitives, every level-3 edge expanded."""
        live = self.live(arch)
        inner = {
            name: len({v for i, j, _ in live[name] for v in (i, j)}) - 2
            for name, *_ in self.motifs[:-1]
        }
        top = {v for i, j, _ in live[CELL] for v in (i, j)}
        return len(top) + sum(inner[op] for _, _, op in live[CELL])


@SPACES.register("flat")
class FlatSpace(_MotifSpace):
    """Liu et al.'s flat representation: one DAG of `nodes` nodes over the primitives
    (default: the hierarchical defaults' cell assembled along a chain, 13 nodes)."""

    name = "flat"
    version = 1

    def __init__(
        self,
        nodes: int | None = None,
        channels: int = 16,
        cells: int = 1,
        merge: str = "concat",
    ) -> None:
        super().__init__(channels, cells, merge)
        n = 5 + 4 * (4 - 2) if nodes is None else int(nodes)
        if n < 2:
            raise ConfigError(f"flat: nodes must be >= 2, got {nodes}")
        self.nodes = n
        self.motifs = [(CELL, 1, n, (NONE, *PRIMITIVES))]
        self._finish()
