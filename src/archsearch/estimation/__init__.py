"""HOW GOOD: evaluators (tabular benchmark, training; weight sharing and proxies later)."""

from archsearch.estimation.base import EVALUATORS, Evaluator, Pruned, Reporter, TrialContext
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.estimation.training import TrainingEvaluator

__all__ = [
    "EVALUATORS",
    "Evaluator",
    "NB201Evaluator",
    "Pruned",
    "Reporter",
    "TrainingEvaluator",
    "TrialContext",
]
