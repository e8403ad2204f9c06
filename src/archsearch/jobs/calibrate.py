"""Fidelity calibration: does a cheap estimate rank architectures as the full one does?

Low-fidelity training (fewer epochs, a data fraction, a lower resolution) and zero-cost
proxies are only worth their savings if they keep the ranking. `calibrate` scores one
sample of architectures with a reference evaluator and with each cheap one, and reports
per estimate the rank correlation with the reference (Kendall's tau and Spearman's rho,
from SciPy) and its cost. This is the check the NAS literature runs before trusting a
proxy: e.g. Zela et al., "Towards Automated Deep Learning: Efficient Joint Neural
Architecture and Hyperparameter Search", ICML AutoML workshop 2018 (budgets), and
Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021 (proxies).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.options import settings
from archsearch.core.trial import Reporter, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime
from archsearch.study import run_job, trial_seed
from archsearch.study.folder import StudyFolder


@dataclass(frozen=True)
class EstimateQuality:
    """How one estimate ranks the sample against the reference, and what it costs."""

    label: str
    metric: str
    kendall_tau: float
    spearman: float
    seconds_per_arch: float
    cost_ratio: float  # its seconds over the reference's
    scored: int  # architectures both it and the reference scored
    failed: int


@dataclass
class Calibration:
    """The reference's scores and each estimate's quality (best ranking first)."""

    reference: str
    reference_seconds_per_arch: float
    archs: list[Architecture]
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    rows: list[EstimateQuality] = field(default_factory=list)


Progress = Callable[[str, int, int], None]
Memo = Callable[[str, Callable[[], list[float | None]]], list[float | None]]


def _no_memo(_: str, compute: Callable[[], list[float | None]]) -> list[float | None]:
    return compute()


def _scores(
    evaluator: Evaluator,
    archs: Sequence[Architecture],
    seed: int,
    label: str,
    progress: Progress,
    memo: Memo,
) -> tuple[list[float | None], list[float]]:
    """Each architecture's metric, made "higher is better" (None where it failed), and
    the seconds each took; each evaluation once (`memo`: a job folder's steps)."""
    sign = 1.0 if evaluator.mode == "max" else -1.0
    values: list[float | None] = []
    costs: list[float] = []
    for i, arch in enumerate(archs):

        def evaluate(i: int = i, arch: Architecture = arch) -> list[float | None]:
            result = run_job(evaluator, arch, TrialContext(i, trial_seed(seed, i), Reporter()))
            value = result.metrics.get(evaluator.metric)
            ok = result.state is TrialState.COMPLETE and value is not None
            ok = ok and math.isfinite(float(value))  # type: ignore[arg-type]
            return [sign * float(value) if ok else None, result.cost]  # type: ignore[arg-type]

        value, cost = memo(f"{label}/{i}", evaluate)
        values.append(value)
        costs.append(float(cost or 0.0))
        progress(label, i + 1, len(archs))
    return values, costs


def calibrate(
    archs: Sequence[Architecture],
    reference: Evaluator,
    estimates: Mapping[str, Evaluator],
    *,
    seed: int = 0,
    reference_label: str = "reference",
    progress: Progress | None = None,
    memo: Memo = _no_memo,
) -> Calibration:
    """Score `archs` with the reference and every estimate (inline, trial seeds derived
    from `seed` as a study's are) and rank-correlate each estimate with the reference."""
    from scipy import stats

    if len(archs) < 3:
        raise ConfigError(
            f"sample: rank correlations need at least 3 architectures, got {len(archs)}"
        )
    report = progress or (lambda label, done, total: None)
    ref, ref_costs = _scores(reference, archs, seed, reference_label, report, memo)
    ref_seconds = statistics.fmean(ref_costs)
    out = Calibration(reference_label, ref_seconds, list(archs), {reference_label: ref})
    for label, evaluator in estimates.items():
        values, costs = _scores(evaluator, archs, seed, label, report, memo)
        out.scores[label] = values
        pairs = [
            (a, b) for a, b in zip(ref, values, strict=True) if a is not None and b is not None
        ]
        tau = rho = math.nan
        if len(pairs) >= 3:
            x, y = [p[0] for p in pairs], [p[1] for p in pairs]
            tau = float(stats.kendalltau(x, y).statistic)
            rho = float(stats.spearmanr(x, y).statistic)
        seconds = statistics.fmean(costs)
        out.rows.append(
            EstimateQuality(
                label,
                evaluator.metric,
                tau,
                rho,
                seconds,
                seconds / ref_seconds if ref_seconds > 0 else math.nan,
                len(pairs),
                sum(v is None for v in values),
            )
        )
    out.rows.sort(key=lambda r: -r.kendall_tau if math.isfinite(r.kendall_tau) else math.inf)
    return out


# --- the job --------------------------------------------------------------------------------
class CalibrateConfig(JobConfig):
    """What `archsearch calibrate` does."""

    dataset: str = Field("digits", description="digits, mnist, fashion-mnist, cifar10, npz:FILE")
    data_dir: str | None = Field(None, description="where datasets are")
    space: str = Field("chain", description="search space")
    space_options: dict[str, Any] = Field(default_factory=dict, description="space setting")
    sample: int = Field(8, ge=3, description="architectures to score")
    reference: str = Field(
        "epochs=10", description="training settings of the full estimate, e.g. epochs=20"
    )
    estimates: list[str] | None = Field(
        None,
        description="a cheap estimate: training settings that override the reference's "
        "(epochs=1 | data_fraction=0.25 | resolution=14 | several, comma-separated) or "
        "proxy=NAME; none: epochs=1, epochs=3, data_fraction=0.25, half resolution and "
        "every zero-cost proxy",
    )
    threads: int = Field(1, ge=1, description="CPU threads")
    device: str = Field("auto", description="auto, cpu, cuda[:N] or mps")
    seed: int = Field(0, description="seed of the sample, the splits and the training")


def calibrate_job(config: CalibrateConfig, folder: StudyFolder, runtime: Runtime) -> dict[str, Any]:
    """Build the reference and the estimates, sample the architectures, score them all
    (each evaluation a step of the folder), and write `calibration.json`."""
    import numpy as np

    from archsearch.core.atomic import atomic_write_text
    from archsearch.estimation.proxies import PROXIES, ProxyEvaluator
    from archsearch.estimation.training import TrainingEvaluator
    from archsearch.space.base import get_space

    space = get_space(config.space, **config.space_options)
    common: dict[str, Any] = {
        "space": space,
        "data_dir": config.data_dir,
        "threads": config.threads,
        "device": config.device,
        "split_seed": config.seed,
    }
    reference_settings = settings(config.reference)

    def training(options: dict[str, Any]) -> TrainingEvaluator:
        try:
            return TrainingEvaluator(config.dataset, **common, **options)
        except TypeError as e:
            raise ConfigError(f"calibrate: unknown training setting ({e})") from None

    reference = training(reference_settings)
    specs = config.estimates
    if specs is None:
        side = reference.dataset.task().input_shape[-1]
        specs = ["epochs=1", "epochs=3", "data_fraction=0.25", f"resolution={max(4, side // 2)}"]
        specs = [s for s in specs if settings(s).items() - reference_settings.items()]
        specs += [f"proxy={name}" for name in PROXIES.names()]
    estimates: dict[str, Evaluator] = {}
    for spec in specs:
        options = settings(spec)
        if "proxy" in options:
            estimates[spec] = ProxyEvaluator(
                str(options.pop("proxy")),
                config.dataset,
                space=space,
                data_dir=config.data_dir,
                threads=config.threads,
                device=reference.device,
                split_seed=config.seed,
                **options,
            )
        else:
            estimates[spec] = training({**reference_settings, **options})
    rng = np.random.default_rng(config.seed)
    archs: list[Architecture] = []
    for _ in range(100 * config.sample):  # distinct architectures (a small space may run out)
        arch = space.sample(rng)
        if arch not in archs:
            archs.append(arch)
        if len(archs) == config.sample:
            break

    def progress(label: str, done: int, total: int) -> None:
        runtime.log(f"  {label}: {done}/{total}")

    result = calibrate(
        archs,
        reference,
        estimates,
        seed=config.seed,
        reference_label=config.reference,
        progress=progress,
        memo=folder.step,
    )
    summary = {
        "dataset": config.dataset,
        "space": space.id,
        "reference": config.reference,
        "reference_seconds_per_arch": result.reference_seconds_per_arch,
        "architectures": [a.to_json() for a in archs],
        "scores": result.scores,
        "estimates": [vars(r) for r in result.rows],
    }
    atomic_write_text(folder.path / "calibration.json", json.dumps(summary, indent=2))
    return summary


def _check(config: CalibrateConfig) -> None:
    """Names and settings, before any data is loaded or anything written."""
    from archsearch.estimation.proxies import PROXIES
    from archsearch.space.base import get_space

    get_space(config.space, **config.space_options)
    settings(config.reference)
    for spec in config.estimates or []:
        options = settings(spec)
        if "proxy" in options:
            PROXIES.get(str(options["proxy"]))


JOBS.add(
    "calibrate",
    Job(
        "calibrate",
        CalibrateConfig,
        calibrate_job,
        help="rank correlation of cheap estimates (few epochs, data fraction, resolution, "
        "zero-cost proxies) with full training, and their cost",
        check=_check,
        folder=lambda c: Path("runs") / f"calibrate-{Path(c.dataset).stem}-{c.space}-s{c.seed}",
    ),
)
