"""A weight-sharing supernet built from the NAS-Bench-201 cell space.

Every edge of the cell holds a `MixedOp`: one instance of each candidate op, built by
the space's own op factory (`archsearch.nn.ops.make_op`), so the supernet's
candidates are exactly the modules a derived network is built from. All cells of the
network share one set of architecture parameters (NB201 searches a single cell), while
each cell has its own op weights, as in the NB201 search code (Dong & Yang, ICLR 2020).

An edge is told how to run by a `PathSpec`:

* weighted sum (DARTS, Liu et al. ICLR 2019; SNAS, Xie et al. ICLR 2019): every op runs
  and the outputs are summed with per-edge weights;
* single path (ENAS, Pham et al. ICML 2018; RSPS, Li & Talwalkar UAI 2019; SPOS, Guo et
  al. ECCV 2020; GDAS, Dong & Yang CVPR 2019): ONLY the chosen op runs. With weights
  as well (GDAS) the chosen op's output is scaled by its weight, and the other weights
  are added as zero-valued terms, so gradients reach every architecture parameter while
  the forward pass costs one op per edge.

Partial channels (PC-DARTS, Xu et al., ICLR 2020): with `partial_channels=K` only 1/K
of an edge's channels go through the mixed op (its ops are built for C/K channels); the
rest bypass it, and a channel shuffle with K groups mixes the two parts for the next
edge.

Batch norm in the supernet has no affine parameters and keeps no running statistics
(it always normalises with the batch's own statistics), as in the NB201 and DARTS search
code: the statistics of a mixture, or of whichever path was sampled last, would be
wrong for any one architecture scored later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn

from archsearch.core.errors import ConfigError
from archsearch.nn.nb201 import ResNetBasicBlock
from archsearch.nn.ops import make_op
from archsearch.space.nb201 import EDGES, OPS


@dataclass(frozen=True)
class PathSpec:
    """How every edge runs in one forward pass.

    `weights` [E, K]: per-edge op weights (a weighted sum when `index` is None).
    `index` [E]: the op chosen on each edge (single path); with `weights` too, the chosen
    op's output is scaled by its weight (GDAS's straight-through one-hot).
    """

    weights: torch.Tensor | None = None
    index: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if self.weights is None and self.index is None:
            raise ValueError("PathSpec needs weights, an index, or both")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al., CVPR 2018), used by PC-DARTS to mix
    the part of the channels that went through the mixed op with the bypassed part."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class MixedOp(nn.Module):
    """All candidate ops of one edge, sharing its input."""

    def __init__(
        self, C: int, ops: Sequence[str] = OPS, partial_channels: int = 1, stride: int = 1
    ) -> None:
        super().__init__()
        if partial_channels > 1 and stride != 1:
            raise ConfigError("partial channels are implemented for stride-1 edges only")
        if partial_channels < 1 or C % partial_channels:
            raise ConfigError(
                f"partial_channels must be >= 1 and divide the channels ({C}), "
                f"got {partial_channels}"
            )
        self.k = int(partial_channels)
        self.op_names = tuple(ops)
        width = C // self.k
        self.ops = nn.ModuleList(make_op(name, width, width, stride, affine=False) for name in ops)

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor | None, index: int | None
    ) -> torch.Tensor:
        if self.k == 1:
            return self._mix(x, weights, index)
        # PC-DARTS: the first C/K channels through the mixed op, the rest bypass it.
        width = x.shape[1] // self.k
        mixed = self._mix(x[:, :width], weights, index)
        return channel_shuffle(torch.cat([mixed, x[:, width:]], dim=1), self.k)

    def _mix(
        self, x: torch.Tensor, weights: torch.Tensor | None, index: int | None
    ) -> torch.Tensor:
        if index is None:
            assert weights is not None
            out = weights[0] * self.ops[0](x)
            for w, op in zip(weights[1:], self.ops[1:], strict=True):
                out = out + w * op(x)
            return out
        out = self.ops[index](x)
        if weights is None:
            return out
        # GDAS: w[index] is 1 in value; the others are 0 in value but carry gradients.
        return out * weights[index] + (weights.sum() - weights[index])


class SuperCell(nn.Module):
    """The NB201 cell with a `MixedOp` on each of its 6 edges."""

    def __init__(self, C: int, ops: Sequence[str] = OPS, partial_channels: int = 1) -> None:
        super().__init__()
        self.edges = EDGES
        self.mixed = nn.ModuleList(MixedOp(C, ops, partial_channels) for _ in EDGES)

    def forward(self, x: torch.Tensor, spec: PathSpec, aux_skip: float = 0.0) -> torch.Tensor:
        nodes = [x]
        for j in range(1, 4):
            total: torch.Tensor | None = None
            for e, (i, t) in enumerate(self.edges):
                if t != j:
                    continue
                w = None if spec.weights is None else spec.weights[e]
                k = None if spec.index is None else int(spec.index[e])
                term = self.mixed[e](nodes[i], w, k)
                if aux_skip:
                    # DARTS- (Chu et al., ICLR 2021): an auxiliary skip outside the
                    # mixed op takes over the residual role skip_connect would play.
                    term = term + aux_skip * nodes[i]
                total = term if total is None else total + term
            assert total is not None
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The NB201 macro skeleton (stem, 3 stages of `cells_per_stage` cells at C, 2C, 4C,
    residual reductions, BN-ReLU, pooling, linear) with `SuperCell`s."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        channels: int = 16,
        cells_per_stage: int = 5,
        partial_channels: int = 1,
        ops: Sequence[str] = OPS,
    ) -> None:
        super().__init__()
        self.op_names = tuple(ops)
        self.n_edges = len(EDGES)
        C = int(channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        layers: list[nn.Module] = []
        C_prev = C
        for stage in range(3):
            C_stage = C * 2**stage
            if stage > 0:
                layers.append(ResNetBasicBlock(C_prev, C_stage, 2))
            layers.extend(SuperCell(C_stage, ops, partial_channels) for _ in range(cells_per_stage))
            C_prev = C_stage
        self.layers = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(C_prev, num_classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                # Batch statistics always (see the module docstring).
                m.track_running_stats = False
                m.running_mean = None
                m.running_var = None

    def forward(self, x: torch.Tensor, spec: PathSpec, aux_skip: float = 0.0) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x, spec, aux_skip) if isinstance(layer, SuperCell) else layer(x)
        x = self.lastact(x).mean(dim=(2, 3))
        return self.classifier(x)
