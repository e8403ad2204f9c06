"""The "bo-local" strategy: GP-BO whose acquisition is maximised over the best observed
architecture's unseen neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture, Decision
from archsearch.space import NB201Space, SearchSpace
from archsearch.strategies import STRATEGIES, LocalGPBayesOpt
from tests.helpers import complete, synthetic_score


def test_registered_with_exploiting_default() -> None:
    strategy = STRATEGIES.get("bo-local")(NB201Space(), seed=0)
    assert isinstance(strategy, LocalGPBayesOpt)
    assert strategy.ucb_beta == 0.5


def test_after_the_initial_design_it_proposes_a_neighbour_of_the_best() -> None:
    space = NB201Space()
    strategy = LocalGPBayesOpt(space, seed=1, n_init=5)
    scores: dict[Architecture, float] = {}
    for step in range(15):
        arch = strategy.ask()
        assert arch is not None
        if step >= 5:
            best = max(scores, key=lambda a: (scores[a], -list(scores).index(a)))
            assert arch in set(space.neighbors(best)), "not a neighbour of the incumbent"
        scores[arch] = synthetic_score(space, arch)
        strategy.tell(arch, complete(scores[arch]))
    assert len(scores) == 15  # never the same cell twice


def test_large_neighbourhoods_are_sampled() -> None:
    class Wide(SearchSpace):
        name = "wide-test"

        def decisions(self) -> list[Decision]:
            return [Decision(f"d{k}", tuple(range(10))) for k in range(20)]

    space = Wide()
    strategy = LocalGPBayesOpt(space, seed=0, n_init=2, max_candidates=8)
    for _ in range(2):
        arch = strategy.ask()
        assert arch is not None
        strategy.tell(arch, complete(synthetic_score(space, arch)))
    best = strategy._obs[int(np.argmax(strategy._scores))]
    candidates = strategy._candidates()
    assert 0 < len(candidates) <= 8
    assert all(
        sum(a != b for a, b in zip(c.values, best.values, strict=True)) == 1 for c in candidates
    )


def test_exhausted_neighbourhoods_restart_at_random_and_the_space_runs_out() -> None:
    class Tiny(SearchSpace):
        name = "tiny-local-test"

        def decisions(self) -> list[Decision]:
            return [Decision("a", (0, 1, 2)), Decision("b", ("x", "y"))]

    space = Tiny()
    strategy = LocalGPBayesOpt(space, seed=0, n_init=2, dedup="genotype")
    seen = []
    while (arch := strategy.ask()) is not None:
        seen.append(arch)
        strategy.tell(arch, complete(float(len(seen) % 3)))
    assert len(seen) == len(set(seen)) == 6


def test_rejects_no_candidates() -> None:
    with pytest.raises(ConfigError):
        LocalGPBayesOpt(NB201Space(), max_candidates=0)


def test_hamming_kernel_counts_differing_decisions() -> None:
    from archsearch.strategies.hamming import HammingKernel

    space = NB201Space()
    a = space.from_index(0)
    b = next(iter(space.neighbors(a)))
    c = next(n for n in space.neighbors(b) if n != a and n not in set(space.neighbors(a)))
    kernel = HammingKernel(space, length_scales=(2.0,))
    k = kernel([a, b, c], [a, b, c], 2.0)
    assert np.allclose(np.diag(k), 1.0)
    assert k[0, 1] == pytest.approx(np.exp(-1 / 2))
    assert k[0, 2] == pytest.approx(np.exp(-2 / 2))
    assert np.all(np.linalg.eigvalsh(k) > 0)  # positive definite
    with pytest.raises(ConfigError):
        LocalGPBayesOpt(space, hamming_length_scales=(0.0,))


def test_wl_kernel_option() -> None:
    from archsearch.strategies.bayesopt.kernels import WLKernel

    assert isinstance(LocalGPBayesOpt(NB201Space(), kernel="wl").kernel, WLKernel)
    with pytest.raises(ConfigError):
        LocalGPBayesOpt(NB201Space(), kernel="nope")
