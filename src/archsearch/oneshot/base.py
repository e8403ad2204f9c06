"""The contract every one-shot method fulfils, and the helpers the methods share.

A one-shot search trains one supernet whose weights every architecture shares. The
methods differ in two places only: how a training step chooses the path through the
supernet (a relaxation of the architecture for DARTS, SNAS and GDAS; a sampled
architecture for ENAS and random one-shot), and how the final cell is derived. The
driver (`archsearch.oneshot.driver`) owns the data, the supernet, the weight optimizer,
the epochs and the checkpoints; a `OneShotMethod` owns the architecture side.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.registry import Registry
from archsearch.oneshot.darts_supernet import DartsSupernet
from archsearch.oneshot.supernet import NB201Supernet, PathSpec
from archsearch.space.base import SearchSpace
from archsearch.space.capabilities import SupernetSpace
from archsearch.space.nb201 import OPS

#: the supernets a method can drive
Supernet = NB201Supernet | DartsSupernet


@dataclass
class Batches:
    """One step's data: a training batch and (bi-level methods) a validation batch."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass
class StepContext:
    """Where the search stands: `progress` runs from 0 (first step) to 1 (last)."""

    epoch: int
    epochs: int
    progress: float
    w_lr: float


class OneShotMethod(ABC):
    """The architecture side of a one-shot search.

    `train_step` takes one step on the supernet's weights (through `w_optimizer`) and,
    for methods that learn the architecture by gradient, on the architecture too; it
    returns the training loss. `end_epoch` runs once per epoch (ENAS trains its
    controller there). `derive` returns the final cell; `epoch_arch` the cell the method
    would derive now (logged each epoch to watch for collapse; None where that costs a
    search of its own). All randomness comes from `self.generator`.
    """

    name: ClassVar[str]

    def __init__(self, supernet: Supernet, space: SearchSpace, seed: int) -> None:
        self.supernet = supernet
        self.space = space
        self.generator = torch.Generator().manual_seed(int(seed))

    @abstractmethod
    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float: ...

    def end_epoch(self, val_x: torch.Tensor, val_y: torch.Tensor, ctx: StepContext) -> None:
        """Per-epoch work besides the steps (none by default)."""

    @abstractmethod
    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture: ...

    def epoch_arch(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture | None:
        return self.derive(val_x, val_y)

    def stop_early(self, arch: Architecture | None) -> bool:
        """Whether the search should end after this epoch (DARTS+'s rule)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def describe(self) -> dict[str, Any]:
        """Method-specific numbers to log each epoch (e.g. the temperature)."""
        return {}

    # --- helpers shared by methods -------------------------------------------------------
    def weights_step(
        self, spec: PathSpec, batches: Batches, w_optimizer: torch.optim.Optimizer, aux: float = 0.0
    ) -> float:
        """One SGD step on the supernet's weights along `spec` (gradient clipped at 5, as
        in the DARTS and NB201 search code)."""
        self.supernet.train()
        w_optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.supernet(batches.x_train, spec, aux), batches.y_train)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), 5.0)
        w_optimizer.step()
        return float(loss.detach())

    def arch_of(self, index: Sequence[int]) -> Architecture:
        return self.space.make([OPS[int(i)] for i in index])


def shared_weight_accuracy(
    supernet: Supernet,
    index: Sequence[int],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 256,
) -> float:
    """Accuracy (%) of one architecture with the supernet's shared weights: only its path
    runs (batch norm uses the statistics of each batch of `batch_size`, see `supernet`)."""
    return supernet_score(supernet, PathSpec(index=list(index)), x, y, batch_size)[0]


def supernet_score(
    supernet: Supernet,
    spec: PathSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 256,
) -> tuple[float, float]:
    """(accuracy in %, mean cross-entropy) of the supernet run as `spec` on (x, y)."""
    supernet.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            out = supernet(x[i : i + batch_size], spec)
            yb = y[i : i + batch_size]
            correct += int((out.argmax(1) == yb).sum())
            loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
    n = max(1, len(y))
    return 100.0 * correct / n, loss_sum / n


def derive(space: SearchSpace, alpha: torch.Tensor) -> Architecture:
    """The genotype of architecture weights `alpha` (edges x ops) by the space's own
    rule (`SupernetSpace.derive`), on the weights normalised per edge."""
    if not isinstance(space, SupernetSpace):
        raise ConfigError(f"space {space.id} does not derive genotypes from a supernet")
    return space.derive(torch.softmax(alpha.detach().float(), dim=-1).tolist())


def argmax_cell(alpha: torch.Tensor, exclude_none: bool = True) -> list[int]:
    """The op index with the largest architecture weight on each edge (DARTS's
    derivation); `none` is never kept when `exclude_none` (a zero edge of the NB201 cell
    is a legal op, but DARTS's rule ranks non-zero ops only)."""
    scores = alpha.detach().clone()
    if exclude_none:
        scores[:, OPS.index("none")] = -float("inf")
    return [int(i) for i in scores.argmax(dim=1)]


def op_shares(arch: Architecture | None) -> dict[str, float]:
    """The share of skip_connect and none edges in a derived cell (collapse watch)."""
    if arch is None:
        return {"skip_share": float("nan"), "none_share": float("nan")}
    values = [v for v in arch.values if isinstance(v, str)]  # ops, not input indices
    return {
        "skip_share": sum(v == "skip_connect" for v in values) / len(values),
        "none_share": sum(v == "none" for v in values) / len(values),
    }


#: method name -> class
METHODS: Registry[type[OneShotMethod]] = Registry("one-shot method")
