"""What a space can do beyond the `SearchSpace` contract, declared as protocols.

A strategy or evaluator that needs more than the contract checks for a capability with
`isinstance(space, Protocol)`, never for a concrete space class, so a new space gets a
feature by implementing its protocol:

* `CellSpace`: genotypes are cells (DAGs with an op on each edge): path, adjacency and
  graph encodings (BANANAS, the WL kernel of GP-BO), cell drawings in the report.
* `LayerwiseSpace`: genotypes are chains of layers: network morphisms (Net2Net, weight
  inheritance), the OTMANN distance, morphism BO.
* `GrowableSpace`: genotypes grow block by block, simplest first (PNAS).
* `SupernetSpace`: a weight-sharing supernet's architecture weights turn into a genotype
  by the space's own rule (one-shot methods: DARTS, SNAS, GDAS, DrNAS, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from archsearch.core.genotype import Architecture, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from archsearch.space.base import SearchSpace
    from archsearch.space.chain import LayerSpec


@dataclass(frozen=True)
class EdgeCell:
    """A cell as a DAG with ops on its edges (the NB201 and DARTS convention).

    Nodes are 0..n_nodes-1 in topological order; `inputs` are the cell's input nodes and
    `output` its output node (-1: the last). `edges` are (from, to, op) triples. `ops`
    is the op vocabulary of the space, which fixes the layout of fixed-length encodings
    (so two cells of one space always encode to vectors of one length); ops in
    `zero_ops` output zeros, so an edge carrying one does not exist as far as data flow
    is concerned. `name` tells the cells of a multi-cell genotype apart (DARTS: "normal",
    "reduce"). A space whose cells combine their nodes differently (DARTS concatenates
    the intermediate nodes) writes that as edges to the output with an op of its own,
    e.g. "concat".
    """

    n_nodes: int
    edges: tuple[tuple[int, int, str], ...]
    ops: tuple[str, ...]
    inputs: tuple[int, ...] = (0,)
    output: int = -1
    zero_ops: frozenset[str] = frozenset({"none"})
    name: str = ""

    @property
    def out_node(self) -> int:
        return self.output if self.output >= 0 else self.n_nodes - 1

    def live_edges(self) -> list[tuple[int, int, str]]:
        """Edges whose op is not a zero op."""
        return [e for e in self.edges if e[2] not in self.zero_ops]


@runtime_checkable
class CellSpace(Protocol):
    """A space whose genotypes are cells (one for NB201; a normal and a reduction cell
    for DARTS)."""

    def edge_cells(self, arch: Architecture) -> Sequence[EdgeCell]: ...


@runtime_checkable
class LayerwiseSpace(Protocol):
    """A space whose genotypes are chains of layers (`LayerSpec`: op, filters, kernel,
    stride, activation, skip inputs), with a canonical form that drops what does not
    change the network."""

    min_layers: int
    max_layers: int
    filters: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    activations: tuple[str, ...]

    def layers(self, arch: Architecture) -> list[LayerSpec]: ...

    def canonicalize(self, arch: Architecture) -> Architecture: ...

    def from_layers(self, layers: Sequence[LayerSpec]) -> Architecture: ...

    # of every SearchSpace, named here so that code typed with this protocol may use them
    def describe(self, arch: Architecture) -> str: ...

    def build(self, arch: Architecture, task: TaskSpec) -> Any: ...


@runtime_checkable
class SupernetSpace(Protocol):
    """A space whose genotype is derived from a supernet's architecture weights: one row
    per edge, one weight per op of `supernet_ops` (in that order)."""

    supernet_ops: tuple[str, ...]

    def derive(self, weights: Sequence[Sequence[float]]) -> Architecture: ...


@runtime_checkable
class GrowableSpace(Protocol):
    """A space that says how its genotypes grow block by block (`Growth`)."""

    def growth(self) -> Growth: ...


class Growth:
    """How the genotypes of a space grow block by block.

    `blocks[k]` are the positions (in `space.decisions()` order) of the decisions that
    block k sets; before block k is added they hold `absent`. A block's assignments are
    numbered in mixed radix over its decisions' options (the last decision fastest), so
    `sizes[k]` assignments exist and code c picks one.
    """

    def __init__(
        self, space: SearchSpace, blocks: Sequence[Sequence[int]], absent: Sequence[Any]
    ) -> None:
        decisions = space.decisions()
        self.space = space
        self.names = tuple(d.name for d in decisions)
        self.options = tuple(d.options for d in decisions)
        self.blocks = tuple(tuple(int(i) for i in block) for block in blocks)
        self.absent = tuple(absent)
        if not self.blocks or any(not block for block in self.blocks):
            raise ValueError("a growth needs one or more non-empty blocks")
        self.sizes = tuple(math.prod(len(self.options[i]) for i in b) for b in self.blocks)

    @property
    def n_stages(self) -> int:
        return len(self.blocks)

    def set_block(self, values: Sequence[Any], block: int, code: int) -> tuple[Any, ...]:
        """`values` with block `block` set to its `code`-th assignment."""
        out = list(values)
        for i in reversed(self.blocks[block]):
            code, r = divmod(code, len(self.options[i]))
            out[i] = self.options[i][r]
        return tuple(out)

    def arch(self, values: Sequence[Any], n_blocks: int) -> Architecture:
        """The genotype of a cell with `n_blocks` blocks whose decisions hold `values`."""
        return Architecture(self.space.id, tuple(zip(self.names, values, strict=True)))


def default_growth(space: SearchSpace) -> Growth:
    """The growth of a space that declares none: its decisions in up to four chunks of
    consecutive decisions, each absent as its first option."""
    import numpy as np

    names = [d.name for d in space.decisions()]
    chunks = np.array_split(np.arange(len(names)), min(4, len(names)))
    return Growth(space, [c.tolist() for c in chunks], [d.options[0] for d in space.decisions()])
