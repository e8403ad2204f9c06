"""Random search with weight sharing: Li and Talwalkar, "Random Search and
Reproducibility for Neural Architecture Search", UAI 2019 (RSPS), and single-path
one-shot, Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform
Sampling", ECCV 2020 (SPOS).

The supernet is trained with one path per minibatch, every edge's op drawn uniformly
(only that path runs). The search is then a composition (DESIGN.md): the `random`
strategy proposes `n_derive` distinct cells, a `SupernetEvaluator` scores each with the
shared weights on the validation subset, and the best is kept.
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.oneshot.base import METHODS, Batches, OneShotMethod, StepContext
from archsearch.oneshot.enas import best_by_shared_weights
from archsearch.oneshot.supernet import NB201Supernet, PathSpec
from archsearch.space.nb201 import OPS, NB201Space
from archsearch.strategies.random import RandomSearch


@METHODS.register("rsps")
class RandomOneShot(OneShotMethod):
    """Uniform single-path training, then the best of `n_derive` random cells."""

    name = "rsps"

    def __init__(
        self, supernet: NB201Supernet, space: NB201Space, seed: int, n_derive: int = 100
    ) -> None:
        super().__init__(supernet, space, seed)
        if int(n_derive) < 1:
            raise ConfigError(f"n_derive must be >= 1, got {n_derive}")
        self.n_derive = int(n_derive)
        self.seed = int(seed)

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        index = torch.randint(
            0, len(self.supernet.op_names), (self.supernet.n_edges,), generator=self.generator
        )
        return self.weights_step(PathSpec(index=index.tolist()), batches, w_optimizer)

    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        strategy = RandomSearch(self.space, seed=self.seed, dedup=True)
        candidates = []
        for _ in range(self.n_derive):
            arch = strategy.ask()
            if arch is None:
                break
            candidates.append(tuple(OPS.index(v) for v in arch.values))
        return best_by_shared_weights(self, candidates, val_x, val_y)

    def epoch_arch(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture | None:
        return None  # deriving is a search of its own: done once, at the end

    def describe(self) -> dict[str, Any]:
        return {}
