"""Tournament-selection evolution without removal: Liu, Simonyan, Vinyals, Fernando and
Kavukcuoglu, "Hierarchical Representations for Efficient Architecture Search", ICLR 2018
(Section 3, the search of "hierarchical evolution")."""

from __future__ import annotations

import math
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("tournament")
class TournamentEvolution(Strategy):
    """The first `population_size` proposals are random (`space.sample`: the paper
    diversifies trivial genotypes by random mutations, which the hierarchical space's
    sampler stands for). After that each proposal draws a tournament of
    `ceil(tournament * population)` distinct members at random (5 % in the paper), and
    mutates the fittest one (`space.mutate`: one motif edge in the hierarchical space).
    Every completed result joins the population and none is ever removed, so the
    population grows with the search (unlike aging evolution, `re`).

    The paper's population is 200 with thousands of evaluations; the default 10 suits
    budgets of tens of trainings. Failed and pruned trials do not join the population.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        population_size: int = 10,
        tournament: float = 0.05,
    ) -> None:
        super().__init__(space, seed)
        if int(population_size) != population_size or population_size < 1:
            raise ConfigError(f"population_size must be a whole number >= 1, got {population_size}")
        if not 0.0 < tournament <= 1.0:
            raise ConfigError(f"tournament must be a fraction in (0, 1], got {tournament}")
        self.population_size = int(population_size)
        self.tournament = float(tournament)
        self.population: list[tuple[Architecture, float]] = []
        self.n_asked = 0

    def ask(self) -> Architecture | None:
        self.n_asked += 1
        if self.n_asked <= self.population_size or not self.population:
            return self.space.sample(self.rng)
        k = min(len(self.population), max(1, math.ceil(self.tournament * len(self.population))))
        picks = self.rng.choice(len(self.population), size=k, replace=False)
        # Ties go to the earliest pick: deterministic under the seed.
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])[0]
        return self.space.mutate(parent, self.rng)

    def tell(self, arch: Architecture, result: Result) -> None:
        if result.state is not TrialState.COMPLETE or result.score is None:
            return
        self.population.append((arch, float(result.score)))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "n_asked": self.n_asked,
            "population": [[a.to_json(), s] for a, s in self.population],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.n_asked = int(state["n_asked"])
        self.population = [(Architecture.from_json(a), float(s)) for a, s in state["population"]]
