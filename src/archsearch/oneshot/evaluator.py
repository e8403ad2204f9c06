"""Shared-weight evaluation: an architecture scored by the supernet's weights, without
training it (the "performance estimation" side of ENAS and random one-shot search).

It is an ordinary `Evaluator`, so the strategies that propose the architectures (the RL
controller for ENAS, random search for RSPS) are the same ask/tell strategies a study
uses with any other evaluator (DESIGN.md: ENAS is a composition).
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.oneshot.base import Supernet, shared_weight_accuracy
from archsearch.space.base import SearchSpace
from archsearch.space.nb201 import OPS


class SupernetEvaluator(Evaluator):
    """`val_acc` of an NB201 cell with the supernet's shared weights.

    With `batch_size` set, trial number k is scored on the k-th validation batch (in
    rotation: ENAS's reward is the accuracy on one validation minibatch); otherwise on
    all of (x, y). The cost is 0: it is part of the search's own wall time.
    """

    def __init__(
        self,
        supernet: Supernet,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int | None = None,
    ) -> None:
        self.supernet = supernet
        self.x, self.y = x, y
        self.batch_size = batch_size

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        index = [OPS.index(v) for v in arch.values]
        x, y = self.x, self.y
        if self.batch_size is not None:
            n_batches = max(1, len(y) // self.batch_size)
            start = (ctx.number % n_batches) * self.batch_size
            x, y = x[start : start + self.batch_size], y[start : start + self.batch_size]
        return Result.complete({"val_acc": shared_weight_accuracy(self.supernet, index, x, y)})

    def supports(self, space: SearchSpace) -> bool:
        return space.name == "nb201"

    def describe(self) -> dict[str, Any]:
        return {"evaluator": "supernet", "batch_size": self.batch_size, "n_val": len(self.y)}
