"""WHICH next: search strategies behind one ask/tell interface, registered by short name."""

from archsearch.strategies.base import STRATEGIES, Strategy
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.random import RandomSearch

__all__ = ["STRATEGIES", "RandomSearch", "RegularizedEvolution", "Strategy"]
