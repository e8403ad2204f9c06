"""Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: A Novel
Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018).

Successive halving hedged over how aggressively to stop: with s_max + 1 rungs, bracket
s (s = s_max, ..., 0, then again) starts n_s = ceil((s_max + 1) / (s + 1) * eta^s)
architectures at the rung s_max - s and halves them up to the top rung. Bracket
s = s_max is the most aggressive; s = 0 trains every architecture at full fidelity.
With a BOHB strategy proposing the new architectures, this scheduler is BOHB
(Falkner, Klein & Hutter, ICML 2018).
"""

from __future__ import annotations

import math

from archsearch.schedulers.base import SCHEDULERS
from archsearch.schedulers.successive_halving import Bracket, BracketScheduler


@SCHEDULERS.register("hyperband")
class Hyperband(BracketScheduler):
    def make_bracket(self, index: int) -> Bracket:
        s_max = len(self.resources) - 1
        s = s_max - index % (s_max + 1)
        n = math.ceil((s_max + 1) / (s + 1) * self.eta**s)
        return Bracket(n, self.resources[s_max - s :], self.eta)
