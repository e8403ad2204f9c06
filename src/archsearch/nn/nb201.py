"""The NAS-Bench-201 network (Dong & Yang, "NAS-Bench-201: Extending the Scope of
Reproducible Neural Architecture Search", ICLR 2020, Section 2.1 and Figure 1).

Macro skeleton: a 3x3 conv + BN stem; three stages of N cells with C, 2C and 4C channels;
a residual reduction block (the ResNet basic block with stride 2) between stages; then
BN-ReLU, global average pooling and a linear classifier. With C = 16 and N = 5 this is
the network whose parameter counts the benchmark tables report.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.nn.ops import ReLUConvBN, make_op
from archsearch.space.nb201 import EDGES, NB201Space

#: the cell's edges (from, to) in the official order, as in `archsearch.space.nb201`
Edges = Sequence[tuple[int, int]]


class NB201Cell(nn.Module):
    """A 4-node DAG; node j is the sum of op(node i) over its incoming edges i -> j."""

    def __init__(self, edges: Edges, ops: Sequence[str], C: int) -> None:
        super().__init__()
        self.edges = tuple(edges)
        self.n_nodes = 1 + max(j for _, j in self.edges)
        self.ops = nn.ModuleList(make_op(op, C, C, 1) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.n_nodes):
            terms = [
                op(nodes[i]) for op, (i, t) in zip(self.ops, self.edges, strict=True) if t == j
            ]
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            nodes.append(total)
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    """The ResNet basic block (He et al. 2016) used by NB201 to reduce between stages:
    two ReLU-Conv-BN 3x3 (the first strides) plus a shortcut.

    The stride-2 shortcut is a 2x2 average pool and a 1x1 conv, as in NB201. The pool
    uses `ceil_mode` so that odd sizes give ceil(H / 2) rows, matching the strided conv
    (for the even sizes NB201 was trained on it is the same pool).
    """

    def __init__(self, C_in: int, C_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.downsample: nn.Module
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2, stride=2, ceil_mode=True),
                nn.Conv2d(C_in, C_out, 1, bias=False),
            )
        elif C_in != C_out:
            self.downsample = ReLUConvBN(C_in, C_out, 1, 1, 0)
        else:
            self.downsample = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, 3 stages of `cells_per_stage` cells (C, 2C, 4C) with residual reductions
    between them, BN-ReLU, global average pooling and a linear classifier."""

    def __init__(
        self,
        edges: Edges,
        ops: Sequence[str],
        in_channels: int,
        num_classes: int,
        channels: int = 16,
        cells_per_stage: int = 5,
    ) -> None:
        super().__init__()
        C = channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        layers: list[nn.Module] = []
        C_prev = C
        for stage in range(3):
            C_stage = C * 2**stage
            if stage > 0:
                layers.append(ResNetBasicBlock(C_prev, C_stage, 2))
            layers.extend(NB201Cell(edges, ops, C_stage) for _ in range(cells_per_stage))
            C_prev = C_stage
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(x), 1))


def build(space: NB201Space, arch: Architecture, task: TaskSpec) -> nn.Module:
    """The NB201 network (stem, 3 stages of N cells at C, 2C, 4C channels, residual
    reductions, BN-ReLU, global pooling, linear) for this cell and task."""
    space.validate(arch)

    return NB201Network(
        EDGES,
        arch.values,
        in_channels=task.input_shape[0],
        num_classes=task.num_classes,
        channels=space.channels,
        cells_per_stage=space.cells_per_stage,
    )
