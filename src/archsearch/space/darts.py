"""The DARTS / NASNet cell space: Zoph, Vasudevan, Shlens and Le, "Learning Transferable
Architectures for Scalable Image Recognition", CVPR 2018 (NASNet); Liu, Simonyan and Yang,
"DARTS: Differentiable Architecture Search", ICLR 2019.

Two cells are searched, a normal cell and a reduction cell. A cell has two inputs, the
outputs of the two previous cells (states 0 and 1), and 4 intermediate nodes (states
2..5); node s adds two ops, each applied to one earlier state (0..s-1). The cell's output
is the concatenation of the 4 intermediate nodes (as DARTS; NASNet concatenates only the
unused ones). The network stacks cells, reduction cells at 1/3 and 2/3 of the depth.

Genotype decisions, in this fixed order: normal cell then reduction cell; per node
(state 2, 3, 4, 5): input 1, op 1, input 2, op 2. Each node's input options are the
states before it, so every combination of values is a valid genotype. As in NASNet (step
2: "select a second hidden state from the same options"), both inputs of a node may be
the same state; DARTS' derived genotypes always happen to use two different ones.

Genotypes also read and write the DARTS code's text form, e.g.
`Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], ...)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, Decision
from archsearch.space.base import SPACES, GenotypeTextSpace
from archsearch.space.capabilities import Growth

if TYPE_CHECKING:  # pragma: no cover
    pass

#: the DARTS primitives without "none" (the discrete genotype never keeps a zero edge)
DARTS_OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELLS = ("normal", "reduce")
N_NODES = 4  # intermediate nodes per cell: states 2..5
_STATES = tuple(range(2, 2 + N_NODES))
_PAIR_RE = re.compile(r"\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*,\s*(\d+)\s*\)")

#: a cell as DARTS writes it: (op, input state) pairs, two per node, node by node
CellGenotype = tuple[tuple[str, int], ...]


def _decision_names(cell: str, state: int) -> tuple[str, str, str, str]:
    prefix = f"{cell}.node{state}"
    return (f"{prefix}.in1", f"{prefix}.op1", f"{prefix}.in2", f"{prefix}.op2")


def _decisions() -> tuple[Decision, ...]:
    out: list[Decision] = []
    for cell in CELLS:
        for state in _STATES:
            in1, op1, in2, op2 = _decision_names(cell, state)
            inputs = tuple(range(state))
            out += [
                Decision(in1, inputs),
                Decision(op1, DARTS_OPS),
                Decision(in2, inputs),
                Decision(op2, DARTS_OPS),
            ]
    return tuple(out)


@SPACES.register("darts")
class DartsSpace(GenotypeTextSpace):
    """Normal and reduction cells of 4 nodes x 2 (input, op) pairs over 7 ops.

    Build options (they shape the network, not the genotype): `channels` (the first
    cells' C; DARTS: 16 in search, 36 for the final CIFAR-10 network), `cells` (DARTS: 8
    in search, 20 final), `stem_multiplier` (the stem has 3C channels in DARTS) and
    `drop_path_prob`, the final probability of ScheduledDropPath (DARTS: 0.2 on CIFAR-10).
    The defaults are the small search-time network, practical to train on a CPU.
    """

    network = "archsearch.nn.darts:build"

    name = "darts"
    version = 1
    _DECISIONS = _decisions()

    def __init__(
        self,
        channels: int = 16,
        cells: int = 8,
        stem_multiplier: int = 3,
        drop_path_prob: float = 0.2,
    ) -> None:
        if int(channels) < 1 or int(cells) < 1 or int(stem_multiplier) < 1:
            raise ConfigError(
                f"darts: channels, cells and stem_multiplier must be >= 1, "
                f"got {channels}, {cells}, {stem_multiplier}"
            )
        if not 0.0 <= float(drop_path_prob) < 1.0:
            raise ConfigError(f"darts: drop_path_prob must be in [0, 1), got {drop_path_prob}")
        self.channels = int(channels)
        self.cells = int(cells)
        self.stem_multiplier = int(stem_multiplier)
        self.drop_path_prob = float(drop_path_prob)

    def decisions(self) -> Sequence[Decision]:
        return self._DECISIONS

    def validate(self, arch: Architecture) -> None:
        if isinstance(arch, Architecture) and arch.space == self.id:
            # Name a bad input index in the cell's own terms before the generic check.
            for name, value in arch.choices:
                parts = name.split(".")
                if len(parts) == 3 and parts[2] in ("in1", "in2") and parts[1].startswith("node"):
                    state = int(parts[1][4:]) if parts[1][4:].isdigit() else -1
                    if state in _STATES and (type(value) is not int or not 0 <= value < state):
                        raise GenotypeError(
                            f"{self.id}: {parts[0]} cell node {state} {parts[2]} is {value!r}; "
                            f"node {state} may take states 0..{state - 1} (0, 1: the two "
                            f"previous cells; 2..: earlier nodes)"
                        )
        super().validate(arch)

    # --- the DARTS form ---------------------------------------------------------------------
    def cell(self, arch: Architecture, cell: str) -> CellGenotype:
        """One cell as DARTS writes it: ((op, input), ...) two pairs per node."""
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, not {cell!r}")
        pairs: list[tuple[str, int]] = []
        for state in _STATES:
            in1, op1, in2, op2 = _decision_names(cell, state)
            pairs += [(arch[op1], arch[in1]), (arch[op2], arch[in2])]
        return tuple(pairs)

    def from_cells(
        self, normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]
    ) -> Architecture:
        """The genotype of two cells in DARTS form (8 (op, input) pairs each), validated."""
        values: list[Any] = []
        for cell, pairs in (("normal", normal), ("reduce", reduce)):
            if len(pairs) != 2 * N_NODES:
                raise GenotypeError(
                    f"{self.id}: the {cell} cell needs {2 * N_NODES} (op, input) pairs, "
                    f"got {len(pairs)}"
                )
            for k in range(N_NODES):
                (op1, in1), (op2, in2) = pairs[2 * k], pairs[2 * k + 1]
                values += [int(in1), op1, int(in2), op2]
        return self.make(values)

    def to_genotype_str(self, arch: Architecture) -> str:
        """The DARTS code's `Genotype(...)` text of this architecture."""
        concat = list(_STATES)
        return (
            f"Genotype(normal={list(self.cell(arch, 'normal'))}, normal_concat={concat}, "
            f"reduce={list(self.cell(arch, 'reduce'))}, reduce_concat={concat})"
        )

    def from_genotype_str(self, text: str) -> Architecture:
        """Read DARTS' `Genotype(normal=[(op, i), ...], ..., reduce=[...], ...)` text."""
        cells: dict[str, list[tuple[str, int]]] = {}
        for cell in CELLS:
            m = re.search(rf"\b{cell}\s*=\s*\[(.*?)\]\s*,", text + ",", re.S)
            if m is None:
                raise GenotypeError(f"{self.id}: genotype text has no '{cell}=[...]' list")
            cells[cell] = [(op, int(i)) for op, i in _PAIR_RE.findall(m.group(1))]
            concat = re.search(
                rf"\b{cell}_concat\s*=\s*(\[[^\]]*\]|range\(\s*2\s*,\s*6\s*\))", text
            )
            if concat is not None and concat.group(1).startswith("["):
                states = [int(s) for s in re.findall(r"\d+", concat.group(1))]
                if states != list(_STATES):
                    raise GenotypeError(
                        f"{self.id}: {cell}_concat must be {list(_STATES)} (all intermediate "
                        f"nodes), got {states}"
                    )
        return self.from_cells(cells["normal"], cells["reduce"])

    def canonical(self, arch: Architecture) -> Any:
        """The genotype with each node's two (input, op) pairs in sorted order: a node's
        sum does not depend on the order of its terms."""
        values = list(arch.values)
        for k in range(0, len(values), 4):
            first, second = (values[k], values[k + 1]), (values[k + 2], values[k + 3])
            if second < first:
                values[k : k + 4] = [*second, *first]
        return Architecture(
            arch.space, tuple(zip((n for n, _ in arch.choices), values, strict=True))
        )

    #: the ops of a supernet's mixed op on each edge (`derive`'s columns): `none` first
    supernet_ops = ("none", *DARTS_OPS)

    def derive(self, weights: Sequence[Sequence[float]]) -> Architecture:
        """DARTS's rule (Liu et al., ICLR 2019, section 2.4): per cell (normal, then
        reduction; 14 edges each, node by node, inputs in order) every intermediate node
        keeps its two incoming edges of strongest non-`none` op weight (ties: the earlier
        input), with that op. Weights are compared across edges, so give them normalised
        per edge (a softmax)."""
        per_cell = sum(range(2, 2 + N_NODES))
        if len(weights) != 2 * per_cell:
            raise GenotypeError(f"{self.id}: derive needs {2 * per_cell} rows of weights")
        cells = []
        for part in (weights[:per_cell], weights[per_cell:]):
            pairs: list[tuple[str, int]] = []
            e = 0
            for j in range(2, 2 + N_NODES):
                scored = []
                for i in range(j):
                    k = _strongest(part[e])
                    scored.append((float(part[e][k]), -i, self.supernet_ops[k], i))
                    e += 1
                pairs += [(op, i) for _, _, op, i in sorted(scored, reverse=True)[:2]]
            cells.append(pairs)
        return self.from_cells(cells[0], cells[1])

    def growth(self) -> Growth:
        """PNAS's growth: one intermediate node (of both cells) per block; a node not yet
        added is a copy of the node before it (a parameter-free identity, twice)."""
        names = [d.name for d in self.decisions()]
        index = {name: k for k, name in enumerate(names)}
        blocks: list[list[int]] = []
        absent: list[Any] = [None] * len(names)
        for state in range(2, 2 + N_NODES):
            block = []
            for cell in CELLS:
                fields = [f"{cell}.node{state}.{f}" for f in ("in1", "op1", "in2", "op2")]
                block += [index[f] for f in fields]
                # absent: a copy of the node before (parameter-free identity, twice)
                for f, value in zip(fields, (state - 1, "skip_connect") * 2, strict=True):
                    absent[index[f]] = value
            blocks.append(block)
        return Growth(self, blocks, absent)

    # --- the network --------------------------------------------------------------------------


def _strongest(row: Sequence[float]) -> int:
    """The column of the largest weight but the first (`none`); ties: the first."""
    return max(range(1, len(row)), key=lambda c: (row[c], -c))
