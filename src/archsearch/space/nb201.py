"""The NAS-Bench-201 cell space (Dong & Yang, "NAS-Bench-201: Extending the Scope of
Reproducible Neural Architecture Search", ICLR 2020).

A cell is a DAG of 4 nodes (0 = input, 3 = output); each of the 6 edges i -> j (i < j)
carries one of 5 ops, so the space holds 5^6 = 15,625 cells. Genotype decisions are the
edges in the official order e0 = 0->1, e1 = 0->2, e2 = 1->2, e3 = 0->3, e4 = 1->3,
e5 = 2->3, named "j<-i" after the arch string, which lists each node's inputs:

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, Decision
from archsearch.space.base import SPACES, SearchSpace
from archsearch.space.capabilities import EdgeCell, Growth

if TYPE_CHECKING:  # pragma: no cover
    pass

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from, to), official order
N_ARCHS = len(OPS) ** len(EDGES)
_OP_CODE = {op: i for i, op in enumerate(OPS)}
_EDGE_NAMES = tuple(f"{j}<-{i}" for i, j in EDGES)
_NODE_RE = re.compile(r"^([a-z0-9_]+)~(\d+)$")


@cache
def _official_order() -> tuple[tuple[str, ...], dict[str, int]]:
    """The op-code strings ("421211", codes as in `OPS`) in official index order."""
    text = resources.files("archsearch.space").joinpath("data/nb201_index.txt").read_text()
    codes = tuple(text.split())
    if len(codes) != N_ARCHS:
        raise RuntimeError("archsearch package data nb201_index.txt is damaged")
    return codes, {c: i for i, c in enumerate(codes)}


@SPACES.register("nb201")
class NB201Space(SearchSpace):
    """NAS-Bench-201: 6 edges x 5 ops; official arch strings and indices."""

    network = "archsearch.nn.nb201:build"

    name = "nb201"
    version = 1
    _DECISIONS = tuple(Decision(name, OPS) for name in _EDGE_NAMES)

    def __init__(self, channels: int = 16, cells_per_stage: int = 5) -> None:
        """`channels` (C) and `cells_per_stage` (N) shape only the built network; the
        genotypes are the same. The benchmark's tables were trained with C=16, N=5."""
        if int(channels) < 1 or int(cells_per_stage) < 1:
            raise ConfigError(
                f"nb201: channels and cells_per_stage must be >= 1, "
                f"got {channels} and {cells_per_stage}"
            )
        self.channels = int(channels)
        self.cells_per_stage = int(cells_per_stage)

    def decisions(self) -> Sequence[Decision]:
        return self._DECISIONS

    def sample(self, rng: np.random.Generator) -> Architecture:
        # One vectorised draw instead of one per decision: this is the hot path of
        # table-speed benchmarks.
        codes = rng.integers(0, len(OPS), size=len(EDGES))
        return Architecture(self.id, tuple(zip(_EDGE_NAMES, [OPS[c] for c in codes], strict=True)))

    def edge_cells(self, arch: Architecture) -> tuple[EdgeCell]:
        """The cell as a DAG: nodes 0 (input) to 3 (output), an op on each edge."""
        return (
            EdgeCell(
                4, tuple((i, j, op) for (i, j), op in zip(EDGES, arch.values, strict=True)), OPS
            ),
        )

    #: the ops of a supernet's mixed op on each edge (`derive`'s columns)
    supernet_ops = OPS

    def derive(self, weights: Sequence[Sequence[float]]) -> Architecture:
        """DARTS's rule (Liu et al., ICLR 2019, section 2.4) on the NB201 cell: on each
        edge the op of largest weight, `none` never kept (a zero edge is a legal NB201 op,
        but the rule ranks the non-zero ops)."""
        if len(weights) != len(EDGES) or any(len(row) != len(OPS) for row in weights):
            raise GenotypeError(f"{self.id}: derive needs {len(EDGES)} x {len(OPS)} weights")
        kept = [max(range(1, len(OPS)), key=lambda k: (row[k], -k)) for row in weights]
        return self.make([OPS[k] for k in kept])

    def growth(self) -> Growth:
        """PNAS's growth (see `archsearch.strategies.progressive`): the output node from
        the start (block 1: edge 0->3), then node 1 with its edges, then node 2; edges
        not yet added are `none`."""
        # decisions are the edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
        return Growth(self, [(3,), (0, 4), (1, 2, 5)], ["none"] * len(EDGES))

    # --- official encodings -------------------------------------------------------------
    def to_arch_str(self, arch: Architecture) -> str:
        ops = arch.values
        groups = [
            [f"{ops[k]}~{i}" for k, (i, j) in enumerate(EDGES) if j == node] for node in (1, 2, 3)
        ]
        return "+".join("|" + "|".join(g) + "|" for g in groups)

    def from_arch_str(self, text: str) -> Architecture:
        text = text.strip()
        groups = text.split("+")
        if len(groups) != 3:
            raise GenotypeError(
                f"nb201 arch string {text!r}: expected 3 node groups separated by '+', "
                f"got {len(groups)}"
            )
        ops: dict[tuple[int, int], str] = {}
        for node, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise GenotypeError(
                    f"nb201 arch string: node {node} group {group!r} must be |op~i|...|"
                )
            entries = group[1:-1].split("|")
            if len(entries) != node:
                raise GenotypeError(
                    f"nb201 arch string: node {node} needs {node} inputs, "
                    f"got {len(entries)} in {group!r}"
                )
            for entry in entries:
                m = _NODE_RE.match(entry)
                if not m:
                    raise GenotypeError(
                        f"nb201 arch string: cannot read edge {entry!r} (want op~i)"
                    )
                op, src = m.group(1), int(m.group(2))
                if op not in _OP_CODE:
                    raise GenotypeError(
                        f"nb201 arch string: unknown op {op!r}; ops are {list(OPS)}"
                    )
                if src >= node or (src, node) in ops:
                    raise GenotypeError(
                        f"nb201 arch string: node {node} cannot take input ~{src} in {group!r}"
                    )
                ops[(src, node)] = op
        return Architecture(self.id, tuple(zip(_EDGE_NAMES, [ops[e] for e in EDGES], strict=True)))

    def op_codes(self, arch: Architecture) -> str:
        """The 6-character op-code string, e.g. "421211" (codes index `OPS`)."""
        return "".join(str(_OP_CODE[op]) for op in arch.values)

    def index(self, arch: Architecture) -> int:
        """The official NB201 / NATS-Bench tss index, 0..15624."""
        try:
            return _official_order()[1][self.op_codes(arch)]
        except KeyError:
            self.validate(arch)
            raise

    def from_index(self, index: int) -> Architecture:
        if not 0 <= index < N_ARCHS:
            raise GenotypeError(f"nb201 index {index} out of range 0..{N_ARCHS - 1}")
        codes = _official_order()[0][index]
        return Architecture(
            self.id, tuple(zip(_EDGE_NAMES, [OPS[int(c)] for c in codes], strict=True))
        )

    def parse(self, text: str) -> Architecture:
        """An arch string, an official index, or a JSON genotype."""
        text = text.strip()
        if text.isdigit():
            return self.from_index(int(text))
        if text.startswith("|"):
            return self.from_arch_str(text)
        return super().parse(text)

    def describe(self, arch: Architecture) -> str:
        return self.to_arch_str(arch)

    # --- isomorphism ----------------------------------------------------------------------
    def canonical(self, arch: Architecture) -> Any:
        """A string equal for cells that compute the same function up to isomorphism.

        Each node is written as the sorted sum of its incoming terms, a term being the op
        applied to the source node's expression; `skip_connect` splices the source's terms
        into the sum, so permuted intermediate nodes and re-associated sums coincide.
        `none`, and any op applied to a zero, is a zero, and zeros vanish from sums
        (x + 0 = x). This finds 4,930 classes among the 15,625 cells; the NB201 authors
        published 6,466 with a coarser string rule that keeps x + 0 apart from x
        (`benchmarks/nb201_isomorphism.py` measures both).
        """
        terms: dict[int, tuple[str, ...]] = {0: ("x",)}
        ops = arch.values
        for node in (1, 2, 3):
            node_terms: list[str] = []
            for k, (i, j) in enumerate(EDGES):
                if j != node or ops[k] == "none" or not terms[i]:
                    continue
                source = terms[i]
                if ops[k] == "skip_connect":
                    node_terms.extend(source)
                else:
                    node_terms.append(f"{ops[k]}({'+'.join(source)})")
            terms[node] = tuple(sorted(node_terms))
        return "+".join(terms[3]) or "zero"
