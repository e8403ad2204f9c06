"""ENAS: Pham, Guan, Zoph, Le and Dean, "Efficient Neural Architecture Search via
Parameter Sharing", ICML 2018, as a composition (DESIGN.md): the RL controller of
`archsearch.strategies.rl` (Zoph & Le's LSTM trained by REINFORCE) proposes cells, and a
`SupernetEvaluator` scores them with the shared weights.

Training alternates, per epoch (section 2.2 of the paper):
1. the shared weights: each minibatch trains the path of one cell sampled from the
   controller (only that path runs);
2. the controller: `controller_steps` cells asked from the strategy, each rewarded with
   its shared-weight accuracy on one validation minibatch, told back (REINFORCE with a
   moving-average baseline; ENAS's tanh constant 2.5 on the logits).

The final cell: `n_derive` cells sampled from the trained controller, each scored with the
shared weights on the whole validation subset, the best one kept (section 2.2, "Deriving
Architectures").
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter
from archsearch.estimation.base import TrialContext
from archsearch.oneshot.base import METHODS, Batches, OneShotMethod, StepContext
from archsearch.oneshot.evaluator import SupernetEvaluator
from archsearch.oneshot.supernet import NB201Supernet, PathSpec
from archsearch.space.nb201 import OPS, NB201Space
from archsearch.strategies.rl import ReinforceSearch


@METHODS.register("enas")
class ENAS(OneShotMethod):
    """RL controller + shared weights (see the module docstring)."""

    name = "enas"

    def __init__(
        self,
        supernet: NB201Supernet,
        space: NB201Space,
        seed: int,
        controller_steps: int = 50,
        controller_batch: int = 5,
        controller_lr: float = 0.05,
        reward_batch: int = 128,
        n_derive: int = 50,
        tanh_constant: float | None = 2.5,
        entropy_weight: float = 1e-3,
    ) -> None:
        super().__init__(supernet, space, seed)
        for key, value in (
            ("controller_steps", controller_steps),
            ("reward_batch", reward_batch),
            ("n_derive", n_derive),
        ):
            if int(value) < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        self.controller_steps = int(controller_steps)
        self.reward_batch = int(reward_batch)
        self.n_derive = int(n_derive)
        self.strategy = ReinforceSearch(
            space,
            seed=int(seed),
            batch_size=controller_batch,
            lr=controller_lr,
            reward="score",
            dedup=False,
            tanh_constant=tanh_constant,
            entropy_weight=entropy_weight,
        )
        self.trials = 0  # numbers the controller's reward trials (picks the reward batch)
        self.last_reward = float("nan")

    @property
    def controller(self) -> Any:
        return self.strategy.controller

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        (index,) = self.controller.sample(1)
        return self.weights_step(PathSpec(index=index), batches, w_optimizer)

    def end_epoch(self, val_x: torch.Tensor, val_y: torch.Tensor, ctx: StepContext) -> None:
        evaluator = SupernetEvaluator(self.supernet, val_x, val_y, self.reward_batch)
        rewards = []
        for _ in range(self.controller_steps):
            arch = self.strategy.ask()
            assert arch is not None
            result = evaluator.evaluate(arch, TrialContext(self.trials, 0, Reporter()))
            self.trials += 1
            rewards.append(result.metrics["val_acc"])
            self.strategy.tell(arch, result.with_score(result.metrics["val_acc"]))
        self.last_reward = sum(rewards) / len(rewards)

    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        candidates = {tuple(c) for c in self.controller.sample(self.n_derive)}
        return best_by_shared_weights(self, sorted(candidates), val_x, val_y)

    def epoch_arch(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture | None:
        """The controller's most likely cell (greedy decoding): cheap, no evaluation."""
        prefix: list[int] = []
        for _ in range(len(self.controller.n_options)):
            probs = self.controller.probabilities(prefix)
            prefix.append(max(range(len(probs)), key=probs.__getitem__))
        return self.arch_of(prefix)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "strategy": self.strategy.state_dict(),
            "trials": self.trials,
            "last_reward": self.last_reward,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.strategy.load_state_dict(state["strategy"])
        self.trials = int(state["trials"])
        self.last_reward = float(state["last_reward"])

    def describe(self) -> dict[str, Any]:
        return {"reward": self.last_reward}


def best_by_shared_weights(
    method: OneShotMethod,
    candidates: list[tuple[int, ...]],
    val_x: torch.Tensor,
    val_y: torch.Tensor,
) -> Architecture:
    """The candidate cell (op indices) with the best shared-weight validation accuracy
    (ties: the first in the given order)."""
    evaluator = SupernetEvaluator(method.supernet, val_x, val_y)
    best: tuple[float, Architecture] | None = None
    for k, index in enumerate(candidates):
        arch = method.space.make([OPS[i] for i in index])
        acc = evaluator.evaluate(arch, TrialContext(k, 0, Reporter())).metrics["val_acc"]
        if best is None or acc > best[0]:
            best = (acc, arch)
    assert best is not None
    return best[1]
