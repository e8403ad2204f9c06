"""Architecture encodings for surrogate models: paths, adjacency and a labelled graph.

Surrogate-based strategies (BANANAS, GP Bayesian optimisation) need more than the flat
one-hot of `SearchSpace.encode`: which input->output paths a cell has, and the cell as a
labelled graph for graph kernels. Everything here works on the genotype alone (no torch).

Cell spaces plug in through one small protocol, `CellSpace` (`archsearch.space.
capabilities`): a space with a method `edge_cells(arch) -> Sequence[EdgeCell]` (its cells
as DAGs with an op on each edge) gets every encoding here. Spaces that are not cells get
`vector_encoding`, which falls back to the space's own one-hot `encode()`.

References: the path encoding is from White, Neiswanger and Savani, "BANANAS: Bayesian
Optimization with Neural Architectures for Neural Architecture Search", AAAI 2021; the
op-on-node graph for graph kernels follows Ru, Wan, Dong and Osborne, "Interpretable
Neural Architecture Search via Bayesian Optimisation with Weisfeiler-Lehman Kernels",
ICLR 2021.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.space.base import SearchSpace
from archsearch.space.capabilities import CellSpace, EdgeCell

INPUT_LABEL = "input"
OUTPUT_LABEL = "output"


def is_cell_space(space: SearchSpace) -> bool:
    """Whether `as_cells` (and so the path and graph encodings) works for `space`."""
    return isinstance(space, CellSpace)


def as_cells(space: SearchSpace, arch: Architecture) -> tuple[EdgeCell, ...]:
    """The edge-labelled DAGs of `arch`, from the space's `edge_cells()`."""
    if not isinstance(space, CellSpace):
        raise TypeError(
            f"space {space.id} is not a cell space: give it a method "
            "edge_cells(arch) -> Sequence[EdgeCell] (archsearch.space.capabilities) to use "
            "path and graph encodings"
        )
    return tuple(space.edge_cells(arch))


# --- path encoding (BANANAS) ------------------------------------------------------------------


def cell_paths(cell: EdgeCell) -> list[tuple[str, ...]]:
    """The op sequence of every input->output path, following live edges only (a path
    through a zero op carries nothing, so it does not exist). Sorted, with repeats where
    two different paths carry the same ops."""
    out = cell.out_node
    succ: dict[int, list[tuple[int, str]]] = {}
    for i, j, op in cell.live_edges():
        succ.setdefault(i, []).append((j, op))
    paths: list[tuple[str, ...]] = []

    def walk(node: int, ops: tuple[str, ...]) -> None:
        if node == out:
            paths.append(ops)
            return
        for nxt, op in succ.get(node, ()):
            walk(nxt, (*ops, op))

    for start in cell.inputs:
        walk(start, ())
    return sorted(p for p in paths if p)


def path_encoding_size(n_ops: int, max_length: int) -> int:
    """Features in the path encoding: one per op sequence of length 1..max_length."""
    return sum(n_ops**length for length in range(1, max_length + 1))


def _path_index(path: tuple[str, ...], op_index: dict[str, int], n_ops: int) -> int:
    # Paths of length L come after all shorter ones; within a length, the op sequence
    # read as a base-n_ops number. For NB201: 5 one-op + 25 two-op + 125 three-op = 155.
    offset = path_encoding_size(n_ops, len(path) - 1)
    code = 0
    for op in path:
        code = code * n_ops + op_index[op]
    return offset + code


def cell_path_encoding(cell: EdgeCell, counts: bool = False) -> np.ndarray:
    """The BANANAS path encoding of a cell: one feature per possible op sequence of a
    path (over the whole op vocabulary, up to the longest possible path, n_nodes - 1
    edges), 1 where the cell has such a path (or, with `counts`, how many it has).
    Features for sequences containing a zero op are always 0; they are kept so that the
    layout is the paper's (155 features for NB201)."""
    n_ops = len(cell.ops)
    op_index = {op: k for k, op in enumerate(cell.ops)}
    vec = np.zeros(path_encoding_size(n_ops, cell.n_nodes - 1))
    for path in cell_paths(cell):
        k = _path_index(path, op_index, n_ops)
        vec[k] = vec[k] + 1.0 if counts else 1.0
    return vec


@lru_cache(maxsize=1 << 16)
def _cached_path_encoding(space: SearchSpace, arch: Architecture, counts: bool) -> np.ndarray:
    # Strategies encode the same candidates over and over: cache the vectors per space
    # object (read-only, so sharing them is safe).
    vec = np.concatenate([cell_path_encoding(c, counts) for c in as_cells(space, arch)])
    vec.setflags(write=False)
    return vec


def path_encoding(space: SearchSpace, arch: Architecture, counts: bool = False) -> np.ndarray:
    """The BANANAS path encoding of `arch`: each cell's, concatenated (read-only for
    NB201: copy it to edit it). Its length grows as |ops|^(nodes - 1): fine for NB201
    (155), too large for DARTS-sized cells without truncation (as the paper notes)."""
    return _cached_path_encoding(space, arch, counts)


def vector_encoding(space: SearchSpace, arch: Architecture) -> np.ndarray:
    """A fixed-length vector for vector surrogates: the path encoding of a cell space,
    the space's own `encode()` (one-hot decisions) for any other space."""
    if is_cell_space(space):
        return path_encoding(space, arch)
    return space.encode(arch)


# --- adjacency / one-hot encoding ----------------------------------------------------------------


def cell_adjacency_encoding(cell: EdgeCell) -> np.ndarray:
    """The adjacency encoding (BANANAS' "adjacency matrix" baseline): the upper triangle
    of the node adjacency matrix (1 where a live edge i->j exists), followed by a one-hot
    of the op on each node pair (all zeros where the pair has no edge). Pairs go node by
    node, each node's inputs in order ((0,1), (0,2), (1,2), (0,3), ...: NB201's edge
    order), so for NB201 it has 6 + 6 x 5 = 36 features and its one-hot part equals
    `NB201Space.encode`."""
    n, n_ops = cell.n_nodes, len(cell.ops)
    pairs = [(i, j) for j in range(n) for i in range(j)]
    pair_index = {p: k for k, p in enumerate(pairs)}
    op_index = {op: k for k, op in enumerate(cell.ops)}
    adjacency = np.zeros(len(pairs))
    one_hot = np.zeros((len(pairs), n_ops))
    for i, j, op in cell.edges:
        k = pair_index[(i, j)]
        one_hot[k, op_index[op]] += 1.0  # parallel edges (DARTS allows them) add up
        if op not in cell.zero_ops:
            adjacency[k] = 1.0
    return np.concatenate([adjacency, one_hot.ravel()])


def adjacency_encoding(space: SearchSpace, arch: Architecture) -> np.ndarray:
    """The adjacency encoding of `arch`: each cell's, concatenated."""
    return np.concatenate([cell_adjacency_encoding(c) for c in as_cells(space, arch)])


# --- labelled graph (op-on-node) for graph kernels ------------------------------------------------


@dataclass(frozen=True)
class LabelledDAG:
    """A DAG with a label on each node: the cell with its ops moved onto nodes.

    Node 0 is labelled "input", the last node "output", and every live edge of the cell
    becomes a node labelled with its op. Graph kernels (Weisfeiler-Lehman) compare these.
    `edges` are (from, to) pairs between node positions.
    """

    labels: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]

    def predecessors(self) -> list[list[int]]:
        preds: list[list[int]] = [[] for _ in self.labels]
        for i, j in self.edges:
            preds[j].append(i)
        return preds

    def successors(self) -> list[list[int]]:
        succs: list[list[int]] = [[] for _ in self.labels]
        for i, j in self.edges:
            succs[i].append(j)
        return succs


def cell_to_dag(cell: EdgeCell, prune: bool = True) -> LabelledDAG:
    """The op-on-node view of a cell (as Ru et al. 2021 feed NB201 cells to the WL
    kernel): an "input" node, one node per live edge labelled with its op, an "output"
    node; op node e feeds op node f when e ends where f starts. With `prune`, op nodes
    on no input->output path are dropped (they cannot change the output), so cells that
    differ only in dead ops get the same graph. Input and output nodes are always kept.
    """
    live = cell.live_edges()
    out, inputs = cell.out_node, set(cell.inputs)
    n = len(live) + 2
    src_node = 0
    out_node = n - 1
    edges: set[tuple[int, int]] = set()
    for a, (i, _j, _op) in enumerate(live, start=1):
        if i in inputs:
            edges.add((src_node, a))
    for a, (_i, j, _op) in enumerate(live, start=1):
        if j == out:
            edges.add((a, out_node))
        for b, (i2, _j2, _op2) in enumerate(live, start=1):
            if i2 == j:
                edges.add((a, b))
    keep = list(range(n))
    if prune:
        fwd = _reachable(n, edges, src_node, forward=True)
        bwd = _reachable(n, edges, out_node, forward=False)
        keep = [v for v in range(n) if v in (src_node, out_node) or (v in fwd and v in bwd)]
    position = {v: k for k, v in enumerate(keep)}
    labels = [INPUT_LABEL] + [op for _, _, op in live] + [OUTPUT_LABEL]
    return LabelledDAG(
        labels=tuple(labels[v] for v in keep),
        edges=tuple(
            sorted((position[i], position[j]) for i, j in edges if i in position and j in position)
        ),
    )


def _reachable(n: int, edges: set[tuple[int, int]], start: int, forward: bool) -> set[int]:
    nxt: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        if forward:
            nxt[i].append(j)
        else:
            nxt[j].append(i)
    seen, stack = {start}, [start]
    while stack:
        for w in nxt[stack.pop()]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def labelled_dag(space: SearchSpace, arch: Architecture, prune: bool = True) -> LabelledDAG:
    """The op-on-node labelled DAG of `arch` (see `cell_to_dag`). A genotype of several
    cells gives their disjoint union, each label prefixed with its cell's name, so
    that a graph kernel compares normal cells with normal cells."""
    cells = as_cells(space, arch)
    if len(cells) == 1:
        return cell_to_dag(cells[0], prune)
    labels: list[str] = []
    edges: list[tuple[int, int]] = []
    for cell in cells:
        dag = cell_to_dag(cell, prune)
        base = len(labels)
        labels += [f"{cell.name}/{label}" for label in dag.labels]
        edges += [(base + i, base + j) for i, j in dag.edges]
    return LabelledDAG(tuple(labels), tuple(edges))


__all__ = [
    "CellSpace",
    "EdgeCell",
    "LabelledDAG",
    "adjacency_encoding",
    "as_cells",
    "cell_adjacency_encoding",
    "cell_path_encoding",
    "cell_paths",
    "cell_to_dag",
    "is_cell_space",
    "labelled_dag",
    "path_encoding",
    "path_encoding_size",
    "vector_encoding",
]
