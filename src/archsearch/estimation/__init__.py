"""HOW GOOD: evaluators (tabular benchmark, training from scratch, language modelling,
weight inheritance by network morphism, zero-cost proxies)."""

from archsearch.core.trial import Pruned, Reporter
from archsearch.estimation.base import EVALUATORS, Evaluator, TrialContext
from archsearch.estimation.inheritance import InheritanceEvaluator
from archsearch.estimation.language import LanguageModelEvaluator
from archsearch.estimation.proxies import PROXIES, ProxyEvaluator
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.estimation.training import TrainingEvaluator

__all__ = [
    "EVALUATORS",
    "PROXIES",
    "Evaluator",
    "InheritanceEvaluator",
    "LanguageModelEvaluator",
    "NB201Evaluator",
    "ProxyEvaluator",
    "Pruned",
    "Reporter",
    "TrainingEvaluator",
    "TrialContext",
]
