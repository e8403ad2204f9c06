"""The one-shot job: a weight-sharing supernet trained in a folder, its derived cell
looked up in NAS-Bench-201 (or retrained, on the DARTS space). The supernet's state is
checkpointed every epoch and the retraining every epoch: a job killed at any moment and
started again continues where it stopped (`archsearch.oneshot.driver`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime
from archsearch.study.folder import StudyFolder

#: config fields that are options of the one-shot method, passed only when set
METHOD_OPTIONS = (
    "order",
    "arch_lr",
    "warmup",
    "beta0",
    "tune_epochs",
    "keep",
    "stop_skips",
    "n_derive",
    "controller_steps",
)


class OneShotConfig(JobConfig):
    """What `archsearch oneshot` does."""

    space: str = Field("nb201", description="cell space: nb201, darts")
    method: str = Field(
        "gdas",
        description="darts, darts- or darts-pt (collapse remedies), drnas, snas, gdas, enas, rsps",
    )
    dataset: str = Field("cifar10", description="dataset")
    data_dir: str | None = Field(None, description="folder with the dataset files")
    epochs: int = Field(50, ge=1, description="epochs of supernet training")
    channels: int = Field(16, ge=1, description="channels of the first stage")
    cells_per_stage: int = Field(5, ge=1, description="cells per stage")
    train_size: int | None = Field(None, description="images of the weights' half")
    val_size: int | None = Field(None, description="images of the architecture's half")
    resolution: int | None = Field(None, description="resize images to this side")
    batch_size: int = Field(64, ge=1, description="batch size")
    partial_channels: int = Field(1, ge=1, description="PC-DARTS K (1: off)")
    eval_size: int = Field(1000, ge=1, description="validation images that score cells")
    seed: int = Field(0, description="seed of the data split, the supernet and the method")
    threads: int = Field(1, ge=1, description="CPU threads")
    order: int | None = Field(None, description="darts: 1 or 2")
    arch_lr: float | None = Field(None, description="architecture learning rate")
    warmup: float | None = Field(None, description="share of the search with alpha frozen")
    beta0: float | None = Field(None, description="darts-: initial auxiliary skip weight")
    tune_epochs: int | None = Field(None, description="darts-pt: epochs between edge decisions")
    keep: int | None = Field(None, description="drnas: ops kept per edge after half the search")
    stop_skips: int | None = Field(None, description="DARTS+ early stop")
    n_derive: int | None = Field(None, description="enas/rsps: cells scored")
    controller_steps: int | None = Field(None, description="enas: controller steps")
    retrain_epochs: int | None = Field(
        None, description="retrain the derived cell from scratch (darts space)"
    )

    def method_options(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in METHOD_OPTIONS if getattr(self, k) is not None}


def oneshot(config: OneShotConfig, folder: StudyFolder, runtime: Runtime) -> dict[str, Any]:
    from archsearch.oneshot.driver import search

    def progress(record: dict[str, Any]) -> None:
        cell = record["arch"] or "-"
        runtime.log(
            f"epoch {record['epoch']}/{config.epochs} loss {record['train_loss']:.4f} "
            f"{record['seconds']:.0f}s skip {record['skip_share']:.2f} none "
            f"{record['none_share']:.2f} cell {cell}"
        )

    result = search(
        space=config.space,
        method=config.method,
        dataset=config.dataset,
        epochs=config.epochs,
        channels=config.channels,
        cells_per_stage=config.cells_per_stage,
        train_size=config.train_size,
        val_size=config.val_size,
        resolution=config.resolution,
        batch_size=config.batch_size,
        partial_channels=config.partial_channels,
        eval_size=config.eval_size,
        seed=config.seed,
        out_dir=folder.checkpoints,
        data_dir=config.data_dir,
        method_options=config.method_options(),
        threads=config.threads,
        on_epoch=progress,
        retrain_epochs=config.retrain_epochs,
    )
    summary = {
        "method": result.method,
        "architecture": result.arch_str,
        "genotype": result.arch.to_dict(),
        **{f"nb201_test_{d}": v for d, v in result.nb201_test.items()},
        **({} if result.retrain is None else {"retrain_test_acc": result.retrain["test_acc"]}),
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "search_seconds": round(result.search_seconds, 1),
        "history": result.history,
    }
    write_oneshot_report(summary, folder.report)
    return summary


def write_oneshot_report(summary: dict[str, Any], path: Path) -> Path:
    """The job's report: its summary, the per-epoch records, the derived cell."""
    from archsearch.core.genotype import Architecture
    from archsearch.report import write_history_report
    from archsearch.space.base import get_space

    arch = Architecture.from_dict(summary["genotype"])
    return write_history_report(
        summary["history"],
        {k: v for k, v in summary.items() if k not in ("genotype", "config")},
        path,
        space=get_space(arch.space),
        arch=arch,
        title=f"archsearch oneshot: {summary['method']}",
    )


def _check(config: OneShotConfig) -> None:
    from archsearch.oneshot.driver import check_config

    check_config(config.space, config.method)


JOBS.add(
    "oneshot",
    Job(
        "oneshot",
        OneShotConfig,
        oneshot,
        help="one-shot NAS with weight sharing (DARTS, DrNAS, SNAS, GDAS, ENAS, RSPS)",
        check=_check,
        folder=lambda c: Path("runs") / f"oneshot-{c.space}-{c.method}-{c.dataset}-s{c.seed}",
    ),
)
