"""The training evaluator: end to end on digits with a tiny CNN space, determinism,
fidelity knobs, failures (NaN loss, memory limit, out of memory) inside a study, and
the final fit on train + validation."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, Decision, TaskSpec
from archsearch.core.trial import Pruned, Reporter, TrialState
from archsearch.datasets import load_dataset
from archsearch.estimation.base import EVALUATORS, TrialContext
from archsearch.estimation.training import TrainingEvaluator, final_fit
from archsearch.nn.measure import estimate_train_memory
from archsearch.space.base import SearchSpace
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study


class NaNOut(nn.Module):
    """Logits that are all NaN: the loss is NaN from the first step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class HugeAlloc(nn.Module):
    """Asks for a petabyte: a real allocator failure, not a simulated one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.empty(1 << 50, dtype=torch.uint8)
        return x


class TinyCNN(SearchSpace):
    """Two conv layers and a linear head; `width` and `head` are the decisions."""

    name = "tiny_cnn"

    def __init__(self, widths: Sequence[int] = (8, 16), heads: Sequence[str] = ("ok",)) -> None:
        self._decisions = (Decision("width", tuple(widths)), Decision("head", tuple(heads)))

    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def build(self, arch: Architecture, task: TaskSpec) -> nn.Module:
        c, h, w = task.input_shape
        k = int(arch["width"])
        layers: list[nn.Module] = [
            nn.Conv2d(c, k, 3, padding=1),
            nn.BatchNorm2d(k),
            nn.ReLU(),
            nn.Conv2d(k, 2 * k, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * k),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * k * ((h + 1) // 2) * ((w + 1) // 2), task.num_classes),
        ]
        if arch["head"] == "nan":
            layers.append(NaNOut())
        elif arch["head"] == "oom":
            layers.append(HugeAlloc())
        return nn.Sequential(*layers)


class Recorder(Reporter):
    def __init__(self, stop_at: int | None = None) -> None:
        self.steps: list[tuple[int, dict[str, float]]] = []
        self.stop_at = stop_at

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.steps.append((step, dict(metrics)))
        if self.stop_at is not None and step >= self.stop_at:
            raise Pruned()


def ctx(
    seed: int = 0, reporter: Reporter | None = None, resource: float | None = None
) -> TrialContext:
    return TrialContext(0, seed, reporter or Reporter(), resource)


def evaluator(space: SearchSpace, **options: Any) -> TrainingEvaluator:
    settings: dict[str, Any] = {"epochs": 2, "batch_size": 64, "lr": 0.05, "threads": 1}
    settings.update(options)
    return TrainingEvaluator("digits", space=space, **settings)


def test_registered_as_train() -> None:
    assert EVALUATORS.get("train") is TrainingEvaluator


def test_trains_digits_well_above_chance() -> None:
    space = TinyCNN()
    rec = Recorder()
    result = evaluator(space).evaluate(space.make([16, "ok"]), ctx(reporter=rec))
    assert result.state is TrialState.COMPLETE, result.error
    m = result.metrics
    assert m["val_acc"] > 80.0  # chance is 10 %
    assert [s for s, _ in rec.steps] == [1, 2] and m["epochs"] == 2
    assert rec.steps[-1][1]["val_acc"] == m["val_acc"]
    assert m["params"] == sum(
        p.numel()
        for p in space.build(space.make([16, "ok"]), load_dataset("digits").task()).parameters()
    )
    # FLOPs by hand, 2 per multiply-add: conv 1->16 at 8x8, conv 16->32 at 4x4, linear 512->10.
    assert m["flops"] == 2 * (16 * 9 * 64 + 32 * 16 * 9 * 16 + 512 * 10)
    assert m["latency_ms"] > 0 and m["memory_mb"] > 0 and result.cost > 0
    assert math.isfinite(m["train_loss"]) and m["train_loss"] < 1.0


def test_same_seed_same_metrics_other_seed_differs() -> None:
    space = TinyCNN()
    ev = evaluator(space, epochs=1)
    arch = space.make([8, "ok"])
    keys = ("val_acc", "val_loss", "train_loss", "params", "flops", "memory_mb")
    a, b, c = (ev.evaluate(arch, ctx(seed=s)).metrics for s in (5, 5, 6))
    assert all(a[k] == b[k] for k in keys)
    assert a["train_loss"] != c["train_loss"]


def test_trial_leaves_global_rng_and_threads_as_it_found_them() -> None:
    space = TinyCNN()
    threads = torch.get_num_threads()
    state = torch.get_rng_state()
    evaluator(space, epochs=1, threads=1).evaluate(space.make([8, "ok"]), ctx(seed=1))
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), state)


def test_resource_data_fraction_and_resolution_knobs() -> None:
    space = TinyCNN()
    arch = space.make([8, "ok"])
    ev = evaluator(space, data_fraction=0.5, resolution=16)
    data = ev.train_data()
    assert tuple(data.x_train.shape[1:]) == (1, 16, 16) and data.task.input_shape == (1, 16, 16)
    assert len(data.y_train) == math.ceil(0.5 * len(ev.split.train))
    assert len(data.y_eval) == len(ev.split.val)  # validation is never shrunk
    result = ev.evaluate(arch, ctx(resource=1))
    assert result.metrics["epochs"] == 1
    full = evaluator(space).evaluate(arch, ctx()).metrics
    assert result.metrics["flops"] > 3 * full["flops"]  # 4x the pixels in both convs


def test_pruned_trial_keeps_its_metrics() -> None:
    space = TinyCNN()
    result = evaluator(space, epochs=5).evaluate(
        space.make([8, "ok"]), ctx(reporter=Recorder(stop_at=2))
    )
    assert result.state is TrialState.PRUNED
    assert result.metrics["epochs"] == 2 and "val_acc" in result.metrics
    assert result.metrics["flops"] > 0 and result.metrics["latency_ms"] > 0


def test_nan_network_fails_with_the_epoch() -> None:
    space = TinyCNN(heads=("ok", "nan"))
    result = evaluator(space).evaluate(space.make([8, "nan"]), ctx())
    assert result.state is TrialState.FAILED
    assert result.error == "loss diverged at epoch 1: nan"


def test_huge_learning_rate_diverges() -> None:
    space = TinyCNN()
    result = evaluator(space, lr=1e9).evaluate(space.make([8, "ok"]), ctx())
    assert result.state is TrialState.FAILED
    assert result.error is not None and result.error.startswith("loss diverged at epoch 1")


def test_memory_and_parameter_limits() -> None:
    space = TinyCNN(widths=(8, 256))
    ev = evaluator(space, max_memory_mb=10)
    small = ev.evaluate(space.make([8, "ok"]), ctx())
    big = ev.evaluate(space.make([256, "ok"]), ctx())
    assert small.state is TrialState.COMPLETE and small.metrics["memory_mb"] < 10
    assert big.state is TrialState.FAILED
    assert big.error is not None and "estimated training memory" in big.error
    assert "max_memory_mb=10" in big.error
    capped = evaluator(space, max_params=10_000).evaluate(space.make([256, "ok"]), ctx())
    assert capped.error is not None and "over max_params=10,000" in capped.error
    heavy = evaluator(space, max_flops=1e6).evaluate(space.make([256, "ok"]), ctx())
    assert heavy.error is not None and "over max_flops=1e+06" in heavy.error
    slow = evaluator(space, max_latency_ms=1e-6).evaluate(space.make([8, "ok"]), ctx())
    assert slow.error is not None and "over max_latency_ms=1e-06" in slow.error


def test_allocator_failure_is_out_of_memory() -> None:
    space = TinyCNN(heads=("ok", "oom"))
    result = evaluator(space).evaluate(space.make([8, "oom"]), ctx())
    assert result.state is TrialState.FAILED
    assert result.error is not None and result.error.startswith("out of memory:")


def test_memory_estimate_by_hand() -> None:
    # Linear saves its input (4 x 64 floats), the logits (4 x 10) are kept, and two
    # gradient buffers the size of the largest saved tensor are added; the weight is a
    # parameter, counted as weights + gradients + one momentum buffer.
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    probe = torch.zeros(4, 1, 8, 8)
    per_sample = (64 + 10 + 2 * 64) * 4
    weights = (64 * 10 + 10) * 4
    assert estimate_train_memory(model, probe, 32, 1) == weights * 3 + per_sample * 32


def test_memory_probe_leaves_batchnorm_statistics_alone() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    before = [b.clone() for b in model.buffers()]
    estimate_train_memory(model, torch.randn(4, 1, 8, 8), 16, 2)
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))


def test_study_completes_around_failed_trials() -> None:
    space = TinyCNN(widths=(8, 256), heads=("ok", "nan"))
    ev = evaluator(space, epochs=1, max_memory_mb=10)
    study = Study(space, RandomSearch(space, seed=0, dedup=True), seed=0)
    study.optimize(ev, budget="4trials")
    by_arch = {(t.arch["width"], t.arch["head"]): t for t in study.trials}
    assert len(by_arch) == 4 and study.summary()["COMPLETE"] == 1
    assert by_arch[(8, "ok")].state is TrialState.COMPLETE
    assert by_arch[(8, "nan")].error == "loss diverged at epoch 1: nan"
    for head in ("ok", "nan"):
        trial = by_arch[(256, head)]
        assert trial.state is TrialState.FAILED and "max_memory_mb" in (trial.error or "")
    assert study.best().arch == space.make([8, "ok"])


def test_final_fit_on_train_and_val_scores_the_test_split() -> None:
    space = TinyCNN()
    arch = space.make([8, "ok"])
    rec = Recorder()
    fit = final_fit(space, arch, "digits", epochs=2, seed=3, batch_size=64, lr=0.05, reporter=rec)
    assert fit.metrics["test_acc"] > 80.0 and not fit.model.training
    assert [s for s, _ in rec.steps] == [1, 2] and len(fit.history) == 2
    again = final_fit(space, arch, "digits", epochs=2, seed=3, batch_size=64, lr=0.05)
    for a, b in zip(
        fit.model.state_dict().values(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)  # the same seed, the same weights


def test_bad_options_and_foreign_genotypes() -> None:
    space = TinyCNN()
    with pytest.raises(ConfigError, match="optimizer"):
        TrainingEvaluator(space=space, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="data_fraction"):
        TrainingEvaluator(space=space, data_fraction=0)
    with pytest.raises(ConfigError, match="epochs"):
        TrainingEvaluator(space=space, epochs=0)
    with pytest.raises(GenotypeError, match="not 'other@1'"):
        evaluator(space).evaluate(Architecture("other@1", (("width", 8),)), ctx())


def test_supports_only_spaces_that_build() -> None:
    class NoBuild(SearchSpace):
        name = "nobuild"

        def decisions(self) -> Sequence[Decision]:
            return (Decision("a", (1, 2)),)

    ev = TrainingEvaluator(space=TinyCNN())
    assert ev.supports(TinyCNN()) and not ev.supports(NoBuild())


def test_adam_and_pickling_without_tensors() -> None:
    space = TinyCNN()
    ev = evaluator(space, optimizer="adam", lr=None, epochs=1)
    assert ev.lr == 1e-3
    assert ev.evaluate(space.make([8, "ok"]), ctx()).metrics["val_acc"] > 50.0
    blob = pickle.dumps(ev)
    assert len(blob) < 20_000  # the prepared tensors stay behind
    assert pickle.loads(blob).describe() == ev.describe()
