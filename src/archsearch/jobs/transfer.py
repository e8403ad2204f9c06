"""Search small, transfer large: Zoph, Vasudevan, Shlens and Le, "Learning Transferable
Architectures for Scalable Image Recognition", CVPR 2018 (NASNet).

NASNet searches a normal and a reduction cell on a cheap proxy (a network of few cells and
filters, trained briefly), then stacks more copies of the winning cells with more
filters and trains that network on the target task with ScheduledDropPath (each path
of a cell dropped with a probability that rises linearly over training). Here:

1. search the `darts` cell space (the NASNet/DARTS normal + reduction cells) at proxy
   size (`proxy_cells`, `proxy_channels`) with any registered strategy, each candidate
   trained for `proxy_epochs` on `data_fraction` of the training split and scored on
   the validation split (the ordinary `TrainingEvaluator`);
2. build the winner at target size (`target_cells`, `target_channels`), train it on all
   training data for `target_epochs` with ScheduledDropPath up to `drop_path_prob`,
   and score it once on the test split.

`search_and_transfer` returns the proxy and the target accuracy together;
`archsearch transfer ...` (`add_parser` / `main`) is the same from the command line.
A hand-designed baseline (`RESNET_STYLE`, a chain of residual units) can be trained with
the very target protocol in the same call, so the transferred cell has a yardstick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime
from archsearch.space.darts import DartsSpace
from archsearch.study.folder import StudyFolder

if TYPE_CHECKING:  # pragma: no cover
    from archsearch.datasets.base import Dataset

Log = Callable[[str], None]

#: A hand-designed ResNet-style cell pair in the darts space: every node adds a separable
#: convolution of the previous node to that node itself (a residual unit, He et al.,
#: CVPR 2016), four units in a chain; the reduction cell's first unit reads the previous
#: cell with stride 2 (the skip becomes a factorized reduce, as a projection shortcut).
RESNET_STYLE: tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = (
    (
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
        ("sep_conv_3x3", 2),
        ("skip_connect", 2),
        ("sep_conv_3x3", 3),
        ("skip_connect", 3),
        ("sep_conv_3x3", 4),
        ("skip_connect", 4),
    ),
) * 2


def _positive(name: str, value: Any) -> int:
    if int(value) != value or value < 1:
        raise ConfigError(f"transfer: {name} must be a whole number >= 1, got {value!r}")
    return int(value)


def train_target(
    space: DartsSpace,
    arch: Architecture,
    dataset: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 3e-4,
    seed: int = 0,
    threads: int = 1,
    augment: bool | None = None,
    checkpoint: Path | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train `arch` built by `space` on all of `dataset`'s training images with
    ScheduledDropPath (epoch e, counted from 0, drops paths with probability
    `space.drop_path_prob * e / epochs`, as NASNet and DARTS) and SGD with a cosine
    learning rate; score it once on the test split. Returns test accuracy (percent) and
    loss, final training loss, parameters, wall seconds, and `drop_path_schedule`, the
    probability each epoch trained with. With a `checkpoint` file the training state
    (drop-path generator included) is saved after every epoch and a call with the same
    file continues after the last saved epoch, as one run straight through would."""
    import torch

    from archsearch.core.atomic import atomic_write
    from archsearch.datasets.transforms import normalize
    from archsearch.estimation.loop import (
        TrainData,
        intra_op_threads,
        load_training,
        make_optimizer,
        save_training,
        score,
        train_epochs,
    )
    from archsearch.nn.darts import DartsNetwork
    from archsearch.nn.measure import count_params

    if dataset.x_test is None or dataset.y_test is None:
        raise ConfigError(f"transfer: dataset {dataset.name!r} has no test split to score on")
    start = time.perf_counter()
    mean, std = dataset.stats()
    task = dataset.task()
    use_augment = dataset.augment if augment is None else augment
    padding = max(1, round(task.input_shape[-1] / 8)) if use_augment else 0
    data = TrainData(
        normalize(dataset.x_train, mean, std).to(device),
        dataset.y_train.to(device),
        normalize(dataset.x_test, mean, std).to(device),
        dataset.y_test.to(device),
        task,
        padding,
    )
    with torch.random.fork_rng(devices=[]), intra_op_threads(threads):
        torch.manual_seed(seed)  # weight initialisation; the caller's RNG state comes back
        generator = torch.Generator().manual_seed(seed)
        model = space.build(arch, task).to(device)
        assert isinstance(model, DartsNetwork)
        model.seed_drop_path(seed)
        optimizer = make_optimizer(
            "sgd", model.parameters(), lr, momentum, nesterov=False, weight_decay=weight_decay
        )
        history: list[dict[str, float]] = []
        done = 0
        if checkpoint is not None and checkpoint.exists():
            done, history = load_training(checkpoint, model, optimizer, generator)
            assert model.generator is not None
            model.generator.set_state(torch.load(drop_state(checkpoint), weights_only=True))
        # Epoch 1 trains without drop path, each later one with the schedule's probability
        # (setting it is a side effect of `schedule_drop_path`, so a resumed run goes on
        # at the probability it stopped at).
        schedule = [0.0, *(model.schedule_drop_path(e / epochs) for e in range(1, done + 1))]

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds})
            if epoch < epochs:  # the probability for the next epoch
                schedule.append(model.schedule_drop_path(epoch / epochs))
            if checkpoint is not None:
                assert model.generator is not None
                drop = model.generator.get_state()
                atomic_write(drop_state(checkpoint), lambda tmp: torch.save(drop, tmp))
                save_training(checkpoint, model, optimizer, generator, epoch, history)

        train_loss = train_epochs(
            model,
            data,
            optimizer,
            epochs=epochs,
            batch_size=min(batch_size, len(data.y_train)),
            lr=lr,
            generator=generator,
            grad_clip=5.0,  # DARTS' evaluation setting
            on_epoch=on_epoch,
            first_epoch=done + 1,
        )
        if done >= epochs:
            train_loss = history[-1]["train_loss"]
        test_loss, test_acc = score(model, data.x_eval, data.y_eval)
    return {
        "test_acc": test_acc,
        "test_loss": test_loss,
        "train_loss": train_loss,
        "params": float(count_params(model)),
        "seconds": time.perf_counter() - start,
        "drop_path_schedule": schedule[:epochs],
    }


def drop_state(checkpoint: Path) -> Path:
    """The drop-path generator's state, beside the training checkpoint."""
    return checkpoint.with_name(checkpoint.stem + ".drop.pt")


def search_and_transfer(
    dataset: str = "digits",
    *,
    data_dir: str | None = None,
    strategy: str = "re",
    strategy_options: dict[str, Any] | None = None,
    trials: int = 10,
    proxy_cells: int = 5,
    proxy_channels: int = 8,
    proxy_epochs: int = 3,
    data_fraction: float = 0.5,
    val_fraction: float = 0.2,
    target_cells: int = 8,
    target_channels: int = 16,
    target_epochs: int = 10,
    drop_path_prob: float = 0.2,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
    threads: int = 1,
    baseline: bool = False,
    device: str = "auto",
    log: Log | None = None,
    folder: StudyFolder | None = None,
) -> dict[str, Any]:
    """NASNet's workflow in one call: search cells on the proxy, train the winner at
    target size with ScheduledDropPath, report both accuracies.

    Returns a dict: `genotype` and `architecture` (DARTS text) of the winner,
    `proxy_val_acc` (its validation accuracy at proxy size, the search signal),
    `proxy_trials`, `search_seconds`, `target_test_acc` (test accuracy at target size),
    `target_params`, `target_seconds`, the proxy and target settings, and with
    `baseline=True` also `baseline_test_acc` / `baseline_params` / `baseline_seconds`
    (the hand-designed `RESNET_STYLE` cells trained with the same target protocol).

    In a `folder` (opened by the transfer job) the search is a study in its database
    and each training saves its epochs under `checkpoints/`: a killed call started
    again continues where it stopped.
    """
    from archsearch.datasets import load_dataset
    from archsearch.estimation.training import TrainingEvaluator
    from archsearch.storage.memory import InMemoryStorage
    from archsearch.strategies.base import STRATEGIES
    from archsearch.study import Study

    trials = _positive("trials", trials)
    target_epochs = _positive("target_epochs", target_epochs)
    for name, value in (
        ("proxy_cells", proxy_cells),
        ("proxy_channels", proxy_channels),
        ("proxy_epochs", proxy_epochs),
        ("target_cells", target_cells),
        ("target_channels", target_channels),
    ):
        _positive(name, value)
    if proxy_cells >= target_cells and proxy_channels >= target_channels:
        raise ConfigError(
            f"transfer: the target network ({target_cells} cells, {target_channels} channels) "
            f"should be larger than the proxy ({proxy_cells} cells, {proxy_channels} channels)"
        )
    say = log or (lambda message: None)
    data = load_dataset(dataset, data_dir=data_dir)
    # The proxy trains without drop path (NASNet's search-time child networks).
    proxy_options = {"channels": proxy_channels, "cells": proxy_cells, "drop_path_prob": 0.0}
    proxy = DartsSpace(**proxy_options)  # type: ignore[arg-type]
    training: dict[str, Any] = {
        "epochs": proxy_epochs,
        "batch_size": batch_size,
        "lr": lr,
        "data_fraction": data_fraction,
        "val_fraction": val_fraction,
        "split_seed": seed,
        "threads": threads,
        "device": device,
        "latency_repeats": 1,
        "grad_clip": 5.0,
    }
    evaluator = TrainingEvaluator(data, space=proxy, **training)
    search = STRATEGIES.get(strategy)(proxy, seed=seed, **(strategy_options or {}))
    storage = InMemoryStorage() if folder is None else folder.storage
    if folder is not None:  # what status, export and report read
        config: dict[str, Any] = {"space": "darts", "space_options": proxy_options}
        config["strategy"] = strategy
        options = {"dataset": dataset, "data_dir": data_dir, **training}
        config |= {"strategy_options": strategy_options or {}, "evaluator": "train"}
        config |= {"evaluator_options": options, "seed": seed}
        storage.set_meta("config", config)
        storage.set_meta("budget", f"{trials}trials")
    checkpoints = None if folder is None else folder.checkpoints
    study = Study(proxy, search, storage, seed=seed, checkpoint_dir=checkpoints)
    say(
        f"proxy search: {trials} x {strategy} on {dataset}, {proxy_cells} cells x "
        f"{proxy_channels} channels, {proxy_epochs} epochs on {data_fraction:.0%} of the data"
    )
    started = time.perf_counter()
    study.optimize(evaluator, budget=f"{trials}trials")
    search_seconds = time.perf_counter() - started
    if not study.completed():
        errors = {t.error for t in study.trials if t.error}
        raise ConfigError(f"transfer: no proxy trial completed ({'; '.join(sorted(errors))})")
    best = study.best()
    proxy_acc = float(best.metrics["val_acc"])
    say(f"proxy winner: val {proxy_acc:.2f} % {proxy.describe(best.arch)}")

    target = DartsSpace(channels=target_channels, cells=target_cells, drop_path_prob=drop_path_prob)
    arch = best.arch  # the same genotype: only the build options differ
    target.validate(arch)
    protocol: dict[str, Any] = {
        "epochs": target_epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
    }
    say(
        f"target: {target_cells} cells x {target_channels} channels, {target_epochs} epochs, "
        f"ScheduledDropPath to {drop_path_prob}"
    )
    fit = train_target(
        target, arch, data, threads=threads, checkpoint=_file(checkpoints, "target.pt"),
        device=evaluator.device, **protocol,
    )  # fmt: skip
    say(f"target test accuracy {fit['test_acc']:.2f} % ({fit['seconds']:.0f} s)")
    result: dict[str, Any] = {
        "dataset": dataset,
        "strategy": strategy,
        "genotype": arch.to_dict(),
        "architecture": target.describe(arch),
        "proxy_trials": len(study.trials),
        "proxy_val_acc": proxy_acc,
        "search_seconds": search_seconds,
        "proxy": {
            "cells": proxy_cells,
            "channels": proxy_channels,
            "epochs": proxy_epochs,
            "data_fraction": data_fraction,
        },
        "target": {
            "cells": target_cells,
            "channels": target_channels,
            "drop_path_prob": drop_path_prob,
            **protocol,
        },
        "target_test_acc": fit["test_acc"],
        "target_params": fit["params"],
        "target_seconds": fit["seconds"],
        "drop_path_schedule": fit["drop_path_schedule"],
    }
    if baseline:
        hand = target.from_cells(*RESNET_STYLE)
        base = train_target(
            target, hand, data, threads=threads, checkpoint=_file(checkpoints, "baseline.pt"),
            device=evaluator.device, **protocol,
        )  # fmt: skip
        say(f"ResNet-style baseline test accuracy {base['test_acc']:.2f} %")
        result.update(
            baseline_test_acc=base["test_acc"],
            baseline_params=base["params"],
            baseline_seconds=base["seconds"],
        )
    return result


def _file(folder: Path | None, name: str) -> Path | None:
    return None if folder is None else folder / name


class TransferConfig(JobConfig):
    """What `archsearch transfer` does."""

    dataset: str = Field("digits", description="digits, mnist, fashion-mnist, cifar10")
    data_dir: str | None = Field(None, description="folder with the dataset files")
    strategy: str = Field("re", description="any registered strategy (re, random, ...)")
    strategy_options: dict[str, Any] = Field(default_factory=dict, description="strategy setting")
    trials: int = Field(10, ge=1, description="proxy candidates to train")
    proxy_cells: int = Field(5, ge=1, description="cells of the proxy network")
    proxy_channels: int = Field(8, ge=1, description="channels of the proxy network")
    proxy_epochs: int = Field(3, ge=1, description="epochs per proxy candidate")
    data_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="share of the proxy's training split"
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share held out for validation")
    target_cells: int = Field(8, ge=1, description="cells of the target network")
    target_channels: int = Field(16, ge=1, description="channels of the target network")
    target_epochs: int = Field(10, ge=1, description="epochs of the target training")
    drop_path_prob: float = Field(0.2, ge=0.0, lt=1.0, description="ScheduledDropPath's final")
    batch_size: int = Field(64, ge=1, description="batch size")
    lr: float = Field(0.05, gt=0.0, description="learning rate")
    threads: int = Field(1, ge=1, description="CPU threads")
    seed: int = Field(0, description="seed of the search, the splits and the training")
    baseline: bool = Field(False, description="also train the ResNet-style cells")
    device: str = Field("auto", description="auto, cpu, cuda[:N] or mps")


def transfer(config: TransferConfig, folder: StudyFolder, runtime: Runtime) -> dict[str, Any]:
    return search_and_transfer(
        **config.model_dump(exclude={"dataset"}), dataset=config.dataset, log=runtime.log,
        folder=folder,
    )  # fmt: skip


JOBS.add(
    "transfer",
    Job(
        "transfer",
        TransferConfig,
        transfer,
        help="NASNet: search cells on a small proxy, train them stacked larger on the target",
        folder=lambda c: Path("runs") / f"transfer-{Path(c.dataset).stem}-{c.strategy}-s{c.seed}",
    ),
)
