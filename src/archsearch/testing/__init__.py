"""Conformance suites for third-party parts: a strategy, space, evaluator, scheduler,
executor or storage written outside archsearch is checked against the same contract as
the built-in ones, whose tests call these functions over every registry entry.

    from archsearch.testing import check_strategy
    check_strategy(lambda space, seed: MyStrategy(space, seed=seed), get_space("nb201"))

Each function raises `AssertionError` naming the broken rule; it needs no pytest.
"""

from archsearch.testing.evaluators import check_evaluator
from archsearch.testing.executors import check_executor
from archsearch.testing.schedulers import check_scheduler
from archsearch.testing.spaces import check_space
from archsearch.testing.storages import check_storage
from archsearch.testing.strategies import check_strategy, synthetic_score

__all__ = [
    "check_evaluator",
    "check_executor",
    "check_scheduler",
    "check_space",
    "check_storage",
    "check_strategy",
    "synthetic_score",
]
