"""The one-shot search driver: data, supernet, epochs, checkpoints, derivation, look-up.

`search()` trains one weight-sharing supernet with a `OneShotMethod`, derives a cell,
and (for the NB201 space) looks the cell up in the NAS-Bench-201 tables: its 200-epoch
test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120. For the DARTS space the cell
can be retrained from scratch through the training path instead (`retrain_epochs`).
The training set is split in two stratified halves (the NB201/DARTS protocol: weights
learn on one half, the architecture on the other); `train_size` and `val_size`
subsample each half.

The weight optimizer is the DARTS / NB201 search setting: SGD, momentum 0.9, weight
decay 3e-4, lr cosine-annealed from 0.025 to 0.001 (per step here), batch size 64,
gradients clipped at norm 5, CIFAR augmentation (random crop, flip) on the training half.

Resume: after every epoch a checkpoint (supernet weights, method state including the
architecture parameters and its optimizer or controller, the weight optimizer, every
random generator's state, the epoch, the history, the seconds spent) is written
atomically (temporary file, then `os.replace`). Running the same search again with the
same `out_dir` continues from it; on the CPU with a fixed seed the result is
bit-identical to an uninterrupted run. A checkpoint made with another configuration is
refused with a `ConfigError` naming the first difference.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from archsearch.core.errors import ConfigError, require_whole_numbers
from archsearch.core.genotype import Architecture
from archsearch.estimation.loop import intra_op_threads
from archsearch.oneshot import (  # noqa: F401 (registers the methods)
    collapse,
    darts,
    dirichlet,
    enas,
    gdas,
    projection,
    rsps,
    snas,
)
from archsearch.oneshot.base import (
    METHODS,
    Batches,
    OneShotMethod,
    StepContext,
    Supernet,
    op_shares,
)
from archsearch.oneshot.darts_supernet import DartsSupernet
from archsearch.oneshot.supernet import NB201Supernet
from archsearch.space.base import SearchSpace
from archsearch.space.darts import DartsSpace
from archsearch.space.nb201 import NB201Space

SPACES = ("nb201", "darts")
#: the methods that search the DARTS space (a one-op-per-edge path cannot hold a DARTS
#: genotype whose node reads one state twice; DARTS-'s auxiliary skip is NB201-only here)
DARTS_SPACE_METHODS = ("darts", "snas", "gdas")
CHECKPOINT = "checkpoint.pt"
NB201_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass(eq=False)
class SearchData:
    """Normalised float32 (N, C, H, W) tensors of the two halves, and the augmentation
    padding for the training half (0: none)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    padding: int = 0
    description: dict[str, Any] = field(default_factory=dict)


def prepare_data(
    dataset: str = "cifar10",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    train_size: int | None = None,
    val_size: int | None = None,
    resolution: int | None = None,
    split_seed: int = 0,
) -> SearchData:
    """The training set split 50/50 (stratified, fixed by `split_seed`) into the weights'
    half and the architecture's half, each subsampled to `train_size` / `val_size`
    images (a seeded random subset), normalised with the training half's statistics and
    resized to `resolution`."""
    from archsearch.datasets import load_dataset
    from archsearch.datasets.transforms import normalize, resize

    for key, value in (("train_size", train_size), ("val_size", val_size)):
        if value is not None and int(value) < 1:
            raise ConfigError(f"{key} must be >= 1, got {value}")
    ds = load_dataset(dataset, data_dir=data_dir)
    split = ds.split(split_seed, 0.5)
    g = torch.Generator().manual_seed(int(split_seed))
    train_idx = split.train[:train_size] if train_size else split.train
    val_idx = split.val[torch.randperm(len(split.val), generator=g)]
    val_idx = val_idx[:val_size] if val_size else val_idx
    mean, std = ds.stats(train_idx)

    def prep(x: torch.Tensor) -> torch.Tensor:
        x = normalize(x, mean, std)
        return x if resolution is None else resize(x, int(resolution))

    task = ds.task(resolution)
    padding = max(1, round(task.input_shape[-1] / 8)) if ds.augment else 0
    return SearchData(
        prep(ds.x_train[train_idx]),
        ds.y_train[train_idx],
        prep(ds.x_train[val_idx]),
        ds.y_train[val_idx],
        ds.num_classes,
        padding,
        {
            "dataset": ds.name,
            "train": len(train_idx),
            "val": len(val_idx),
            "resolution": task.input_shape[-1],
            "split_seed": split_seed,
        },
    )


@dataclass
class OneShotResult:
    """What a one-shot search found: the derived cell, its NB201 200-epoch test accuracy
    per dataset (NB201 space), the per-epoch history, and what the search cost."""

    method: str
    arch: Architecture
    arch_str: str
    nb201_test: dict[str, float]
    history: list[dict[str, Any]]
    search_seconds: float
    peak_rss_mb: float
    epochs_run: int
    stopped_early: bool
    config: dict[str, Any]
    out_dir: str | None = None
    retrain: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["arch"] = self.arch.to_dict()
        return out


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def make_method(
    name: str, supernet: Supernet, space: SearchSpace, seed: int, options: dict[str, Any]
) -> OneShotMethod:
    """The registered method `name` with `options`; unknown options are a ConfigError."""
    cls = METHODS.get(name)
    allowed: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = inspect.signature(vars(klass)["__init__"]).parameters
            allowed |= {p for p in params if p not in ("self", "supernet", "space", "seed")}
            if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                break
    allowed.discard("options")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"method {name!r} has no option {unknown[0]!r}; its options: {sorted(allowed)}"
        )
    return cls(supernet, space, seed, **options)


def _lr(base: float, low: float, step: int, total: int) -> float:
    return low + 0.5 * (base - low) * (1.0 + math.cos(math.pi * step / max(1, total)))


def _save_atomic(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def nb201_lookup(space: SearchSpace, arch: Architecture) -> dict[str, float]:
    """The cell's NB201 200-epoch test accuracy (%) on the three datasets ({} outside
    the NB201 space)."""
    if not isinstance(space, NB201Space):
        return {}
    from archsearch.benchmarks.nb201 import NB201Table

    table = NB201Table()
    index = space.index(arch)
    return {d: table.test_acc(index, d, 200) for d in NB201_DATASETS}


def check_config(space: str, method: str) -> None:
    """A clear error for an unknown space or method, or a method that does not search
    the space, before any work."""
    if space not in SPACES:
        raise ConfigError(f"oneshot: unknown space {space!r}; choose one of: {SPACES}")
    METHODS.get(method)
    if space == "darts" and method not in DARTS_SPACE_METHODS:
        raise ConfigError(
            f"oneshot: method {method!r} does not search the darts space; "
            f"choose one of: {DARTS_SPACE_METHODS}"
        )


def search(
    space: str = "nb201",
    method: str = "gdas",
    dataset: str = "cifar10",
    *,
    epochs: int = 50,
    channels: int = 16,
    cells_per_stage: int = 5,
    train_size: int | None = None,
    val_size: int | None = None,
    resolution: int | None = None,
    batch_size: int = 64,
    w_lr: float = 0.025,
    w_lr_min: float = 0.001,
    momentum: float = 0.9,
    weight_decay: float = 3e-4,
    partial_channels: int = 1,
    eval_size: int = 1000,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    data: SearchData | None = None,
    method_options: dict[str, Any] | None = None,
    threads: int = 1,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    retrain_epochs: int | None = None,
) -> OneShotResult:
    """Run (or continue, from `out_dir`'s checkpoint) a one-shot search; see the module
    docstring. `data` replaces loading `dataset` (then `train_size`, `val_size` and
    `resolution` are ignored); `eval_size` validation images score cells for methods
    that derive by shared-weight evaluation (ENAS, RSPS) and for ENAS's rewards.
    `on_epoch` receives each epoch's record after its checkpoint is written.

    `space="darts"` searches the DARTS cell space (DARTS, SNAS, GDAS only;
    `cells_per_stage` N gives 3N + 2 cells); `retrain_epochs` then retrains the derived
    cell from scratch on all of `dataset`'s training data and scores it on its test split
    through the training path (`estimation.training.final_fit`, the DARTS-space network
    at `channels`), recorded as `OneShotResult.retrain`."""
    check_config(space, method)
    if space == "darts" and partial_channels != 1:
        raise ConfigError("oneshot: partial_channels is implemented for the nb201 space only")
    require_whole_numbers(
        {
            "epochs": epochs,
            "channels": channels,
            "cells_per_stage": cells_per_stage,
            "batch_size": batch_size,
            "eval_size": eval_size,
            "threads": threads,
        }
    )
    options = dict(method_options or {})
    if data is None:
        data = prepare_data(
            dataset,
            data_dir=data_dir,
            train_size=train_size,
            val_size=val_size,
            resolution=resolution,
            split_seed=seed,
        )
    if len(data.y_train) < batch_size or len(data.y_val) < 1:
        raise ConfigError(
            f"batch_size {batch_size} is larger than the training half ({len(data.y_train)})"
        )
    config = {
        "space": space,
        "method": method,
        "data": data.description,
        "epochs": int(epochs),
        "channels": int(channels),
        "cells_per_stage": int(cells_per_stage),
        "batch_size": int(batch_size),
        "w_lr": w_lr,
        "w_lr_min": w_lr_min,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "partial_channels": int(partial_channels),
        "eval_size": int(eval_size),
        "seed": int(seed),
        "method_options": options,
    }
    cell_space: SearchSpace
    if space == "darts":
        # N normal cells per stage and the 2 reduction cells between the 3 stages: N = 2
        # gives DARTS's 8-cell search network.
        cell_space = DartsSpace(channels, 3 * cells_per_stage + 2)
    else:
        cell_space = NB201Space(channels, cells_per_stage)
    with intra_op_threads(threads):
        result = _run(config, cell_space, data, out_dir, on_epoch)
        if retrain_epochs is not None:
            from archsearch.estimation.training import final_fit

            fit = final_fit(
                cell_space, result.arch, dataset, seed=seed, epochs=retrain_epochs,
                data_dir=None if data_dir is None else str(data_dir), threads=threads,
                checkpoint=None if out_dir is None else Path(out_dir) / "retrain.pt",
            )  # fmt: skip
            result.retrain = dict(fit.metrics)
            if out_dir is not None:
                _write_result(result, Path(out_dir))
    return result


def _run(
    config: dict[str, Any],
    space: SearchSpace,
    data: SearchData,
    out_dir: str | os.PathLike[str] | None,
    on_epoch: Callable[[dict[str, Any]], None] | None,
) -> OneShotResult:
    seed = config["seed"]
    # Module constructors draw from torch's global generator: fork it, so the caller's
    # state is untouched and the initial weights depend on the seed only.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        supernet: Supernet
        if isinstance(space, DartsSpace):
            supernet = DartsSupernet(
                data.num_classes,
                in_channels=data.x_train.shape[1],
                channels=config["channels"],
                cells=space.cells,
            )
        else:
            supernet = NB201Supernet(
                data.num_classes,
                in_channels=data.x_train.shape[1],
                channels=config["channels"],
                cells_per_stage=config["cells_per_stage"],
                partial_channels=config["partial_channels"],
            )
    method = make_method(config["method"], supernet, space, seed, config["method_options"])
    w_optimizer = torch.optim.SGD(
        supernet.parameters(),
        lr=config["w_lr"],
        momentum=config["momentum"],
        weight_decay=config["weight_decay"],
    )
    data_gen = torch.Generator().manual_seed(seed + 1)
    history: list[dict[str, Any]] = []
    start_epoch, seconds, stopped = 0, 0.0, False
    path = None if out_dir is None else Path(out_dir) / CHECKPOINT
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            state = torch.load(path, weights_only=True)
            _check_config(state["config"], config, path)
            supernet.load_state_dict(state["supernet"])
            w_optimizer.load_state_dict(state["w_optimizer"])
            method.load_state_dict(state["method"])
            data_gen.set_state(state["data_generator"])
            history = list(state["history"])
            start_epoch, seconds = int(state["epoch"]), float(state["seconds"])
            stopped = bool(state["stopped"])

    n_train, n_val, bs = len(data.y_train), len(data.y_val), config["batch_size"]
    per_epoch = n_train // bs
    total = config["epochs"] * per_epoch
    eval_x, eval_y = data.x_val[: config["eval_size"]], data.y_val[: config["eval_size"]]
    from archsearch.datasets.transforms import augment

    epoch = start_epoch
    while epoch < config["epochs"] and not stopped:
        started = time.perf_counter()
        order = torch.randperm(n_train, generator=data_gen)
        val_order = torch.randperm(n_val, generator=data_gen)
        loss_sum = 0.0
        step = epoch * per_epoch
        ctx = StepContext(epoch + 1, config["epochs"], 0.0, config["w_lr"])
        for b in range(per_epoch):
            idx = order[b * bs : (b + 1) * bs]
            vpos = (b * bs) % max(1, n_val - bs + 1)
            vidx = val_order[vpos : vpos + bs]
            xb = data.x_train[idx]
            if data.padding:
                xb = augment(xb, data.padding, data_gen)
            lr = _lr(config["w_lr"], config["w_lr_min"], step, total)
            for group in w_optimizer.param_groups:
                group["lr"] = lr
            ctx = StepContext(epoch + 1, config["epochs"], step / max(1, total), lr)
            batches = Batches(xb, data.y_train[idx], data.x_val[vidx], data.y_val[vidx])
            loss = method.train_step(batches, w_optimizer, ctx)
            if not math.isfinite(loss):
                raise RuntimeError(f"one-shot search diverged at epoch {epoch + 1}: loss {loss}")
            loss_sum += loss
            step += 1
        method.end_epoch(eval_x, eval_y, ctx)
        arch = method.epoch_arch(eval_x, eval_y)
        epoch += 1
        seconds += time.perf_counter() - started
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / max(1, per_epoch),
            "seconds": seconds,
            "arch": None if arch is None else space.describe(arch),
            **op_shares(arch),
            "cifar10_test": None if arch is None else nb201_lookup(space, arch).get("cifar10"),
            **method.describe(),
        }
        history.append(record)
        stopped = method.stop_early(arch)
        if path is not None:
            _save_atomic(
                {
                    "config": config,
                    "epoch": epoch,
                    "supernet": supernet.state_dict(),
                    "w_optimizer": w_optimizer.state_dict(),
                    "method": method.state_dict(),
                    "data_generator": data_gen.get_state(),
                    "history": history,
                    "seconds": seconds,
                    "stopped": stopped,
                },
                path,
            )
        if on_epoch is not None:
            on_epoch(record)

    started = time.perf_counter()
    arch = method.derive(eval_x, eval_y)
    seconds += time.perf_counter() - started
    space.validate(arch)
    result = OneShotResult(
        method=config["method"],
        arch=arch,
        arch_str=space.describe(arch),
        nb201_test=nb201_lookup(space, arch),
        history=history,
        search_seconds=seconds,
        peak_rss_mb=peak_rss_mb(),
        epochs_run=epoch,
        stopped_early=stopped,
        config=config,
        out_dir=None if out_dir is None else str(out_dir),
    )
    if out_dir is not None:
        _write_result(result, Path(out_dir))
    return result


def _write_result(result: OneShotResult, out_dir: Path) -> None:
    target = out_dir / "result.json"
    tmp = target.with_name("result.json.tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    os.replace(tmp, target)


def _check_config(stored: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    # JSON round trip: the checkpoint keeps tuples as lists and the like.
    stored_n = json.loads(json.dumps(stored, default=str))
    current_n = json.loads(json.dumps(current, default=str))
    for key in sorted(set(stored_n) | set(current_n)):
        if stored_n.get(key) != current_n.get(key):
            raise ConfigError(
                f"{path}: the checkpoint was made with {key}={stored_n.get(key)!r}, "
                f"this search has {key}={current_n.get(key)!r}; use another out_dir"
            )
