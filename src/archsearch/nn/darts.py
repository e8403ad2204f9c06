"""The DARTS / NASNet network of cells, with ScheduledDropPath.

Liu, Simonyan and Yang, "DARTS: Differentiable Architecture Search", ICLR 2019 (the
evaluation network of Section 3.2); Zoph, Vasudevan, Shlens and Le, "Learning Transferable
Architectures for Scalable Image Recognition", CVPR 2018 (cells, ScheduledDropPath).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.nn.ops import FactorizedReduce, ReLUConvBN, make_op
from archsearch.space.darts import DartsSpace

CellPairs = Sequence[tuple[str, int]]


def drop_path(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Zero whole samples of a path with probability `prob`, scaling the kept ones by
    1 / (1 - prob) so the expectation is unchanged (DropPath, Larsson et al. 2017, as used
    by NASNet and DARTS). The mask is drawn from `generator`, never the global RNG."""
    keep = 1.0 - prob
    mask = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=generator.device)
    mask = (mask < keep).to(device=x.device, dtype=x.dtype)
    return x * mask / keep


class DartsCell(nn.Module):
    """A cell: preprocess the two inputs to C channels, 4 nodes each summing two ops of
    earlier states, output the concatenation of the nodes (4C channels).

    In a reduction cell the ops reading the cell inputs (states 0 and 1) have stride 2.
    When the previous cell reduced, state 0 is twice as large as state 1, and is brought
    to size with a factorized reduce.
    """

    def __init__(
        self,
        pairs: CellPairs,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0: nn.Module = (
            FactorizedReduce(C_prev_prev, C)
            if reduction_prev
            else ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.inputs = tuple(int(i) for _, i in pairs)
        self.ops = nn.ModuleList(
            make_op(op, C, C, 2 if reduction and i < 2 else 1) for op, i in pairs
        )
        # Identity paths are never dropped (as DARTS): dropping them removes no computation.
        self.droppable = tuple(not isinstance(op, nn.Identity) for op in self.ops)
        self.multiplier = len(pairs) // 2

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        drop_prob: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(self.multiplier):
            total: torch.Tensor | None = None
            for k in (2 * node, 2 * node + 1):
                h = self.ops[k](states[self.inputs[k]])
                if drop_prob > 0.0 and generator is not None and self.droppable[k]:
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            assert total is not None
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """Stem (3x3 conv + BN, `stem_multiplier` x C channels), `cells` cells with C doubled
    at the two reduction cells (positions cells // 3 and 2 * cells // 3), global average
    pooling and a linear classifier.

    ScheduledDropPath (Zoph et al. 2018): while training, each non-identity path of each
    cell is dropped with probability `drop_path_prob`, which the trainer raises linearly
    over training: `model.schedule_drop_path(epoch / epochs)` sets it to
    `max_drop_path_prob * progress` (or set `model.drop_path_prob` directly). It starts
    at 0, so a trainer that never sets it trains without drop path. The masks come from
    `model.generator` (seed it with `model.seed_drop_path(seed)`; seed 0 by default).
    """

    def __init__(
        self,
        normal: CellPairs,
        reduce: CellPairs,
        in_channels: int,
        num_classes: int,
        channels: int = 16,
        cells: int = 8,
        stem_multiplier: int = 3,
        max_drop_path_prob: float = 0.2,
    ) -> None:
        super().__init__()
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
            cell = DartsCell(
                reduce if reduction else normal, C_prev_prev, C_prev, C, reduction, reduction_prev
            )
            self.cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self.max_drop_path_prob = float(max_drop_path_prob)
        self._drop_path_prob = 0.0
        self.generator: torch.Generator | None = None

    @property
    def drop_path_prob(self) -> float:
        """The current drop-path probability (used in training mode only)."""
        return self._drop_path_prob

    @drop_path_prob.setter
    def drop_path_prob(self, p: float) -> None:
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {p}")
        self._drop_path_prob = float(p)

    def schedule_drop_path(self, progress: float) -> float:
        """ScheduledDropPath: set the probability to `max_drop_path_prob * progress`,
        progress being the fraction of training done (e.g. epoch / epochs); returns it."""
        progress = min(max(float(progress), 0.0), 1.0)
        self.drop_path_prob = self.max_drop_path_prob * progress
        return self.drop_path_prob

    def seed_drop_path(self, seed: int) -> None:
        """Draw drop-path masks from a CPU generator with this seed."""
        self.generator = torch.Generator().manual_seed(int(seed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self._drop_path_prob if self.training else 0.0
        if p > 0.0 and self.generator is None:
            self.seed_drop_path(0)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, p, self.generator)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))


def build(space: DartsSpace, arch: Architecture, task: TaskSpec) -> nn.Module:
    """The DARTS network: a 3x3 conv stem, `cells` cells (reduction at 1/3 and 2/3 of
    the depth), global average pooling and a linear classifier. Set
    `model.drop_path_prob`, or call `model.schedule_drop_path(epoch / epochs)` each
    epoch, for ScheduledDropPath."""
    space.validate(arch)

    return DartsNetwork(
        space.cell(arch, "normal"),
        space.cell(arch, "reduce"),
        in_channels=task.input_shape[0],
        num_classes=task.num_classes,
        channels=space.channels,
        cells=space.cells,
        stem_multiplier=space.stem_multiplier,
        max_drop_path_prob=space.drop_path_prob,
    )
