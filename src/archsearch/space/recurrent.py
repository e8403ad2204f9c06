"""The recurrent cell space of ENAS and DARTS, for language modelling.

Pham et al., "Efficient Neural Architecture Search via Parameter Sharing", ICML 2018
(Sec. 2.1, the recurrent cell); Liu, Simonyan and Yang, "DARTS: Differentiable
Architecture Search", ICLR 2019 (Sec. 3.1.2 and Appendix A.1.2).

A cell has a first state s_0, computed from the input x_t and the previous hidden state
h_{t-1} by a highway layer with a tanh, and N intermediate nodes (N = 8 in DARTS; option
`nodes`). Node i (1..N) is fed by one earlier node (0..i-1) through an activation (tanh,
relu, sigmoid or identity) inside a highway connection; the cell's output h_t is the
mean of the N intermediate nodes, as in DARTS (`concat = range(1, 9)`). Every combination
is a valid cell: 4^N * N! genotypes (about 2.6e9 for N = 8). The equations and the
network are in `archsearch.nn.recurrent`.

Genotype decisions, in this order: `n1.act`, then per node i = 2..N `n{i}.act` and
`n{i}.input` (node 1 can only read node 0, so it has no input decision).
Genotypes also read and write DARTS' text form,
`Genotype(recurrent=[('sigmoid', 0), ('relu', 1), ...], concat=range(1, 9))`.

`build(arch, task)` returns a word-level language model: an embedding of
`task.num_classes` words (the vocabulary size), the cell unrolled over time, locked
dropouts, and a decoder tied to the embedding. `task.input_shape` is `(seq_len,)`, the
truncated-BPTT window the model is trained on; the model itself takes any length.
`archsearch.nn.recurrent.build_baseline(space, task)` is the hand-designed reference at the
same size: a two-layer LSTM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.space.base import SPACES, GenotypeTextSpace

if TYPE_CHECKING:  # pragma: no cover
    pass

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
_PAIR_RE = re.compile(r"\(\s*['\"]([A-Za-z_]+)['\"]\s*,\s*(\d+)\s*\)")

#: DARTS' published recurrent cells (first and second order), from its `genotypes.py`
DARTS_V1 = (
    "Genotype(recurrent=[('relu', 0), ('relu', 1), ('tanh', 2), ('relu', 3), ('relu', 4), "
    "('identity', 1), ('relu', 5), ('relu', 1)], concat=range(1, 9))"
)
DARTS_V2 = (
    "Genotype(recurrent=[('sigmoid', 0), ('relu', 1), ('relu', 1), ('identity', 1), "
    "('tanh', 2), ('sigmoid', 5), ('tanh', 3), ('relu', 5)], concat=range(1, 9))"
)

#: a cell as DARTS writes it: (activation, input node) per intermediate node
CellGenotype = tuple[tuple[str, int], ...]


def _dropout(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"rnn_cell: {name} must be in [0, 1), got {value}")
    return float(value)


@SPACES.register("rnn_cell")
class RecurrentSpace(GenotypeTextSpace):
    """ENAS / DARTS recurrent cells: N nodes, each an (activation, input) pair.

    Build options (they shape the network, not the genotype): `hidden_size` (the
    embedding and the hidden state share it, so the decoder can be tied; DARTS: 300 in
    search, 850 final) and the dropouts `dropout` (cell outputs), `dropouth` (states
    entering a matrix product), `dropoutx` (cell inputs) and `dropouti` (embeddings).
    DARTS used 0.75 / 0.25 / 0.75 / 0.2 for hundreds of epochs; the defaults here are a
    small CPU-sized model (128 units) and light dropout, suited to a few epochs.
    """

    network = "archsearch.nn.recurrent:build"

    name = "rnn_cell"
    version = 1
    modality = "language"

    def __init__(
        self,
        nodes: int = 8,
        hidden_size: int = 128,
        dropout: float = 0.25,
        dropouth: float = 0.1,
        dropoutx: float = 0.1,
        dropouti: float = 0.1,
    ) -> None:
        if int(nodes) != nodes or nodes < 1:
            raise ConfigError(f"rnn_cell: nodes must be a whole number >= 1, got {nodes!r}")
        if int(hidden_size) != hidden_size or hidden_size < 1:
            raise ConfigError(
                f"rnn_cell: hidden_size must be a whole number >= 1, got {hidden_size!r}"
            )
        self.nodes = int(nodes)
        self.hidden_size = int(hidden_size)
        self.dropout = _dropout("dropout", dropout)
        self.dropouth = _dropout("dropouth", dropouth)
        self.dropoutx = _dropout("dropoutx", dropoutx)
        self.dropouti = _dropout("dropouti", dropouti)
        # Node 1 can only read node 0: a choice of one option is no decision (and a
        # mutation could not change it), so node 1 has an activation only.
        self._decisions = (
            Decision("n1.act", ACTIVATIONS),
            *(
                d
                for i in range(2, self.nodes + 1)
                for d in (
                    Decision(f"n{i}.act", ACTIVATIONS),
                    Decision(f"n{i}.input", tuple(range(i))),
                )
            ),
        )

    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def validate(self, arch: Architecture) -> None:
        if isinstance(arch, Architecture) and arch.space == self.id:
            # Name a bad input in the cell's own terms before the generic check.
            for name, value in arch.choices:
                m = re.fullmatch(r"n(\d+)\.input", name)
                if m is None:
                    continue
                node = int(m.group(1))
                if 1 <= node <= self.nodes and (type(value) is not int or not 0 <= value < node):
                    raise GenotypeError(
                        f"{self.id}: {name} is {value!r}; node {node} may be fed by nodes "
                        f"0..{node - 1} (0: the cell's first state from x_t and h_t-1)"
                    )
        super().validate(arch)

    # --- the DARTS form ---------------------------------------------------------------------
    def cell(self, arch: Architecture) -> CellGenotype:
        """The cell as DARTS writes it: ((activation, input), ...) node by node."""
        return tuple(
            (arch[f"n{i}.act"], arch[f"n{i}.input"] if i > 1 else 0)
            for i in range(1, self.nodes + 1)
        )

    def from_cell(self, pairs: Sequence[tuple[str, int]]) -> Architecture:
        """The genotype of a cell in DARTS form (N (activation, input) pairs), validated."""
        if len(pairs) != self.nodes:
            raise GenotypeError(
                f"{self.id}: the cell needs {self.nodes} (activation, input) pairs, "
                f"got {len(pairs)}"
            )
        if int(pairs[0][1]) != 0:
            raise GenotypeError(f"{self.id}: node 1 can only be fed by node 0, got {pairs[0][1]}")
        values: list[object] = [pairs[0][0]]
        for act, j in pairs[1:]:
            values += [act, int(j)]
        return self.make(values)

    def to_genotype_str(self, arch: Architecture) -> str:
        return f"Genotype(recurrent={list(self.cell(arch))}, concat=range(1, {self.nodes + 1}))"

    def from_genotype_str(self, text: str) -> Architecture:
        """Read DARTS' `Genotype(recurrent=[(act, j), ...], concat=range(1, N+1))`."""
        m = re.search(r"\brecurrent\s*=\s*\[(.*?)\]", text, re.S)
        if m is None:
            raise GenotypeError(f"{self.id}: genotype text has no 'recurrent=[...]' list")
        concat = re.search(r"\bconcat\s*=\s*(range\(\s*(\d+)\s*,\s*(\d+)\s*\)|\[[^\]]*\])", text)
        if concat is not None:
            if concat.group(2) is not None:
                states = list(range(int(concat.group(2)), int(concat.group(3))))
            else:
                states = [int(s) for s in re.findall(r"\d+", concat.group(1))]
            if states != list(range(1, self.nodes + 1)):
                raise GenotypeError(
                    f"{self.id}: concat must be all intermediate nodes 1..{self.nodes} (the "
                    f"cell outputs their mean), got {states}"
                )
        return self.from_cell([(act, int(j)) for act, j in _PAIR_RE.findall(m.group(1))])

    # --- the network --------------------------------------------------------------------------
    def _check_task(self, task: TaskSpec) -> None:
        if len(task.input_shape) != 1 or task.num_classes < 2:
            raise ConfigError(
                f"{self.id} builds language models: the task's input_shape must be "
                f"(seq_len,) and num_classes the vocabulary size, got {task.input_shape} "
                f"and {task.num_classes}"
            )
