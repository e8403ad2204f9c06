"""Regularized (aging) evolution: Real, Aggarwal, Huang and Le, "Regularized Evolution
for Image Classifier Architecture Search", AAAI 2019 (Algorithm 1)."""

from __future__ import annotations

from collections import deque
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("re")
class RegularizedEvolution(Strategy):
    """The first `population_size` proposals are random. After that, each proposal draws
    `sample_size` members of the population at random (with replacement, as in the
    paper), mutates the best of them, and every told result joins the population while
    its oldest member dies (aging, not the worst: the "regularization").

    The defaults (population 10, sample 3) are the NAS-Bench-201 authors' settings for
    their ~100-query budgets; the paper used 100 and 25 for thousands of trainings.
    Failed and pruned trials do not join the population.
    """

    def __init__(
        self, space: SearchSpace, seed: int = 0, population_size: int = 10, sample_size: int = 3
    ) -> None:
        super().__init__(space, seed)
        if population_size < 1:
            raise ConfigError(f"population_size must be >= 1, got {population_size}")
        if not sample_size >= 1:
            raise ConfigError(f"sample_size must be >= 1, got {sample_size}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population: deque[tuple[Architecture, float]] = deque()
        self.n_asked = 0

    def ask(self) -> Architecture | None:
        self.n_asked += 1
        if self.n_asked <= self.population_size or not self.population:
            return self.space.sample(self.rng)
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        # Ties go to the earliest pick: deterministic under the seed.
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])[0]
        return self.space.mutate(parent, self.rng)

    def tell(self, arch: Architecture, result: Result) -> None:
        if result.state is not TrialState.COMPLETE or result.score is None:
            return
        self.population.append((arch, float(result.score)))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "n_asked": self.n_asked,
            "population": [[a.to_json(), s] for a, s in self.population],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.n_asked = int(state["n_asked"])
        self.population = deque(
            (Architecture.from_json(a), float(s)) for a, s in state["population"]
        )
