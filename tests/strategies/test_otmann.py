"""OTMANN (NASBOT's optimal-transport distance) on the chain space, and "bo" with it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.space.chain import ChainSpace
from archsearch.space.nb201 import NB201Space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.bayesopt import gp as gplib
from archsearch.strategies.bayesopt.otmann import (
    OTMANNKernel,
    _max_gain_transport,
    chain_network,
    label_cost,
    otmann_distance,
)
from archsearch.strategies.bayesopt.strategy import GPBayesOpt
from archsearch.study import Study
from tests.helpers import synthetic_score

SPACE = ChainSpace(min_layers=2, max_layers=4)


def chain(
    *layers: tuple[str, int, int, str], skips: dict[int, list[int]] | None = None
) -> Architecture:
    """A chain genotype from (op, filters, kernel, act) per layer (stride 1)."""
    values: dict[str, Any] = {d.name: d.options[0] for d in SPACE.decisions()}
    values["layers"] = len(layers)
    for i, (op, filters, kernel, act) in enumerate(layers):
        values.update({f"L{i}.op": op, f"L{i}.filters": filters, f"L{i}.kernel": kernel})
        values.update({f"L{i}.stride": 1, f"L{i}.act": act})
    for i, js in (skips or {}).items():
        for j in js:
            values[f"L{i}.skip{j}"] = 1
    return SPACE.canonicalize(SPACE.make([values[d.name] for d in SPACE.decisions()]))


BASE = chain(("conv", 16, 3, "relu"), ("conv", 16, 3, "relu"))


def dist(a: Architecture, b: Architecture, struct: float = 0.1) -> tuple[float, float]:
    return otmann_distance(chain_network(SPACE, a), chain_network(SPACE, b), struct)


def test_masses_follow_the_paper() -> None:
    net = chain_network(SPACE, chain(("conv", 16, 3, "relu"), ("max_pool", 16, 3, "relu")))
    # input (1 unit) -> conv 16: 1 x 16; pool: the 16 channels coming in; input, decision
    # and output: max(0.1 x 32, 100)
    assert net.masses == (100.0, 16.0, 16.0, 100.0, 100.0)
    assert [layer.kind for layer in net.layers] == ["ip", "conv", "max_pool", "decision", "op"]
    skip = chain_network(
        SPACE,
        chain(
            ("conv", 16, 3, "relu"),
            ("conv", 32, 3, "relu"),
            ("conv", 64, 1, "relu"),
            skips={2: [0]},
        ),
    )
    # layer 2 reads layer 1 (32) concatenated with layer 0 (16): 48 x 64
    assert skip.masses[1:4] == (16.0, 16.0 * 32, 48.0 * 64)
    # path lengths from the input (all layers): shortest 2 via the skip, longest 3
    assert skip.from_input[3][:2] == (2.0, 3.0)


def test_label_costs_are_nasbot_s_table() -> None:
    net = chain_network(
        SPACE, chain(("conv", 16, 3, "relu"), ("conv", 16, 5, "elu"), ("sep_conv", 16, 3, "relu"))
    )
    conv3, conv5_elu, sep3 = net.layers[1:4]
    assert label_cost(conv3, conv3) == 0.0
    assert label_cost(conv3, conv5_elu) == pytest.approx(math.sqrt(2) / 10 * math.sqrt(2) + 0.1)
    assert label_cost(conv3, sep3) == pytest.approx(0.1)  # 0.9 x 0 + 0.1
    pool = chain_network(SPACE, chain(("conv", 16, 3, "relu"), ("avg_pool", 16, 3, "relu")))
    assert label_cost(conv3, pool.layers[2]) == math.inf
    assert label_cost(net.layers[0], pool.layers[0]) == 0.0


def test_identical_networks_are_at_distance_zero() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        a = SPACE.sample(rng)
        assert dist(a, a) == (0.0, 0.0)


def test_hand_computed_kernel_size_edits() -> None:
    # Same graph, so every structural term is 0 for the identity matching, which is then
    # optimal: only the label costs of the changed layers are paid.
    one = chain(("conv", 16, 5, "relu"), ("conv", 16, 3, "relu"))  # layer 0: mass 16
    two = chain(("conv", 16, 5, "relu"), ("conv", 16, 5, "relu"))  # layer 1: mass 256
    per_unit = math.sqrt(2) / 10 * math.sqrt(2)  # conv3 vs conv5: 0.2
    total = 2 * (100 + 16 + 256 + 100 + 100)
    d1, d1_bar = dist(BASE, one)
    assert d1 == pytest.approx(16 * per_unit)
    assert d1_bar == pytest.approx(16 * per_unit / total)
    d2, _ = dist(BASE, two)
    assert d2 == pytest.approx((16 + 256) * per_unit)
    assert d1 < d2  # grows with edits


def test_hand_computed_non_assignment() -> None:
    # conv vs pool never match: without structural costs, the conv's 256 units and the
    # pool's 16 are both left unmatched at 1 per unit.
    pool = chain(("conv", 16, 3, "relu"), ("max_pool", 16, 3, "relu"))
    d, d_bar = dist(BASE, pool, struct=0.0)
    assert d == pytest.approx(256 + 16)
    assert d_bar == pytest.approx(272 / ((100 * 3 + 16 + 256) + (100 * 3 + 16 + 16)))


def test_symmetric_and_growing_with_edits() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = SPACE.sample(rng), SPACE.sample(rng)
        assert dist(a, b)[0] == pytest.approx(dist(b, a)[0], rel=1e-9, abs=1e-9)
    # a chain of edits away from BASE: the distance keeps growing
    edits = [
        BASE,
        chain(("conv", 16, 3, "relu"), ("conv", 32, 3, "relu")),
        chain(("conv", 16, 3, "relu"), ("conv", 32, 3, "relu"), ("conv", 64, 3, "relu")),
        chain(
            ("conv", 16, 3, "relu"),
            ("conv", 32, 3, "relu"),
            ("conv", 64, 3, "relu"),
            ("conv", 64, 5, "relu"),
        ),
    ]
    d = [dist(BASE, e)[0] for e in edits]
    assert d[0] == 0.0 and d[1] < d[2] < d[3]


def test_transport_solver_matches_linprog() -> None:
    rng = np.random.default_rng(2)
    for _ in range(100):
        n, m = (int(v) for v in rng.integers(1, 7, size=2))
        supply, demand = list(rng.random(n) * 100), list(rng.random(m) * 100)
        gain = rng.uniform(-0.5, 1.5, size=(n, m))
        a_ub = np.zeros((n + m, n * m))
        for i in range(n):
            a_ub[i, i * m : (i + 1) * m] = 1
        for j in range(m):
            a_ub[n + j, j::m] = 1
        lp = linprog(-gain.ravel(), A_ub=a_ub, b_ub=supply + demand, method="highs")
        got = _max_gain_transport(supply, demand, gain.tolist())
        assert got == pytest.approx(-lp.fun, rel=1e-9, abs=1e-9)


def test_kernel_is_psd_in_practice_and_the_gp_copes() -> None:
    kernel = OTMANNKernel(SPACE)
    rng = np.random.default_rng(3)
    archs = list(dict.fromkeys(SPACE.sample(rng) for _ in range(60)))
    for theta in kernel.grid:
        k = kernel(archs, archs, theta)
        np.testing.assert_allclose(k, k.T, atol=1e-12)
        np.testing.assert_allclose(np.diag(k), 1.0)
        # not guaranteed PSD; measured here: the smallest eigenvalue is 0 up to rounding
        # for theta <= 0.5 and -1.2e-5 (largest: 38) at theta = 1: indefinite, barely
        eig = np.linalg.eigvalsh(k)
        assert eig.min() > -1e-6 * eig.max()
        e, _ = gplib.eigen(k)  # what the GP uses: negative eigenvalues clipped
        assert e.min() >= 0.0
    z = np.random.default_rng(4).normal(size=len(archs))
    model = gplib.select({t: kernel(archs, archs, t) for t in kernel.grid}, z)
    mean, std = model.predict(kernel(archs[:5], archs, model.theta))
    assert np.isfinite(mean).all() and np.isfinite(std).all()


def test_kernel_needs_the_chain_space() -> None:
    with pytest.raises(ConfigError, match="chain"):
        OTMANNKernel(NB201Space())
    with pytest.raises(ConfigError, match="kernel"):
        GPBayesOpt(SPACE, kernel="ot")


class Synthetic(Evaluator):
    """A fixed objective over the chain space's encoding: no training."""

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        return Result.complete({"val_acc": synthetic_score(SPACE, arch)}, cost=1.0)


def test_bo_with_otmann_runs_through_a_study_and_resumes() -> None:
    def strategy() -> GPBayesOpt:
        return GPBayesOpt(
            SPACE, seed=5, kernel="otmann", n_init=5, n_random=10, n_children=3, n_generations=2
        )

    storage = InMemoryStorage()
    study = Study(SPACE, strategy(), storage, seed=5)
    study.optimize(Synthetic(), budget="14trials")
    assert isinstance(study.strategy.kernel, OTMANNKernel)  # type: ignore[attr-defined]
    resumed = Study(SPACE, strategy(), storage, seed=5)  # replays or raises
    resumed.optimize(Synthetic(), budget="18trials")
    assert len(resumed.trials) == 18
    assert len({SPACE.canonical(t.arch) for t in resumed.trials}) == 18
