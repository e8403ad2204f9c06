"""GP Bayesian optimisation over architectures (registered as "bo"): graph kernels
(`kernels`), the GP (`gp`), acquisition functions (`acquisition`) and the strategy
(`strategy`)."""

from archsearch.strategies.bayesopt.kernels import ArchKernel, PathDistanceKernel, WLKernel
from archsearch.strategies.bayesopt.strategy import GPBayesOpt

__all__ = ["ArchKernel", "GPBayesOpt", "PathDistanceKernel", "WLKernel"]
