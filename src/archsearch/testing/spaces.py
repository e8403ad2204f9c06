"""The search-space contract, checked: samples, mutations and neighbours are valid and
distinct, genotypes survive JSON, encodings have one length, decisions come in order."""

from __future__ import annotations

import numpy as np

from archsearch.space.base import SearchSpace


def check_space(space: SearchSpace, samples: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(samples):
        arch = space.sample(rng)
        space.validate(arch)
        assert space.parse(arch.to_json()) == arch, "the JSON round trip changed a genotype"
        child = space.mutate(arch, rng)
        space.validate(child)
        assert child != arch, "mutate returned its input"
        assert space.encode(arch).shape == space.encode(child).shape, "encodings differ in length"
        for neighbour in list(space.neighbors(arch))[:10]:
            space.validate(neighbour)
            assert neighbour != arch, "an architecture is its own neighbour"
    names = [d.name for d in space.decisions()]
    assert names == [n for n, _ in space.sample(rng).choices], "choices out of decision order"
