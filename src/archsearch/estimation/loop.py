"""The training loop and its parts, shared by every evaluator that trains: seeding, threads,
the cosine schedule, optimizers, epochs, scoring, checkpoints of promoted trials."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core.genotype import TaskSpec
from archsearch.core.trial import Pruned, Result, TrialState
from archsearch.estimation.base import TrialContext

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


class TrainingDiverged(RuntimeError):
    """The training loss became NaN, infinite, or exploded."""


@dataclass(eq=False)
class TrainData:
    """The tensors one fidelity trains and scores on: normalised float32 (N, C, H, W)
    images at the trial's resolution, int64 labels, and the augmentation padding (0:
    none)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    y_eval: torch.Tensor
    task: TaskSpec
    padding: int = 0


@dataclass
class FinalFit:
    """A network retrained at full fidelity: the trained module (on the CPU, in eval
    mode), its test metrics, the wall seconds it took, its per-epoch training loss, and
    the preprocessing its inputs went through (`archsearch.nn.preprocess.Normalize`'s
    settings; None: inputs are used as they are)."""

    model: nn.Module
    metrics: dict[str, float]
    cost: float
    history: list[dict[str, float]] = field(default_factory=list)
    preprocess: dict[str, Any] | None = None


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run the block with `n` intra-op threads, restoring the caller's number after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[torch.Generator]:
    """A trial's private generator (batch order, augmentation, checkpoints), with torch's
    global generators forked and seeded for module initialisation and dropout, which
    draw from them; the caller's RNG state comes back on exit."""
    import torch

    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.manual_seed(seed)  # only inside fork_rng: the caller's state comes back
        yield torch.Generator().manual_seed(seed)


def cosine_lr(base: float, step: int, total: int) -> float:
    """lr at `step` of `total`: base * (1 + cos(pi * step / total)) / 2, from base to 0."""
    return 0.5 * base * (1.0 + math.cos(math.pi * step / max(1, total)))


def make_optimizer(
    name: str, params: Any, lr: float, momentum: float, nesterov: bool, weight_decay: float
) -> torch.optim.Optimizer:
    import torch

    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov and momentum > 0,
            weight_decay=weight_decay,
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train_epochs(
    model: nn.Module,
    data: TrainData,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    grad_clip: float | None = None,
    diverge_factor: float | None = 100.0,
    on_epoch: Callable[[int, float, float], None] | None = None,
    first_epoch: int = 1,
    schedule_epochs: int | None = None,
    precision: str = "fp32",
) -> float:
    """Train up to epoch `epochs`; returns the last epoch's mean training loss.

    `first_epoch` > 1 continues a checkpointed run (the model, optimizer and `generator`
    restored to where epoch `first_epoch - 1` ended); the cosine schedule spans
    `schedule_epochs` (default `epochs`), so a run continued rung by rung follows the
    very schedule of one run straight through.

    Each epoch visits the training set in a fresh order drawn from `generator` and drops
    the last partial batch (batch norm needs more than one sample, and equal batches
    keep the schedule simple); the learning rate follows `cosine_lr` per step.
    `on_epoch(epoch, train_loss, seconds)` runs after each epoch (epochs count from 1),
    with the seconds that epoch's training steps took. `precision` "bf16" or "fp16"
    runs the forward pass under autocast (a GPU device; fp16 with loss scaling).
    Raises `TrainingDiverged` on a non-finite loss, or one above `diverge_factor` times
    the first step's (floored at ln(classes), a chance-level loss).
    """
    import torch
    import torch.nn.functional as F

    from archsearch.datasets.transforms import augment
    from archsearch.nn.device import autocast

    x, y = data.x_train, data.y_train
    n = len(y)
    per_epoch = max(1, n // batch_size)
    total = max(epochs, schedule_epochs or epochs) * per_epoch
    limit = math.inf
    step = (first_epoch - 1) * per_epoch
    first_step = step
    train_loss = math.nan
    device = str(x.device)
    scaler = torch.amp.GradScaler(enabled=precision == "fp16")
    model.train()
    for epoch in range(first_epoch, epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(x.device)
        loss_sum = 0.0
        for b in range(per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if data.padding:
                xb = augment(xb, data.padding, generator)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(lr, step, total)
            with autocast(device, precision):
                loss = F.cross_entropy(model(xb), yb)
            value = loss.item()
            if not math.isfinite(value) or value > limit:
                raise TrainingDiverged(f"loss diverged at epoch {epoch}: {value:.4g}")
            if step == first_step and diverge_factor is not None:
                limit = diverge_factor * max(value, math.log(max(2, data.task.num_classes)))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += value
            step += 1
        train_loss = loss_sum / per_epoch
        if on_epoch is not None:
            on_epoch(epoch, train_loss, time.perf_counter() - started)
            model.train()
    return train_loss


def score(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in percent) of `model` in eval mode on (x, y)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(y), batch_size):
            out = model(x[i : i + batch_size])
            yb = y[i : i + batch_size]
            loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(dim=1) == yb).sum())
    n = max(1, len(y))
    return loss_sum / n, 100.0 * correct / n


class CheckpointError(RuntimeError):
    """A promoted trial's parent checkpoint is missing or unreadable (the trial fails)."""


def save_training(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    epoch: int,
    history: list[dict[str, float]] | None = None,
) -> None:
    """Write what training needs to continue exactly where it stopped (weights, optimizer
    state, batch-order and global RNG states, epochs done, per-epoch history),
    atomically: a kill mid-write leaves the previous file or none, never half of one."""
    import torch

    from archsearch.core.atomic import atomic_write

    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "epoch": epoch,
        "history": history or [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_training(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[int, list[dict[str, float]]]:
    """Restore a `save_training` file into `model`, `optimizer` and the RNGs; returns the
    epochs it had done and their history. Raises `CheckpointError` naming the file."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["epoch"]), list(state.get("history", []))
    except Exception as e:  # a truncated or corrupt file: say which
        raise CheckpointError(f"checkpoint {path.name} is unreadable: {e}") from e


def save_checkpoint(
    ctx: TrialContext,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    epoch: int,
) -> None:
    """This trial's checkpoint, for the promotions that continue it."""
    path = ctx.checkpoint_path()
    assert path is not None
    save_training(path, model, optimizer, generator, epoch)


def load_checkpoint(
    ctx: TrialContext,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> int:
    """Restore the parent trial's checkpoint; returns the epochs it had done."""
    path = ctx.checkpoint_path(ctx.parent)
    if path is None or not path.exists():
        raise CheckpointError(f"trial {ctx.parent}'s checkpoint is missing ({path})")
    try:
        return load_training(path, model, optimizer, generator)[0]
    except CheckpointError as e:
        raise CheckpointError(f"trial {ctx.parent}'s {e}") from e


def train_trial(
    ctx: TrialContext,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    train: Callable[[int], object],
    epochs: int,
    metrics: dict[str, float],
    start: float,
) -> Result | None:
    """A trial's training under any scheduler: a promoted trial first restores its
    parent's checkpoint (`load_checkpoint`, its epochs go to `metrics`), then
    `train(first_epoch)` runs up to `epochs`, and a trial with a checkpoint folder saves
    its own. Returns the PRUNED or FAILED (diverged) result when training stops early,
    else None; `start` is the trial's `perf_counter` start, for the result's cost."""
    done = 0
    if ctx.parent is not None:  # a promotion: continue the parent's training
        done = load_checkpoint(ctx, model, optimizer, generator)
        metrics["epochs"] = done
    try:
        train(done + 1)
    except Pruned:
        return Result(TrialState.PRUNED, metrics, time.perf_counter() - start)
    except TrainingDiverged as e:
        return Result.failed(str(e), cost=time.perf_counter() - start)
    if ctx.checkpoint_path() is not None:
        save_checkpoint(ctx, model, optimizer, generator, epochs)
    return None
