"""The study: the loop that drives a space, a strategy, an evaluator, a scheduler, an
executor and a storage; the one rule that picks a study's best trials; the config that
names a study's parts."""

from archsearch.study.loop import Callback, Constraint, Study, TrialJob, run_job, trial_seed

__all__ = ["Callback", "Constraint", "Study", "TrialJob", "run_job", "trial_seed"]
