"""The main job: search a network for a dataset within a time budget, retrain the winner
at full fidelity, test it, export it and write a report.

    search (low fidelity, a share of the budget) -> final training (the rest) -> test ->
    genotype JSON + weights + ONNX (checked against PyTorch) + HTML report + summary

Everything lives in one study folder (`archsearch.study.folder`); running the same
config again (or `archsearch resume FOLDER`) continues after any crash: the search by
replay, the final training from its last epoch checkpoint, finished steps read back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from archsearch.core.errors import ConfigError, StudyError
from archsearch.core.trial import Budget
from archsearch.execution import Executor, InlineExecutor, ProcessPoolExecutor
from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime
from archsearch.jobs.search import check_study, run_study
from archsearch.study.config import StudyConfig, build_components, parse_model
from archsearch.study.folder import StudyFolder

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
    "load_max_abs_diff",
    "onnx_max_abs_diff",
    "pt2_max_abs_diff",
)
Log = Callable[[str], None]


class RunConfig(JobConfig):
    """What `archsearch run` does; the defaults are the README's main job (digits)."""

    dataset: str = Field("digits", description="digits, mnist, fashion-mnist, cifar10 or npz:FILE")
    data_dir: str | None = Field(
        None, description="where datasets are (else $ARCHSEARCH_DATA, then system places)"
    )
    space: str = Field("chain", description="search space")
    space_options: dict[str, Any] = Field(
        default_factory=dict, description="space setting, e.g. max_layers=8 or filters=[32,64]"
    )
    strategy: str = Field("re", description="search strategy")
    strategy_options: dict[str, Any] = Field(
        default_factory=dict, description="strategy setting, e.g. population_size=20"
    )
    scheduler: str = Field(
        "fifo",
        description="fifo, sh, hyperband or asha (from 1 epoch up to search_epochs unless "
        "its options say otherwise)",
    )
    scheduler_options: dict[str, Any] = Field(
        default_factory=dict, description="e.g. eta=3 or resources=[1,3,9]"
    )
    time_budget: str = Field("4m", description="search and final training together, e.g. 30m")
    search_share: float = Field(0.6, gt=0.0, lt=1.0, description="share of it spent searching")
    search_trials: int | None = Field(
        None, ge=1, description="search this many candidates instead of search_share of the time"
    )
    search_epochs: int = Field(5, ge=1, description="epochs per candidate (low fidelity)")
    data_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="share of the training data per candidate"
    )
    resolution: int | None = Field(
        None, description="train candidates at this input size (low fidelity)"
    )
    final_epochs: int = Field(
        100, ge=1, description="most epochs of the final training (fewer if time runs short)"
    )
    val_fraction: float = Field(
        0.2, gt=0.0, lt=1.0, description="share of the training split held out"
    )
    augment: bool | None = Field(
        None, description="random crop and flip in the final training (none: the dataset's)"
    )
    batch_size: int = Field(128, ge=1, description="training batch size")
    optimizer: Literal["sgd", "adam", "adamw"] = Field("sgd", description="optimizer")
    lr: float | None = Field(None, gt=0.0, description="learning rate (none: the optimizer's)")
    device: str = Field("auto", description="auto (CUDA, else MPS, else CPU), cpu, cuda[:N], mps")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="autocast precision of training on a GPU"
    )
    workers: int = Field(2, ge=1, description="trials at once, each in its own process")
    threads: int = Field(
        1, ge=1, description="CPU threads per trial (the final training: workers x threads)"
    )
    max_params: int | None = Field(None, description="reject larger networks before training")
    max_flops: float | None = Field(None, description="reject networks with more FLOPs per sample")
    max_latency_ms: float | None = Field(None, description="reject slower networks (CPU, batch 1)")
    objectives: list[tuple[str, Literal["max", "min"]]] | None = Field(
        None, description="multi-objective mode, e.g. val_acc:max,params:min"
    )
    seed: int = Field(0, description="seed of the search, the splits and the training")

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

    def search_budget(self) -> Budget:
        """`search_trials` candidates if set, else `search_share` of the time budget."""
        if self.search_trials is not None:
            return Budget(trials=self.search_trials)
        return Budget(seconds=self.budget_seconds() * self.search_share)

    def budget_seconds(self) -> float:
        budget = Budget.parse(self.time_budget)
        if budget.seconds is None:
            raise ConfigError("time_budget: give a time such as '30m', not a number of trials")
        return budget.seconds


def run(config: RunConfig, folder: StudyFolder, runtime: Runtime) -> dict[str, Any]:
    """Search, retrain, test, export and report in `folder` (see the module docstring);
    the steps: search (a study), probe (one timed epoch of the winner), final (its
    training, checkpointed every epoch), export and report."""
    from archsearch.estimation.constraints import StaticLimits
    from archsearch.estimation.training import TrainingEvaluator

    log = runtime.log
    total = config.budget_seconds()
    study_config = config.study_config()
    space, strategy, evaluator = build_components(study_config)
    assert isinstance(evaluator, TrainingEvaluator)
    task = evaluator.train_data().task
    limits = StaticLimits(
        space,
        task,
        max_params=config.max_params,
        max_flops=config.max_flops,
        max_latency_ms=config.max_latency_ms,
    )
    search_budget = config.search_budget()
    log(
        f"searching {config.space} on {config.dataset} with {config.strategy} for "
        f"{search_budget} ({config.search_epochs} epochs per candidate)"
    )
    searching = replace(runtime, executor=runtime.executor or (lambda: _executor(config)))
    study, _ = run_study(
        folder,
        study_config,
        search_budget,
        searching,
        parts=(space, strategy, evaluator),
        constraints=[limits] if limits.active else [],
    )
    searched = max((t.clock_end or 0.0 for t in study.trials), default=0.0)
    if not study.completed():
        raise StudyError("the search completed no trial: see `archsearch status` for errors")
    best = study.best()
    log(f"best of {len(study.trials)} trials: #{best.number} {space.describe(best.arch)}")

    # Final training: as many epochs (up to final_epochs) as the rest of the budget
    # allows, from the measured time of one full-data epoch of the winner (a probe fit
    # whose result is thrown away: search-time epoch times are taken on less data, with
    # fewer threads, and under another load).
    evaluator.threads = config.workers * config.threads  # one training: every core
    if config.augment is not None:  # the search's short runs use the dataset's default
        evaluator.augment = config.augment

    def plan() -> dict[str, float]:
        probe = evaluator.final_fit(best.arch, seed=config.seed, epochs=1)
        epoch_seconds = max(probe.history[-1]["seconds"], 1e-3)
        fixed = max(probe.cost - epoch_seconds, 0.0)  # test pass, FLOPs, latency: once
        remaining = total - searched - probe.cost
        fit = (0.9 * remaining - fixed) // epoch_seconds
        return {"epochs": int(min(config.final_epochs, max(1, fit))), "seconds": epoch_seconds}

    planned = folder.step("final_plan", plan)
    epochs = int(planned["epochs"])
    log(f"final training: {epochs} epochs on all data (about {epochs * planned['seconds']:.0f} s)")
    fit = evaluator.final_fit(
        best.arch, seed=config.seed, epochs=epochs, checkpoint=folder.checkpoints / "final.pt"
    )
    exported = _export(config, space, best.arch, fit, task, folder.path)
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
        **exported,
    }
    from archsearch.report import write_report

    report = write_report(
        study.trials,
        space,
        folder.report,
        objectives=config.objectives,
        plot_front=[("val_acc", "max"), ("params", "min")],
        title=f"archsearch: {config.space} on {config.dataset}",
        extra={"final test accuracy": f"{fit.metrics['test_acc']:.2f}", "final epochs": epochs},
    )
    summary["report"] = str(report)
    return summary


def _executor(config: RunConfig) -> Executor:
    """Two single-thread trials in parallel beat one two-thread trial on small CPUs."""
    if config.workers == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(config.workers, threads_per_worker=config.threads)


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


JOBS.add(
    "run",
    Job(
        "run",
        RunConfig,
        run,
        help="the main job: search a network for a dataset, retrain, test, export, report",
        budget=lambda c: c.search_budget(),
        check=lambda c: check_study(c.study_config()),
        folder=default_folder,
    ),
)
