"""The evaluator contract, checked: a result for a valid architecture (COMPLETE with the
evaluator's metric, or FAILED with its error), a non-negative cost, the same result for
the same trial seed, and a copy that survives the trip to a worker process."""

from __future__ import annotations

import math

import cloudpickle
import numpy as np

from archsearch.core.trial import Reporter, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.space.base import SearchSpace


def check_evaluator(evaluator: Evaluator, space: SearchSpace, seed: int = 0) -> None:
    assert evaluator.supports(space), f"the evaluator does not score {space.id}"
    arch = space.sample(np.random.default_rng(seed))
    ctx = TrialContext(number=0, seed=seed, reporter=Reporter())
    first = evaluator.evaluate(arch, ctx)
    assert first.state in (TrialState.COMPLETE, TrialState.FAILED), first.state
    assert first.cost >= 0 and math.isfinite(first.cost), f"cost {first.cost}"
    if first.state is TrialState.FAILED:
        assert first.error, "a FAILED result must say why"
        return
    assert evaluator.metric in first.metrics, f"metric {evaluator.metric!r} missing"
    copy = cloudpickle.loads(cloudpickle.dumps(evaluator))  # what a worker receives
    again = copy.evaluate(arch, ctx)
    assert again.metrics[evaluator.metric] == first.metrics[evaluator.metric], (
        "the same trial seed gave another result"
    )
