"""The networks of `archsearch.space.hierarchical`: Liu, Simonyan, Vinyals, Fernando and
Kavukcuoglu, "Hierarchical Representations for Efficient Architecture Search", ICLR 2018.

Primitives (Section 2.3) keep C channels and the spatial size; motifs are DAG modules
whose edges are primitives or lower-level motifs; the network is the paper's small
model (a conv stem, cells, stride-2 separable convolutions between them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn as nn

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.hierarchical import PRIMITIVES, Edges, _MotifSpace


def conv_bn_relu(C_in: int, C_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Module:
    """Conv -> BN -> ReLU ("all convolutional operations are followed by batch
    normalization and ReLU activation", Liu et al. 2018)."""
    return nn.Sequential(
        nn.Conv2d(C_in, C_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(C_out),
        nn.ReLU(inplace=False),
    )


def sep_conv_bn_relu(C_in: int, C_out: int, stride: int = 1) -> nn.Module:
    """3x3 depthwise then 1x1 pointwise convolution, BN, ReLU."""
    return nn.Sequential(
        nn.Conv2d(C_in, C_in, 3, stride, 1, groups=C_in, bias=False),
        nn.Conv2d(C_in, C_out, 1, bias=False),
        nn.BatchNorm2d(C_out),
        nn.ReLU(inplace=False),
    )


_PRIMITIVES: dict[str, Callable[[int], nn.Module]] = {
    "conv_1x1": lambda C: conv_bn_relu(C, C, 1),
    "dw_conv_3x3": lambda C: conv_bn_relu(C, C, 3, groups=C),
    "sep_conv_3x3": lambda C: sep_conv_bn_relu(C, C),
    "max_pool_3x3": lambda C: nn.MaxPool2d(3, 1, 1),
    "avg_pool_3x3": lambda C: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "identity": lambda C: nn.Identity(),
}
assert tuple(_PRIMITIVES) == PRIMITIVES


class Motif(nn.Module):
    """A DAG of ops: node 0 is the input, node n-1 the output; a node with several
    inputs merges them (concatenation then a 1x1 Conv-BN-ReLU back to C, or a sum)."""

    def __init__(self, edges: Edges, make: Callable[[str], nn.Module], C: int, merge: str):
        super().__init__()
        if not edges:
            raise ValueError("a motif needs at least one edge from its input to its output")
        self.edges = tuple((i, j) for i, j, _ in edges)
        self.ops = nn.ModuleList(make(op) for _, _, op in edges)
        self.output = max(j for _, j in self.edges)
        fan_in: dict[int, int] = {}
        for _, j in self.edges:
            fan_in[j] = fan_in.get(j, 0) + 1
        self.nodes = tuple(sorted(fan_in))  # successor order: the edges' order
        self.merge = merge
        self.mergers = nn.ModuleDict(
            {
                str(j): conv_bn_relu(k * C, C, 1)
                for j, k in fan_in.items()
                if k > 1 and merge == "concat"
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states: dict[int, torch.Tensor] = {0: x}
        inputs: dict[int, list[torch.Tensor]] = {}
        k = 0
        for j in self.nodes:
            while k < len(self.edges) and self.edges[k][1] == j:
                inputs.setdefault(j, []).append(self.ops[k](states[self.edges[k][0]]))
                k += 1
            parts = inputs[j]
            if len(parts) == 1:
                states[j] = parts[0]
            elif self.merge == "concat":
                states[j] = self.mergers[str(j)](torch.cat(parts, dim=1))
            else:
                states[j] = torch.stack(parts).sum(dim=0)
        return states[self.output]


def build_motif(name: str, live: Mapping[str, Edges], C: int, merge: str) -> nn.Module:
    """Motif `name` with its edges' ops built recursively: a primitive, or a lower motif.
    A motif with no input-output path computes the identity (see the space's docstring)."""
    if not live[name]:
        return nn.Identity()

    def make(op: str) -> nn.Module:
        if op in _PRIMITIVES:
            return _PRIMITIVES[op](C)
        return build_motif(op, live, C, merge)

    return Motif(live[name], make, C, merge)


class HierarchicalNetwork(nn.Module):
    """Liu et al.'s small model: a 3x3 conv stem (C channels), three stages of `cells`
    cells, a stride-2 3x3 separable convolution doubling the channels between stages,
    global average pooling and a linear classifier.

    `cell` (optional) replaces the searched cell by a hand-made one: a callable from the
    stage's channel count to a module that keeps shape (e.g. `residual_cell`)."""

    def __init__(
        self,
        live: Mapping[str, Edges] | None,
        in_channels: int,
        num_classes: int,
        channels: int = 16,
        cells: int = 1,
        merge: str = "concat",
        cell: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if cell is None:
            if live is None:
                raise ValueError("give the motifs' live edges or a cell factory")
            motifs = live

            def cell(C: int) -> nn.Module:
                return build_motif("cell", motifs, C, merge)

        C = channels
        layers: list[nn.Module] = [conv_bn_relu(in_channels, C, 3)]
        for stage in range(3):
            if stage > 0:
                layers.append(sep_conv_bn_relu(C, 2 * C, stride=2))
                C *= 2
            layers += [cell(C) for _ in range(cells)]
        self.features = nn.Sequential(*layers)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.global_pooling(self.features(x)), 1))


class ResidualCell(nn.Module):
    """A hand-designed ResNet-style cell for baselines (He et al., "Deep Residual Learning
    for Image Recognition", CVPR 2016): `blocks` basic blocks, each two 3x3 Conv-BN with a
    ReLU between, added to the block's input, then a ReLU."""

    def __init__(self, C: int, blocks: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(C, C, 3, 1, 1, bias=False),
                nn.BatchNorm2d(C),
                nn.ReLU(inplace=False),
                nn.Conv2d(C, C, 3, 1, 1, bias=False),
                nn.BatchNorm2d(C),
            )
            for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = torch.relu(x + block(x))
        return x


def build(space: _MotifSpace, arch: Architecture, task: TaskSpec) -> nn.Module:
    """The paper's small model: a 3x3 conv stem of C channels, then three stages of
    `cells` cells, separated by stride-2 3x3 separable convolutions that double the
    channels; global average pooling and a linear classifier."""
    space.validate(arch)

    return HierarchicalNetwork(
        space.live(arch),
        in_channels=task.input_shape[0],
        num_classes=task.num_classes,
        channels=space.channels,
        cells=space.cells,
        merge=space.merge,
    )
