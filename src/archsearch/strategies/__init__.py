"""WHICH next: search strategies behind one ask/tell interface, registered by short name."""

from archsearch.core.registry import import_submodules
from archsearch.strategies.bananas import Bananas
from archsearch.strategies.base import STRATEGIES, Strategy
from archsearch.strategies.bayesopt import GPBayesOpt
from archsearch.strategies.bohb import BOHBStrategy
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.local_bo import LocalGPBayesOpt
from archsearch.strategies.local_search import LocalSearch
from archsearch.strategies.mcts import MonteCarloTreeSearch
from archsearch.strategies.morphism import MorphismBO
from archsearch.strategies.optuna_moo import MOTPESearch, NSGAIISearch
from archsearch.strategies.parego import ParEGO
from archsearch.strategies.pareto_evolution import ParetoEvolution
from archsearch.strategies.prefilter import ProxyPrefilter
from archsearch.strategies.progressive import ProgressiveSearch
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.rl import Controller, ReinforceSearch
from archsearch.strategies.tournament import TournamentEvolution
from archsearch.strategies.tpe import OptunaGPSearch, OptunaSearch

import_submodules(__name__)  # registers every strategy in the package

__all__ = [
    "STRATEGIES",
    "BOHBStrategy",
    "Bananas",
    "Controller",
    "GPBayesOpt",
    "LocalGPBayesOpt",
    "LocalSearch",
    "MOTPESearch",
    "MonteCarloTreeSearch",
    "MorphismBO",
    "NSGAIISearch",
    "OptunaGPSearch",
    "OptunaSearch",
    "ParEGO",
    "ParetoEvolution",
    "ProgressiveSearch",
    "ProxyPrefilter",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceSearch",
    "Strategy",
    "TournamentEvolution",
]
