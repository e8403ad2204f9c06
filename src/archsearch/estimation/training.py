"""Training from scratch: the evaluator that real (non-tabular) searches rest on.

Each trial builds its network with `space.build(arch, task)` and trains it with a plain
PyTorch loop: SGD with Nesterov momentum (or Adam / AdamW), the learning rate annealed
by a cosine from `lr` to 0 over all steps (Loshchilov & Hutter, "SGDR: Stochastic
Gradient Descent with Warm Restarts", ICLR 2017, without restarts), cross-entropy loss.
The defaults are NAS-Bench-201's training protocol (Dong & Yang, ICLR 2020: SGD, lr 0.1,
momentum 0.9, Nesterov, weight decay 5e-4, cosine schedule). After every epoch the
validation accuracy goes to `ctx.reporter` (a scheduler may stop the trial there). The
cost metrics are measured on the network as built, before training (training changes
its weights, not its cost): parameters, FLOPs (PyTorch's own `FlopCounterMode`, which
counts a multiply-add as 2 FLOPs), estimated training memory and CPU latency (the
median of timed forward passes).

Low fidelity, as in Hyperband (Li et al., JMLR 2018) and BOHB (Falkner et al., ICML
2018), comes from three knobs: fewer epochs (or `ctx.resource`, set by a scheduler), a
fixed random fraction of the training data, and a lower input resolution.

Failure is a result, not a crash: a NaN, infinite or exploding loss, a network over a
limit (`max_params`, `max_flops`, `max_memory_mb` for the estimated training memory,
`max_latency_ms`; all checked on the untrained network, before any training), or an
out-of-memory error ends the trial FAILED with a message, and the study goes on (it
also turns any other exception into a FAILED trial).

Torch is imported lazily, inside the functions that train, so registering this
evaluator does not make `import archsearch` import torch.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core.errors import ConfigError, require_whole_numbers
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter, Result
from archsearch.estimation.base import EVALUATORS, Evaluator, TrialContext, resolve_space
from archsearch.estimation.loop import (
    FinalFit,
    TrainData,
    intra_op_threads,
    load_training,
    make_optimizer,
    save_training,
    score,
    seeded,
    train_epochs,
    train_trial,
)
from archsearch.nn.measure import (
    MB,
    count_flops,
    count_params,
    cpu_latency_ms,
    estimate_train_memory,
    is_out_of_memory,
)
from archsearch.space.base import SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from archsearch.datasets.base import Dataset, Split

OPTIMIZERS = ("sgd", "adam", "adamw")
_DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}


# --- the loop and its measurements ---------------------------------------------------------


# --- the evaluator ---------------------------------------------------------------------------


@EVALUATORS.register("train")
class TrainingEvaluator(Evaluator):
    """Scores an architecture by training it from scratch and measuring it.

    Metrics: `val_acc` (percent, after the last epoch; the search signal), `val_loss`,
    `train_loss`, `epochs`, `params`, `flops` (one sample at the trial's resolution),
    `latency_ms` (CPU, median over `latency_repeats` forward passes at `latency_batch`),
    `memory_mb` (estimated training memory, see `estimate_train_memory`) and
    `train_seconds`. `Result.cost` is the trial's wall seconds. The cost metrics are
    measured on the untrained network (training changes weights, not cost), so limits
    refuse a network before it trains and a PRUNED trial carries them too.

    Determinism: with the same `ctx.seed` (and thread count) a trial gives the same
    weights and metrics. Weight initialisation and dropout draw from torch's global
    generator (module constructors take no generator), so the trial runs inside
    `torch.random.fork_rng`, seeds the global generator there, and leaves the caller's
    RNG state exactly as it was; batch order and augmentation use a private
    `torch.Generator`. (Two trials in threads of one process would share that global
    generator: run parallel trials in processes.)

    The validation split is fixed by `split_seed` (give it the study seed), so all
    trials of a study see the same one; `split_record()` returns what to store. It is
    scored in batches of `eval_batch_size` (256: on a CPU, batches of 1,024 fall out of
    cache and run about half as fast per image).
    `ctx.resource`, when a scheduler sets it, is the number of epochs; the cosine
    schedule spans `ctx.horizon` (the scheduler's largest resource) when given. Under a
    multi-fidelity scheduler each trial saves a checkpoint (`save_checkpoint`) and a
    promoted trial continues from its parent's (`load_checkpoint`): it trains only the
    epochs it adds, and is charged only for them. The data is loaded and prepared once per evaluator
    and is not charged to any trial's cost.
    """

    metric = "val_acc"
    mode = "max"

    def __init__(
        self,
        dataset: str | Dataset = "digits",
        *,
        space: SearchSpace | str | None = None,
        data_dir: str | None = None,
        epochs: int = 10,
        batch_size: int = 128,
        optimizer: str = "sgd",
        lr: float | None = None,
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        grad_clip: float | None = None,
        data_fraction: float = 1.0,
        resolution: int | None = None,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        threads: int = 1,
        device: str = "auto",
        precision: str = "fp32",
        max_params: int | None = None,
        max_flops: float | None = None,
        max_memory_mb: float | None = None,
        max_latency_ms: float | None = None,
        diverge_factor: float | None = 100.0,
        latency_batch: int = 1,
        latency_repeats: int = 20,
        eval_batch_size: int = 256,
        final_epochs: int | None = None,
        augment: bool | None = None,
    ) -> None:
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: choose one of {list(OPTIMIZERS)}, not {optimizer!r}")
        require_whole_numbers(
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "threads": threads,
                "latency_batch": latency_batch,
                "latency_repeats": latency_repeats,
                "eval_batch_size": eval_batch_size,
                "final_epochs": final_epochs,
            }
        )
        if not 0.0 < data_fraction <= 1.0:
            raise ConfigError(f"data_fraction must be in (0, 1], got {data_fraction}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if resolution is not None and (int(resolution) != resolution or resolution < 1):
            raise ConfigError(f"resolution must be a whole number of pixels, got {resolution!r}")
        if lr is not None and not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"lr must be > 0, got {lr}")
        limits = {
            "max_params": max_params,
            "max_flops": max_flops,
            "max_memory_mb": max_memory_mb,
            "max_latency_ms": max_latency_ms,
        }
        for key, limit in limits.items():
            if limit is not None and not limit > 0:
                raise ConfigError(f"{key} must be > 0, got {limit}")
        if not str(device).startswith(("auto", "cpu", "cuda", "mps")):
            raise ConfigError(f"device: choose auto, cpu, cuda[:N] or mps, not {device!r}")
        self._dataset_arg = dataset
        self.space = get_space(space) if isinstance(space, str) else space
        self.data_dir = data_dir
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.optimizer = optimizer
        self.lr = float(lr) if lr is not None else _DEFAULT_LR[optimizer]
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.data_fraction = float(data_fraction)
        self.resolution = None if resolution is None else int(resolution)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.threads = int(threads)
        self.device_name = str(device)
        self._device: str | None = None
        self.precision = str(precision)
        self.max_params = max_params
        self.max_flops = max_flops
        self.max_memory_mb = max_memory_mb
        self.max_latency_ms = max_latency_ms
        self.diverge_factor = diverge_factor
        self.latency_batch = int(latency_batch)
        self.latency_repeats = int(latency_repeats)
        self.eval_batch_size = int(eval_batch_size)
        self.final_epochs = None if final_epochs is None else int(final_epochs)
        # Random crop and flip while training: the dataset's default (on for CIFAR) unless
        # set here (e.g. on for Fashion-MNIST).
        self.augment = augment
        self._dataset: Dataset | None = None if isinstance(dataset, str) else dataset
        self._split: Split | None = None
        self._data: TrainData | None = None
        self._spaces: dict[str, SearchSpace] = {}

    # --- data ------------------------------------------------------------------------------
    @property
    def dataset(self) -> Dataset:
        """The dataset, loaded on first use (local files first, then a download)."""
        if self._dataset is None:
            from archsearch.datasets import load_dataset

            assert isinstance(self._dataset_arg, str)
            self._dataset = load_dataset(self._dataset_arg, data_dir=self.data_dir)
        return self._dataset

    @property
    def split(self) -> Split:
        if self._split is None:
            self._split = self.dataset.split(self.split_seed, self.val_fraction)
        return self._split

    @property
    def device(self) -> str:
        """The torch device trials train on: `device` ("auto", "cpu", "cuda", "mps")
        resolved on first use, so that building the evaluator imports no torch."""
        if self._device is None:
            from archsearch.nn.device import check_precision, resolve_device

            self._device = resolve_device(self.device_name)
            check_precision(self.precision, self._device)
        return self._device

    def split_record(self) -> dict[str, Any]:
        """The train/validation split as a record to store with the study."""
        return {"dataset": self.dataset.name, **self.split.record()}

    def train_data(self) -> TrainData:
        """The search-time tensors (prepared once, then shared by every trial): the
        first `data_fraction` of the seeded training indices and the whole validation
        split, normalised with the per-channel statistics of the training split, resized
        to `resolution`, on `device`."""
        if self._data is None:
            self._data = self._prepare(
                self.split.train, self.split.val, self.split.train, test=False
            )
        return self._data

    def _prepare(
        self,
        train_idx: torch.Tensor | None,
        eval_idx: torch.Tensor | None,
        stats_idx: torch.Tensor | None,
        *,
        test: bool,
    ) -> TrainData:
        from archsearch.datasets.transforms import normalize, resize

        ds = self.dataset
        if not test and train_idx is not None and self.data_fraction < 1.0:
            train_idx = train_idx[: max(1, math.ceil(self.data_fraction * len(train_idx)))]
        mean, std = ds.stats(stats_idx)
        resolution = None if test else self.resolution

        def prep(x: torch.Tensor) -> torch.Tensor:
            x = normalize(x, mean, std)
            return (x if resolution is None else resize(x, resolution)).to(self.device)

        x_train = ds.x_train if train_idx is None else ds.x_train[train_idx]
        y_train = ds.y_train if train_idx is None else ds.y_train[train_idx]
        if test:
            if ds.x_test is None or ds.y_test is None:
                raise ConfigError(f"dataset {ds.name!r} has no test split to evaluate on")
            x_eval, y_eval = ds.x_test, ds.y_test
        else:
            assert eval_idx is not None
            x_eval, y_eval = ds.x_train[eval_idx], ds.y_train[eval_idx]
        task = ds.task(resolution)
        # CIFAR's 4 pixels of padding at 32 px, scaled with the resolution.
        augment = ds.augment if self.augment is None else self.augment
        padding = max(1, round(task.input_shape[-1] / 8)) if augment else 0
        return TrainData(
            prep(x_train),
            y_train.to(self.device),
            prep(x_eval),
            y_eval.to(self.device),
            task,
            padding,
        )

    # --- trials ----------------------------------------------------------------------------
    def space_of(self, arch: Architecture) -> SearchSpace:
        """The space that builds `arch`: the one given, else the registered one it names."""
        return resolve_space(self.space, self._spaces, arch)

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        space = self.space_of(arch)
        space.validate(arch)
        data = self.train_data()  # loaded once per evaluator: not charged to this trial
        start = time.perf_counter()
        epochs = self.epochs if ctx.resource is None else max(1, round(ctx.resource))
        horizon = epochs if ctx.horizon is None else max(epochs, round(ctx.horizon))
        metrics: dict[str, float] = {}

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            val_loss, val_acc = score(model, data.x_eval, data.y_eval, self.eval_batch_size)
            metrics.update(val_acc=val_acc, val_loss=val_loss, train_loss=train_loss, epochs=epoch)
            metrics["train_seconds"] = metrics.get("train_seconds", 0.0) + seconds
            ctx.reporter.report(
                epoch, {"val_acc": val_acc, "val_loss": val_loss, "train_loss": train_loss}
            )

        with self._trial_rng(ctx.seed) as generator, intra_op_threads(self.threads):
            try:
                model = space.build(arch, data.task)
                refused = self._check_limits(model, data, metrics)
                if refused is not None:
                    return Result.failed(refused, cost=time.perf_counter() - start)
                model.to(self.device)
                optimizer = self._optimizer(model)

                def train(first_epoch: int) -> None:
                    train_epochs(
                        model,
                        data,
                        optimizer,
                        epochs=epochs,
                        batch_size=self.batch_size,
                        lr=self.lr,
                        generator=generator,
                        grad_clip=self.grad_clip,
                        diverge_factor=self.diverge_factor,
                        on_epoch=on_epoch,
                        first_epoch=first_epoch,
                        schedule_epochs=horizon,
                        precision=self.precision,
                    )

                stopped = train_trial(
                    ctx, model, optimizer, generator, train, epochs, metrics, start
                )
                if stopped is not None:
                    return stopped
            except Exception as e:
                if is_out_of_memory(e):
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    return Result.failed(
                        f"out of memory: {first}", cost=time.perf_counter() - start
                    )
                raise
        if "val_acc" not in metrics:  # promoted to no more epochs than its parent had
            _, metrics["val_acc"] = score(model, data.x_eval, data.y_eval, self.eval_batch_size)
        return Result.complete(metrics, cost=time.perf_counter() - start)

    def final_fit(
        self,
        arch: Architecture,
        *,
        seed: int = 0,
        epochs: int | None = None,
        reporter: Reporter | None = None,
        checkpoint: Path | None = None,
    ) -> FinalFit:
        """Retrain `arch` at full fidelity (all training data, i.e. train + validation,
        at the native resolution) and score it once on the test split.

        With a `checkpoint` file the training state is saved after every epoch, and a
        fit started again with the same file continues after the last saved epoch: a
        killed final training loses no finished epoch, and ends as one run straight
        through would.

        `epochs` defaults to `final_epochs`, else `epochs`. The test set is never looked
        at during training; `reporter` (if given) receives each epoch's training loss.
        Raises `TrainingDiverged` if the loss diverges. The search-time tensors are freed
        first (the search is over; `evaluate` would prepare them again).
        """
        start = time.perf_counter()
        space = self.space_of(arch)
        space.validate(arch)
        self._data = None
        data = self._prepare(None, None, None, test=True)
        n_epochs = epochs or self.final_epochs or self.epochs
        history: list[dict[str, float]] = []

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds})
            if reporter is not None:
                reporter.report(epoch, {"train_loss": train_loss})

        with self._trial_rng(seed) as generator, intra_op_threads(self.threads):
            model = space.build(arch, data.task).to(self.device)
            optimizer = self._optimizer(model)
            done = 0
            if checkpoint is not None and checkpoint.exists():
                done, history[:] = load_training(checkpoint, model, optimizer, generator)

            def save(epoch: int, train_loss: float, seconds: float) -> None:
                on_epoch(epoch, train_loss, seconds)
                if checkpoint is not None:
                    save_training(checkpoint, model, optimizer, generator, epoch, history)

            train_loss = train_epochs(
                model,
                data,
                optimizer,
                epochs=n_epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                generator=generator,
                grad_clip=self.grad_clip,
                diverge_factor=self.diverge_factor,
                on_epoch=save,
                first_epoch=done + 1,
                schedule_epochs=n_epochs,
                precision=self.precision,
            )
            if done >= n_epochs:  # trained to the end before a kill: the saved loss
                train_loss = history[-1]["train_loss"]
            test_loss, test_acc = score(model, data.x_eval, data.y_eval, self.eval_batch_size)
            metrics = {"test_acc": test_acc, "test_loss": test_loss, "train_loss": train_loss}
            metrics["epochs"] = n_epochs
            metrics["params"] = count_params(model)
            metrics.update(self._cost_metrics(model, data))
        import torch

        mean, std = self.dataset.stats()  # of all training data, as `_prepare(test=True)`
        preprocess = {
            "scale": 1 / 255 if self.dataset.x_train.dtype == torch.uint8 else 1.0,
            "mean": mean.tolist(),
            "std": std.tolist(),
        }
        cost = time.perf_counter() - start
        return FinalFit(model.cpu().eval(), metrics, cost, history, preprocess)

    # --- helpers ---------------------------------------------------------------------------
    def _trial_rng(self, seed: int) -> AbstractContextManager[torch.Generator]:
        return seeded(seed, self.device)

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return make_optimizer(
            self.optimizer,
            model.parameters(),
            self.lr,
            self.momentum,
            self.nesterov,
            self.weight_decay,
        )

    def _optimizer_states(self) -> int:
        if self.optimizer == "sgd":
            return 1 if self.momentum > 0 else 0
        return 2

    def _check_limits(
        self, model: nn.Module, data: TrainData, metrics: dict[str, float]
    ) -> str | None:
        """Measure the untrained network (parameters, FLOPs, estimated training memory,
        CPU latency: none of them changes with training) into `metrics`, cheapest first;
        a message naming the first limit it exceeds, else None."""
        params = count_params(model)
        metrics["params"] = params
        if self.max_params is not None and params > self.max_params:
            return f"network has {params:,} parameters, over max_params={self.max_params:,}"
        metrics.update(self._cost_metrics(model, data, latency=False))
        if self.max_flops is not None and metrics["flops"] > self.max_flops:
            return f"network needs {metrics['flops']:,.0f} FLOPs, over max_flops={self.max_flops:g}"
        probe = data.x_train[: max(2, min(4, self.batch_size))].cpu()
        memory = estimate_train_memory(model, probe, self.batch_size, self._optimizer_states())
        metrics["memory_mb"] = memory / MB
        if self.max_memory_mb is not None and memory / MB > self.max_memory_mb:
            return (
                f"estimated training memory {memory / MB:,.1f} MB at batch size "
                f"{self.batch_size} is over max_memory_mb={self.max_memory_mb:g}"
            )
        metrics.update(self._cost_metrics(model, data, flops=False))
        if self.max_latency_ms is not None and metrics["latency_ms"] > self.max_latency_ms:
            return (
                f"CPU latency {metrics['latency_ms']:.3g} ms at batch {self.latency_batch} is "
                f"over max_latency_ms={self.max_latency_ms:g}"
            )
        return None

    def _cost_metrics(
        self, model: nn.Module, data: TrainData, *, flops: bool = True, latency: bool = True
    ) -> dict[str, float]:
        """FLOPs of one sample and CPU latency at `latency_batch` (a CPU copy of a model
        that lives on another device)."""
        on_cpu = next(model.parameters(), None) is None or next(model.parameters()).is_cpu
        cpu_model = model if on_cpu else copy.deepcopy(model).cpu()
        one = data.x_eval[:1].cpu()
        out: dict[str, float] = {}
        if flops:
            out["flops"] = count_flops(cpu_model, one)
        if latency:
            batch = data.x_eval[: self.latency_batch].cpu()
            if len(batch) < self.latency_batch:  # a tiny eval set: repeat its first image
                batch = one.expand(self.latency_batch, *one.shape[1:]).contiguous()
            out["latency_ms"] = cpu_latency_ms(cpu_model, batch, self.latency_repeats)
        return out

    def supports(self, space: SearchSpace) -> bool:
        """Spaces that can build image networks (override `SearchSpace.build`)."""
        return space.builds_networks and space.modality == "image"

    def describe(self) -> dict[str, Any]:
        name = self._dataset_arg if isinstance(self._dataset_arg, str) else self._dataset_arg.name
        return {
            "dataset": name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            "data_fraction": self.data_fraction,
            "resolution": self.resolution,
            "val_fraction": self.val_fraction,
            "split_seed": self.split_seed,
            "threads": self.threads,
            "device": self.device_name,
            "precision": self.precision,
            "max_params": self.max_params,
            "max_flops": self.max_flops,
            "max_memory_mb": self.max_memory_mb,
            "max_latency_ms": self.max_latency_ms,
        }

    def __getstate__(self) -> dict[str, Any]:
        # Sent to a worker process: drop the tensors when the worker can load them itself.
        state = self.__dict__.copy()
        if isinstance(self._dataset_arg, str):
            state.update(_dataset=None, _split=None, _data=None)
        else:
            state["_data"] = None
        return state


def final_fit(
    space: SearchSpace,
    arch: Architecture,
    dataset: str | Dataset,
    *,
    seed: int = 0,
    epochs: int | None = None,
    reporter: Reporter | None = None,
    checkpoint: Path | None = None,
    **settings: Any,
) -> FinalFit:
    """Retrain `arch` on all of `dataset`'s training data and score it on its test split
    (see `TrainingEvaluator.final_fit`; `settings` are the evaluator's options)."""
    evaluator = TrainingEvaluator(dataset, space=space, **settings)
    return evaluator.final_fit(
        arch, seed=seed, epochs=epochs, reporter=reporter, checkpoint=checkpoint
    )
