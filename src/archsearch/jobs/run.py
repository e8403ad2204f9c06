"""The main job: search a network for a dataset within a time budget, retrain the winner
at full fidelity, test it, export it and write a report.

    search (low fidelity, a share of the budget) -> final training (the rest) -> test ->
    genotype JSON + weights + ONNX (checked against PyTorch) + HTML report + summary

Everything lives in one study folder; running the same config again resumes the search
where it stopped and redoes only the stages that did not finish.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from archsearch.core.errors import ConfigError, StudyError
from archsearch.core.trial import Budget
from archsearch.execution import Executor, InlineExecutor, ProcessPoolExecutor
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.study import Callback, Study
from archsearch.study.config import StudyConfig, build_components, build_scheduler, parse_model

DB_NAME = "study.db"
CHAIN_DEFAULTS: dict[str, Any] = {"filters": [32, 64, 128]}
#: the numbers of a run's summary worth showing (the CLI's table, benchmark records)
SUMMARY_KEYS = (
    "dataset",
    "trials",
    "architecture",
    "search_val_acc",
    "final_epochs",
    "test_acc",
    "params",
    "flops",
    "latency_ms",
    "final_seconds",
    "total_seconds",
    "load_max_abs_diff",
    "onnx_max_abs_diff",
    "pt2_max_abs_diff",
)
Log = Callable[[str], None]


class RunConfig(BaseModel):
    """What `archsearch run` does; the defaults are the README's main job (digits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = "digits"
    data_dir: str | None = None
    space: str = "chain"
    space_options: dict[str, Any] = Field(default_factory=dict)
    strategy: str = "re"
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    # a multi-fidelity scheduler (sh, hyperband, asha) runs candidates from 1 epoch up to
    # search_epochs unless its options say otherwise
    scheduler: str = "fifo"
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    time_budget: str = "4m"  # search and final training together
    search_share: float = Field(0.6, gt=0.0, lt=1.0)
    search_epochs: int = Field(5, ge=1)  # the low fidelity of the search
    data_fraction: float = Field(1.0, gt=0.0, le=1.0)
    resolution: int | None = None
    final_epochs: int = Field(100, ge=1)  # at most; fewer if the budget runs short
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    augment: bool | None = None  # crop and flip in the final training (default: the dataset's)
    batch_size: int = Field(128, ge=1)
    optimizer: str = "sgd"
    lr: float | None = None
    device: str = "auto"  # auto, cpu, cuda[:N] or mps (archsearch.nn.device)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast off the CPU
    workers: int = Field(2, ge=1)  # trials at once, each in its own process
    threads: int = Field(1, ge=1)  # per trial; the final training uses workers x threads
    max_params: int | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None
    objectives: list[tuple[str, str]] | None = None
    seed: int = 0

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RunConfig:
        return parse_model(cls, data)

    @model_validator(mode="after")
    def _chain_width(self) -> RunConfig:
        # The chain space's own default widths (16-64) suit its tests, not a final model:
        # the main job searches wider layers unless told otherwise (other options given,
        # such as `ops`, keep these widths).
        if self.space == "chain":
            object.__setattr__(self, "space_options", {**CHAIN_DEFAULTS, **self.space_options})
        return self

    def study_config(self) -> StudyConfig:
        options: dict[str, Any] = {
            "dataset": self.dataset,
            "epochs": self.search_epochs,
            "data_fraction": self.data_fraction,
            "resolution": self.resolution,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "threads": self.threads,
            "device": self.device,
            "precision": self.precision,
            "split_seed": self.seed,
            "val_fraction": self.val_fraction,
            "max_params": self.max_params,
            "data_dir": self.data_dir,
        }
        return StudyConfig.parse(
            {
                "space": self.space,
                "space_options": self.space_options,
                "strategy": self.strategy,
                "strategy_options": self.strategy_options,
                "scheduler": self.scheduler,
                "scheduler_options": self._scheduler_options(),
                "evaluator": "train",
                "evaluator_options": options,
                "objectives": self.objectives,
                "seed": self.seed,
            }
        )

    def _scheduler_options(self) -> dict[str, Any]:
        options = dict(self.scheduler_options)
        if self.scheduler != "fifo" and not {"resources", "min_resource", "max_resource"} & set(
            options
        ):
            options.update(min_resource=1, max_resource=self.search_epochs)
        return options

    def budget_seconds(self) -> float:
        budget = Budget.parse(self.time_budget)
        if budget.seconds is None:
            raise ConfigError("time_budget: give a time such as '30m', not a number of trials")
        return budget.seconds


def run(
    config: RunConfig, folder: Path, *, log: Log = print, callbacks: tuple[Callback, ...] = ()
) -> dict[str, Any]:
    """Search, retrain, test, export and report; returns the summary it also writes to
    `folder/summary.json`."""
    from archsearch.estimation.constraints import StaticLimits
    from archsearch.estimation.training import TrainingEvaluator

    started = time.monotonic()
    total = config.budget_seconds()
    study_config = config.study_config()
    space, strategy, evaluator = build_components(study_config)
    assert isinstance(evaluator, TrainingEvaluator)
    db = folder / DB_NAME
    if db.exists():
        with SQLiteStorage(db, readonly=True) as stored:
            previous = stored.get_meta("run")
        if previous is None:
            raise StudyError(f"{folder} holds a study that `archsearch run` did not make")
        if RunConfig.parse(previous) != config:
            diff = [k for k, v in config.model_dump().items() if previous.get(k) != _plain(v)]
            raise StudyError(f"{folder} holds a run with a different config ({', '.join(diff)})")
    task = evaluator.train_data().task
    limits = StaticLimits(
        space,
        task,
        max_params=config.max_params,
        max_flops=config.max_flops,
        max_latency_ms=config.max_latency_ms,
    )
    with SQLiteStorage(db) as storage:
        finished = storage.get_meta("final")
        if finished is not None and (folder / "summary.json").exists():
            log(f"{folder}: this run is complete (delete the folder to run it again)")
            return dict(finished)
        if storage.get_meta("run") is None:
            storage.set_meta("run", json.loads(config.model_dump_json()))
            storage.set_meta("config", study_config.model_dump())
            storage.set_meta("created_at", time.time())
        search_budget = Budget(seconds=total * config.search_share)
        storage.set_meta("budget", str(search_budget))
        study = Study(
            space,
            strategy,
            storage,
            seed=config.seed,
            objectives=config.objectives,
            constraints=[limits] if limits.active else [],
        )
        log(
            f"searching {config.space} on {config.dataset} with {config.strategy} for "
            f"{search_budget.seconds:.0f} s ({config.search_epochs} epochs per candidate)"
        )
        executor = _executor(config)
        try:
            study.optimize(
                evaluator,
                budget=search_budget,
                executor=executor,
                scheduler=build_scheduler(study_config, evaluator),
                callbacks=callbacks,
            )
        finally:
            executor.shutdown()
        if not study.completed():
            raise StudyError("the search completed no trial: see `archsearch status` for errors")
        best = study.best()
        log(f"best of {len(study.trials)} trials: #{best.number} {space.describe(best.arch)}")

        # Final training: as many epochs (up to final_epochs) as the rest of the budget
        # allows, from the measured time of one full-data epoch of the winner (a probe fit
        # whose result is thrown away: search-time epoch times are taken on less data,
        # with fewer threads, and under another load).
        evaluator.threads = config.workers * config.threads  # one training: every core
        if config.augment is not None:  # the search's short runs use the dataset's default
            evaluator.augment = config.augment
        probe = evaluator.final_fit(best.arch, seed=config.seed, epochs=1)
        epoch_seconds = max(probe.history[-1]["seconds"], 1e-3)
        fixed = max(probe.cost - epoch_seconds, 0.0)  # test pass, FLOPs, latency: paid once
        remaining = total - (time.monotonic() - started)
        epochs = int(min(config.final_epochs, max(1, (0.9 * remaining - fixed) // epoch_seconds)))
        log(f"final training: {epochs} epochs on all data (about {epochs * epoch_seconds:.0f} s)")
        fit = evaluator.final_fit(best.arch, seed=config.seed, epochs=epochs)
        exported = _export(config, space, best.arch, fit, task, folder)
        summary = {
            "dataset": config.dataset,
            "trials": len(study.trials),
            "best_trial": best.number,
            "architecture": space.describe(best.arch),
            "genotype": best.arch.to_dict(),
            "search_val_acc": best.metrics.get("val_acc"),
            "final_epochs": epochs,
            "test_acc": fit.metrics["test_acc"],
            "params": fit.metrics.get("params"),
            "flops": fit.metrics.get("flops"),
            "latency_ms": fit.metrics.get("latency_ms"),
            "final_seconds": round(fit.cost, 1),
            "total_seconds": round(time.monotonic() - started, 1),
            **exported,
        }
        from archsearch.report import write_report

        report = write_report(
            study.trials,
            space,
            folder / "report.html",
            objectives=config.objectives,
            plot_front=[("val_acc", "max"), ("params", "min")],
            title=f"archsearch: {config.space} on {config.dataset}",
            extra={"final test accuracy": f"{fit.metrics['test_acc']:.2f}", "final epochs": epochs},
        )
        summary["report"] = str(report)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        storage.set_meta("final", summary)  # last: a crash before it redoes the final stage
    return summary


def _executor(config: RunConfig) -> Executor:
    """Two single-thread trials in parallel beat one two-thread trial on small CPUs."""
    if config.workers == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(config.workers, threads_per_worker=config.threads)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _export(
    config: RunConfig, space: Any, arch: Any, fit: Any, task: Any, folder: Path
) -> dict[str, Any]:
    """The genotype JSON and the self-contained model (`save_bundle`: model.json, weights,
    ONNX and torch.export, each checked against PyTorch); the file names."""
    from archsearch.export import save_bundle, save_genotype

    folder.mkdir(parents=True, exist_ok=True)
    save_genotype(arch, folder / "best.json")
    bundle = save_bundle(folder, space, config.space_options, arch, task, fit.model, fit.preprocess)
    return {"genotype_file": str(folder / "best.json"), **bundle}


def default_folder(config: RunConfig) -> Path:
    dataset = Path(config.dataset.removeprefix("npz:")).stem  # a file path: its name only
    return Path("runs") / f"run-{dataset}-{config.space}-{config.strategy}-s{config.seed}"


__all__ = ["SUMMARY_KEYS", "RunConfig", "default_folder", "run"]
