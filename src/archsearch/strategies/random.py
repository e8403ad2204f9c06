"""Random search: the baseline every NAS method must beat (Li & Talwalkar, "Random Search
and Reproducibility for Neural Architecture Search", UAI 2019)."""

from __future__ import annotations

from typing import Any

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Samples uniformly from the space. With `dedup=True` it never proposes the same
    genotype twice, and returns None once a finite space is exhausted."""

    def __init__(self, space: SearchSpace, seed: int = 0, dedup: bool = False) -> None:
        super().__init__(space, seed)
        self.dedup = bool(dedup)
        self._seen: set[Architecture] = set()
        self._size = space.size()

    def ask(self) -> Architecture | None:
        if not self.dedup:
            return self.space.sample(self.rng)
        if self._size is not None and len(self._seen) >= self._size:
            return None
        while True:
            arch = self.space.sample(self.rng)
            if arch not in self._seen:
                self._seen.add(arch)
                return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        pass  # random search learns nothing

    def state_dict(self) -> dict[str, Any]:
        # Sorted so the state is a deterministic value, whatever the set's order.
        return {**super().state_dict(), "seen": sorted(a.to_json() for a in self._seen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._seen = {Architecture.from_json(s) for s in state["seen"]}
