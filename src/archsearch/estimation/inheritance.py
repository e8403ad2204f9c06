"""Weight inheritance by network morphism: a child one morph away from a network already
trained starts from that network's weights and trains for a few epochs instead of from
scratch.

This is the estimation half of Auto-Keras (Jin, Song and Hu, "Auto-Keras: An Efficient
Neural Architecture Search System", KDD 2019), following Net2Net (Chen, Goodfellow and
Shlens, ICLR 2016) and network morphism (Wei et al., ICML 2016); Elsken, Metzen and
Hutter ("Simple and efficient architecture search for convolutional neural networks",
ICLR 2018 workshop) train morphed children briefly in the same way. The morphisms and
the weight mapping live in `archsearch.space.morphism`; this evaluator keeps every
trained network's weights in a directory and, for each new architecture, looks there for
a parent one morph away.

Training reuses `TrainingEvaluator` (its data preparation, `train_epochs` loop, `score`,
limits and RNG handling): only the way the network is made differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Pruned, Result, TrialState
from archsearch.estimation.base import EVALUATORS, TrialContext
from archsearch.estimation.loop import (
    TrainData,
    TrainingDiverged,
    intra_op_threads,
    score,
    train_epochs,
)
from archsearch.estimation.training import TrainingEvaluator
from archsearch.nn.measure import is_out_of_memory
from archsearch.nn.morph import morph_module
from archsearch.space.capabilities import LayerwiseSpace
from archsearch.space.morphism import MORPH_KINDS, Morph, one_morph_away

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from archsearch.datasets.base import Dataset


@dataclass(frozen=True)
class StoredNetwork:
    """One trained network in the weights directory."""

    key: str
    arch: Architecture
    trial: int
    val_acc: float
    epochs: int


def arch_key(arch: Architecture) -> str:
    """A file-name-safe key of a genotype: SHA-256 of its JSON (first 20 hex digits)."""
    return hashlib.sha256(arch.to_json().encode()).hexdigest()[:20]


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same directory, then `os.replace`: a reader
    (or a crash) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@EVALUATORS.register("inherit")
class InheritanceEvaluator(TrainingEvaluator):
    """Training with weight inheritance across network morphisms (chain space).

    Every COMPLETE trial's trained weights are saved in `weights_dir` (`<key>.pt`, with a
    `<key>.json` record written after it; both atomically). When an architecture is one
    morph (`archsearch.space.morphism`) away from a stored network, the child is built
    with the parent's morphed weights (the same function as the trained parent) and
    trained for `inherit_epochs` at learning rate `inherit_lr` (default: `lr` / 10) instead of
    `epochs` from scratch. With several stored parents, the best by `val_acc` is used.
    A widened layer's copies split their outgoing weights unequally (`split_noise`, see
    `morph_module`), so that training separates them; the function is still preserved.

    Extra metrics: `inherited` (1 or 0), `inherited_from` (the parent's trial number, -1
    without a parent), `morph` (index into `MORPH_KINDS`, -1 without), and
    `val_acc_inherited` (the child's validation accuracy before any training: equal to
    the parent's, since the morph preserves the function). `epochs` counts the epochs
    this trial trained. Architectures of other spaces train from scratch as with
    "train". `weights_dir` defaults to a fresh temporary directory.
    """

    def __init__(
        self,
        dataset: str | Dataset = "digits",
        *,
        weights_dir: str | os.PathLike[str] | None = None,
        inherit_epochs: int = 3,
        inherit_lr: float | None = None,
        calibration_size: int = 256,
        split_noise: float = 0.1,
        **settings: Any,
    ) -> None:
        super().__init__(dataset, **settings)
        if int(inherit_epochs) != inherit_epochs or inherit_epochs < 1:
            raise ConfigError(f"inherit_epochs must be a whole number >= 1, got {inherit_epochs!r}")
        if inherit_lr is not None and not inherit_lr > 0:
            raise ConfigError(f"inherit_lr must be > 0, got {inherit_lr}")
        if int(calibration_size) != calibration_size or calibration_size < 0:
            raise ConfigError(
                f"calibration_size must be a whole number >= 0, got {calibration_size!r}"
            )
        self.inherit_epochs = int(inherit_epochs)
        # A tenth of the from-scratch rate by default: restarting at the full rate throws
        # away much of what the parent learnt (benchmarks/results/morphism_inheritance.md:
        # on Fashion-MNIST children regained their parent's accuracy in 1.33 epochs on
        # average at lr 0.01, 2.58 at lr 0.1, 3.25 from scratch).
        self.inherit_lr = self.lr / 10.0 if inherit_lr is None else float(inherit_lr)
        self.calibration_size = int(calibration_size)
        if not 0.0 <= split_noise < 1.0:
            raise ConfigError(f"split_noise must be in [0, 1), got {split_noise}")
        self.split_noise = float(split_noise)
        # Made now, not lazily, so that worker processes given a copy share the directory.
        path = weights_dir if weights_dir is not None else tempfile.mkdtemp(prefix="archsearch-")
        self.weights_dir = Path(path)
        self.weights_dir.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, StoredNetwork] = {}

    # --- the store -------------------------------------------------------------------------
    def stored(self) -> list[StoredNetwork]:
        """The networks in `weights_dir` (records read once and cached by file name; the
        directory is rescanned so networks saved by other workers appear)."""
        out = []
        for path in sorted(self.weights_dir.glob("*.json")):
            record = self._records.get(path.stem)
            if record is None:
                try:
                    data = json.loads(path.read_text())
                    record = StoredNetwork(
                        path.stem,
                        Architecture.from_dict(data["arch"]),
                        int(data["trial"]),
                        float(data["val_acc"]),
                        int(data["epochs"]),
                    )
                except (OSError, ValueError, KeyError):
                    continue  # not one of ours, or unreadable: never a reason to fail a trial
            out.append(record)
        # Cache only after a full scan; records of a key can be replaced by a better run.
        self._records = {r.key: r for r in out}
        return out

    def find_parent(
        self, space: LayerwiseSpace, arch: Architecture
    ) -> tuple[StoredNetwork, Morph] | None:
        """The best stored network (by val_acc, then key) one morph away from `arch`."""
        best: tuple[StoredNetwork, Morph] | None = None
        for record in self.stored():
            if record.arch.space != arch.space:
                continue
            morph = one_morph_away(space, record.arch, arch)
            if morph is None:
                continue
            if best is None or record.val_acc > best[0].val_acc:  # ties: the first key
                best = (record, morph)
        return best

    def load_weights(self, record: StoredNetwork, data: TrainData) -> nn.Module:
        """The stored network rebuilt with its trained weights, on this evaluator's device."""
        import torch

        space = self.space_of(record.arch)
        model = space.build(record.arch, data.task)
        state = torch.load(self.weights_dir / f"{record.key}.pt", map_location="cpu")
        model.load_state_dict(state)
        return model.to(self.device)

    def save_weights(
        self, arch: Architecture, model: nn.Module, trial: int, val_acc: float, epochs: int
    ) -> None:
        """Store a trained network (kept only if no better run of the same genotype is)."""
        import torch

        key = arch_key(arch)
        previous = {r.key: r for r in self.stored()}.get(key)
        if previous is not None and previous.val_acc > val_acc:
            return
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        _atomic_write(self.weights_dir / f"{key}.pt", lambda tmp: torch.save(state, tmp))
        record = {"arch": arch.to_dict(), "trial": trial, "val_acc": val_acc, "epochs": epochs}
        _atomic_write(
            self.weights_dir / f"{key}.json", lambda tmp: Path(tmp).write_text(json.dumps(record))
        )
        self._records.pop(key, None)

    # --- trials ----------------------------------------------------------------------------
    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        space = self.space_of(arch)
        if not isinstance(space, LayerwiseSpace):  # no morphisms there: plain training
            return super().evaluate(arch, ctx)
        space.validate(arch)
        arch = space.canonicalize(arch)
        data = self.train_data()  # loaded once per evaluator: not charged to this trial
        start = time.perf_counter()
        found = self.find_parent(space, arch)
        if ctx.resource is not None:
            epochs = max(1, round(ctx.resource))
        else:
            epochs = self.inherit_epochs if found is not None else self.epochs
        lr = self.inherit_lr if found is not None else self.lr
        metrics: dict[str, float] = {
            "inherited": float(found is not None),
            "inherited_from": float(found[0].trial) if found is not None else -1.0,
            "morph": float(MORPH_KINDS.index(found[1].kind)) if found is not None else -1.0,
        }

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            val_loss, val_acc = score(model, data.x_eval, data.y_eval, self.eval_batch_size)
            metrics.update(val_acc=val_acc, val_loss=val_loss, train_loss=train_loss, epochs=epoch)
            metrics["train_seconds"] = metrics.get("train_seconds", 0.0) + seconds
            ctx.reporter.report(
                epoch, {"val_acc": val_acc, "val_loss": val_loss, "train_loss": train_loss}
            )

        with self._trial_rng(ctx.seed) as generator, intra_op_threads(self.threads):
            try:
                if found is None:
                    model = space.build(arch, data.task)
                else:
                    record, morph = found
                    size = self.calibration_size
                    calibration = data.x_train[:size] if size else None
                    parent = self.load_weights(record, data)
                    model = morph_module(
                        space,
                        record.arch,
                        arch,
                        parent,
                        data.task,
                        morph=morph,
                        rng=np.random.default_rng(ctx.seed),
                        calibration=calibration,
                        split_noise=self.split_noise,
                    )
                    del parent
                refused = self._check_limits(model, data, metrics)
                if refused is not None:
                    return Result.failed(refused, cost=time.perf_counter() - start)
                model.to(self.device)
                if found is not None:
                    _, metrics["val_acc_inherited"] = score(
                        model, data.x_eval, data.y_eval, self.eval_batch_size
                    )
                try:
                    train_epochs(
                        model,
                        data,
                        self._optimizer(model),
                        epochs=epochs,
                        batch_size=self.batch_size,
                        lr=lr,
                        generator=generator,
                        grad_clip=self.grad_clip,
                        diverge_factor=self.diverge_factor,
                        on_epoch=on_epoch,
                    )
                except Pruned:
                    return Result(TrialState.PRUNED, metrics, time.perf_counter() - start)
                except TrainingDiverged as e:
                    return Result.failed(str(e), cost=time.perf_counter() - start)
                self.save_weights(arch, model, ctx.number, metrics["val_acc"], epochs)
            except Exception as e:
                if is_out_of_memory(e):
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    return Result.failed(
                        f"out of memory: {first}", cost=time.perf_counter() - start
                    )
                raise
        return Result.complete(metrics, cost=time.perf_counter() - start)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "inherit_epochs": self.inherit_epochs,
            "inherit_lr": self.inherit_lr,
            "calibration_size": self.calibration_size,
            "split_noise": self.split_noise,
        }
