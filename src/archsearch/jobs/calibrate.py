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

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.study import run_job, trial_seed


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


def _scores(
    evaluator: Evaluator, archs: Sequence[Architecture], seed: int, label: str, progress: Progress
) -> tuple[list[float | None], list[float]]:
    """Each architecture's metric, made "higher is better" (None where it failed), and
    the seconds each took."""
    sign = 1.0 if evaluator.mode == "max" else -1.0
    values: list[float | None] = []
    costs: list[float] = []
    for i, arch in enumerate(archs):
        ctx = TrialContext(i, trial_seed(seed, i), Reporter())
        result = run_job(evaluator, arch, ctx)
        value = result.metrics.get(evaluator.metric)
        ok = result.state is TrialState.COMPLETE and value is not None and math.isfinite(value)
        values.append(sign * float(value) if ok and value is not None else None)
        costs.append(result.cost)
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
) -> Calibration:
    """Score `archs` with the reference and every estimate (inline, trial seeds derived
    from `seed` as a study's are) and rank-correlate each estimate with the reference."""
    from scipy import stats

    if len(archs) < 3:
        raise ConfigError(
            f"sample: rank correlations need at least 3 architectures, got {len(archs)}"
        )
    report = progress or (lambda label, done, total: None)
    ref, ref_costs = _scores(reference, archs, seed, reference_label, report)
    ref_seconds = statistics.fmean(ref_costs)
    out = Calibration(reference_label, ref_seconds, list(archs), {reference_label: ref})
    for label, evaluator in estimates.items():
        values, costs = _scores(evaluator, archs, seed, label, report)
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
