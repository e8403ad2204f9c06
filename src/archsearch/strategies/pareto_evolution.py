"""Pareto-rank regularized evolution: regularized (aging) evolution (Real, Aggarwal, Huang
and Le, "Regularized Evolution for Image Classifier Architecture Search", AAAI 2019) whose
tournament is won by Pareto rank and crowding instead of a single score (the ranking of
NSGA-II: Deb, Pratap, Agarwal and Meyarivan, IEEE TEVC 2002), with limits as hard
constraints through constrained domination (see `multiobjective`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy, require_minimums
from archsearch.strategies.multiobjective import (
    ObjectiveReader,
    Point,
    crowding_distances,
    pareto_ranks,
    parse_limits,
    parse_objectives,
)
from archsearch.strategies.seen import SeenArchitectures


@STRATEGIES.register("pareto-re")
class ParetoEvolution(Strategy):
    """The first `population_size` proposals are random. After that each proposal draws
    `sample_size` members of the population at random (with replacement), and mutates
    the one of lowest Pareto rank, ties broken by the larger crowding distance (computed
    among the population's members of that rank, so the front's sparse stretches are
    explored), then by the earlier pick. Every told result joins the population and the
    oldest member dies (aging, as in regularized evolution). Failed and pruned trials do
    not join. With `elitist=True` (the default) the ranks are taken over every result told
    so far, not only the living population: a member that a dead one dominates ranks
    below the front, so aging cannot hand the tournament to dominated cells once the
    front's members have died.

    `objectives`: (metric, "max" | "min") pairs read from `result.metrics`, e.g.
    `[["val_acc", "max"], ["latency@pixel2", "min"]]` or `"val_acc:max,latency@pixel2:min"`;
    by default the study's score alone, which makes this plain regularized evolution with
    deduplication. `constraints`: limits such as `[["latency@pixel2", "<=", 14]]` or
    `"latency@pixel2<=14"`; a result beyond one ranks below every feasible one.

    A table query is cheap but a training is not: the strategy never proposes an
    architecture it has proposed before (`dedup`: "genotype", or "canonical" for none
    isomorphic to one either); a mutant already seen is mutated again, up to
    `max_retries` times, then a random unseen architecture is proposed.

    Defaults (population 50, sample 25, elitist) were chosen on NB201 cifar100 accuracy
    x latency over 10 runs on four devices (see `benchmarks/hw_nas.py`; population 20 or
    100, sample 5, 10 or 50, non-elitist and canonical dedup were within about one point
    of hypervolume share or below): a front needs a larger population than one optimum
    (the single-objective `re` keeps 10).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: str | Sequence[Sequence[str]] | None = None,
        constraints: str | Sequence[Sequence[Any]] | None = None,
        population_size: int = 50,
        sample_size: int = 25,
        dedup: str = "genotype",
        max_retries: int = 20,
        elitist: bool = True,
    ) -> None:
        super().__init__(space, seed)
        require_minimums(
            [
                ("population_size", population_size, 1),
                ("sample_size", sample_size, 1),
                ("max_retries", max_retries, 0),
            ]
        )
        self.objectives = parse_objectives(objectives)
        self.limits = parse_limits(constraints)
        self.reader = ObjectiveReader(self.objectives, self.limits)
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.max_retries = int(max_retries)
        self.dedup = dedup
        self.elitist = bool(elitist)
        self._archive: list[tuple[Architecture, Point]] = []
        self._size = space.size()
        self._seen = SeenArchitectures(space, dedup)
        self.population: deque[tuple[Architecture, Point]] = deque()
        self.n_asked = 0

    def _parent(self) -> Architecture:
        members = list(self.population)
        if self.elitist:  # the population is the archive's tail (see `tell`)
            ranks = pareto_ranks([p for _, p in self._archive])[-len(members) :]
        else:
            ranks = pareto_ranks([p for _, p in members])
        crowding = np.zeros(len(members))
        for r in set(ranks):
            idx = [i for i, x in enumerate(ranks) if x == r]
            crowding[idx] = crowding_distances(np.array([members[i][1].values for i in idx]))
        picks = self.rng.integers(len(members), size=self.sample_size)
        # min over (rank, -crowding); ties go to the earliest pick: deterministic.
        best = min(picks, key=lambda i: (ranks[int(i)], -crowding[int(i)]))
        return members[int(best)][0]

    def ask(self) -> Architecture | None:
        if self._size is not None and len(self._seen) >= self._size:
            return None
        self.n_asked += 1
        arch = None
        if self.n_asked > self.population_size and self.population:
            parent = self._parent()
            for _ in range(self.max_retries + 1):
                child = self.space.mutate(parent, self.rng)
                if self._seen.is_new(child):
                    arch = child
                    break
        if arch is None:
            arch = self._seen.random_new(self.rng)
        self._seen.add(arch)
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        self._seen.add(arch)
        point = self.reader.read(result)
        if point is None:
            return
        self.population.append((arch, point))
        self._archive.append((arch, point))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "n_asked": self.n_asked,
            "seen": sorted(a.to_json() for a in self._seen),
            # The population is the archive's last `population_size` entries.
            "archive": [[a.to_json(), list(p.values), p.violation] for a, p in self._archive],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.n_asked = int(state["n_asked"])
        self._seen = SeenArchitectures(self.space, self.dedup)
        for text in state["seen"]:
            self._seen.add(Architecture.from_json(text))
        self._archive = [
            (Architecture.from_json(a), Point(tuple(float(x) for x in v), float(viol)))
            for a, v, viol in state["archive"]
        ]
        self.population = deque(self._archive[-self.population_size :])
