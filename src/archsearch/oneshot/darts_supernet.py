"""A weight-sharing supernet of the DARTS cell space (Liu, Simonyan and Yang, "DARTS:
Differentiable Architecture Search", ICLR 2019, section 2.1 and the search network of
section 3.1).

A normal and a reduction cell, each a DAG of 2 input states and 4 nodes; node j sums a
`MixedOp` over every earlier state (2 + 3 + 4 + 5 = 14 edges per cell) over the 8 DARTS
candidates (`none` and the 7 ops of `archsearch.space.darts.DARTS_OPS`). The cells are
stacked as in `archsearch.nn.darts` (reductions at 1/3 and 2/3 of the depth).
One `PathSpec` covers both cells: edges 0-13 are the normal cell's, 14-27 the reduction
cell's, so the one-shot methods treat the two like one cell of 28 edges.

Derivation (section 2.4): every node keeps its 2 strongest incoming edges, an edge's
strength being its best non-`none` op weight, and on each kept edge that op.
Only the gradient methods (DARTS, SNAS, GDAS) search this space here: a DARTS genotype
may feed both of a node's ops from one state, which a one-op-per-edge path cannot hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from archsearch.core.genotype import Architecture
from archsearch.nn.ops import FactorizedReduce, ReLUConvBN
from archsearch.oneshot.supernet import MixedOp, PathSpec
from archsearch.space.darts import DARTS_OPS, N_NODES, DartsSpace

#: the candidates of every edge: DARTS's 8 primitives, `none` first
SEARCH_OPS = ("none", *DARTS_OPS)
#: (from state, to node) of one cell's edges, node by node
CELL_EDGES = tuple((i, j) for j in range(2, 2 + N_NODES) for i in range(j))


class DartsSuperCell(nn.Module):
    """Preprocess the two inputs to C channels; node j sums a mixed op over every earlier
    state; the output concatenates the 4 nodes (4C channels)."""

    def __init__(
        self, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0: nn.Module = (
            FactorizedReduce(C_prev_prev, C, affine=False)
            if reduction_prev
            else ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self.mixed = nn.ModuleList(
            MixedOp(C, SEARCH_OPS, stride=2 if reduction and i < 2 else 1) for i, _ in CELL_EDGES
        )

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        weights: torch.Tensor | None,
        index: Sequence[int] | None,
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        e = 0
        for j in range(2, 2 + N_NODES):
            total: torch.Tensor | None = None
            for i in range(j):
                w = None if weights is None else weights[e]
                k = None if index is None else int(index[e])
                term = self.mixed[e](states[i], w, k)
                total = term if total is None else total + term
                e += 1
            assert total is not None
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """The DARTS search network: stem (3C), `cells` super-cells, pooling, linear."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        channels: int = 16,
        cells: int = 8,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        self.op_names = SEARCH_OPS
        self.n_edges = 2 * len(CELL_EDGES)
        C_stem = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem)
        )
        reductions = {cells // 3, 2 * cells // 3}
        C_prev_prev, C_prev, C = C_stem, C_stem, channels
        reduction_prev = False
        self.cells = nn.ModuleList()
        for i in range(cells):
            reduction = i in reductions
            if reduction:
                C *= 2
            self.cells.append(DartsSuperCell(C_prev_prev, C_prev, C, reduction, reduction_prev))
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, N_NODES * C
        self.classifier = nn.Linear(C_prev, num_classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):  # batch statistics always, as NB201Supernet
                m.track_running_stats = False
                m.running_mean = None
                m.running_var = None

    def forward(self, x: torch.Tensor, spec: PathSpec, aux_skip: float = 0.0) -> torch.Tensor:
        if aux_skip:
            raise NotImplementedError("the auxiliary skip (DARTS-) is for the NB201 supernet")
        n = len(CELL_EDGES)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            part = slice(n, 2 * n) if cell.reduction else slice(0, n)
            w = None if spec.weights is None else spec.weights[part]
            k = None if spec.index is None else list(spec.index)[part]
            s0, s1 = s1, cell(s0, s1, w, k)
        return self.classifier(s1.mean(dim=(2, 3)))


def derive_darts(alpha: torch.Tensor, space: DartsSpace | None = None) -> Architecture:
    """The DARTS genotype of alpha [28, 8] (`DartsSpace.derive`: top-2 incoming edges per
    node by their strongest non-`none` op, softmax-normalised per edge, and that op)."""
    space = space or DartsSpace()
    return space.derive(torch.softmax(alpha.detach(), dim=-1).tolist())
