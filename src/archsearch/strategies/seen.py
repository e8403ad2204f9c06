"""Which architectures a strategy has proposed, by genotype or up to isomorphism."""

from __future__ import annotations

from collections.abc import Hashable, Iterator

import numpy as np

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.space.base import SearchSpace

MAX_CACHE = 200_000  # canonical forms remembered before the cache starts afresh


class SeenArchitectures:
    """Proposed genotypes, with `mode="canonical"` also their `space.canonical` classes,
    so a model-based strategy spends no query on a cell isomorphic to one it has."""

    def __init__(self, space: SearchSpace, mode: str = "canonical") -> None:
        if mode not in ("canonical", "genotype"):
            raise ConfigError(f"dedup: choose 'canonical' or 'genotype', not {mode!r}")
        self.space, self.mode = space, mode
        self._genotypes: set[Architecture] = set()
        self._keys: set[Hashable] = set()
        self._canonical: dict[Architecture, Hashable] = {}

    def key(self, arch: Architecture) -> Hashable:
        if self.mode == "genotype":
            return arch
        key = self._canonical.get(arch)
        if key is None:
            if len(self._canonical) > MAX_CACHE:  # a long search of a large space
                self._canonical.clear()
            key = self._canonical[arch] = self.space.canonical(arch)
        return key

    def add(self, arch: Architecture) -> None:
        self._genotypes.add(arch)
        self._keys.add(self.key(arch))

    def is_new(self, arch: Architecture) -> bool:
        return arch not in self._genotypes and self.key(arch) not in self._keys

    def random_new(self, rng: np.random.Generator) -> Architecture:
        """A random unseen architecture: new up to isomorphism while one is easy to find,
        then a new genotype (the caller checks that one is left)."""
        for _ in range(1000):
            arch = self.space.sample(rng)
            if self.is_new(arch):
                return arch
        while True:
            arch = self.space.sample(rng)
            if arch not in self._genotypes:
                return arch

    def __len__(self) -> int:
        return len(self._genotypes)

    def __iter__(self) -> Iterator[Architecture]:
        return iter(self._genotypes)
