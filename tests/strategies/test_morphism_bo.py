"""Auto-Keras-style BO on network morphism (Jin, Song and Hu, KDD 2019)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.core.trial import Reporter, Result, TrialState
from archsearch.estimation.base import TrialContext
from archsearch.estimation.inheritance import InheritanceEvaluator
from archsearch.space.chain import ChainSpace, LayerSpec
from archsearch.space.morphism import add_skip, deepen, one_morph_away, widen
from archsearch.space.nb201 import NB201Space
from archsearch.strategies import STRATEGIES
from archsearch.strategies.morphism import (
    MorphismBO,
    edit_distance,
    layer_distance,
    skips_distance,
)
from tests.helpers import complete, synthetic_score

SPACE = ChainSpace(min_layers=2, max_layers=5, filters=(16, 32, 64))
BASE = [
    LayerSpec("conv", 16, 3, 1, "relu", ()),
    LayerSpec("conv", 16, 3, 2, "relu", ()),
    LayerSpec("conv", 32, 3, 1, "relu", ()),
]


def test_registered() -> None:
    assert STRATEGIES.get("morphism") is MorphismBO


def test_edit_distance_against_hand_computed_values() -> None:
    a = SPACE.from_layers(BASE)
    assert edit_distance(SPACE, a, a) == 0.0
    # Widening 16 -> 32 filters: relative width difference 0.5, averaged over filters,
    # kernel, stride and activation: 0.125.
    wide = widen(SPACE, a, 0, 32)
    assert edit_distance(SPACE, a, wide) == pytest.approx(0.125)
    # An inserted layer costs 1 (one insertion in the layer edit distance).
    assert edit_distance(SPACE, a, deepen(SPACE, a, 1)) == pytest.approx(1.0)
    # An added skip costs 1 (one unmatched skip connection).
    skip = add_skip(SPACE, a, 2, 0)
    assert edit_distance(SPACE, a, skip) == pytest.approx(1.0)
    # Symmetric, and a different op costs 1 per layer.
    assert edit_distance(SPACE, wide, skip) == pytest.approx(edit_distance(SPACE, skip, wide))
    pooled = SPACE.from_layers([BASE[0], LayerSpec("max_pool", 16, 3, 2, "relu", ()), BASE[2]])
    assert edit_distance(SPACE, a, pooled) == pytest.approx(1.0)
    # The skip distance of Jin et al.: (|u1-u2| + |d1-d2|) / (max u + max d).
    assert skips_distance([(0, 2)], [(1, 2)]) == pytest.approx(1 / 3)
    assert skips_distance([(0, 2), (1, 3)], [(1, 3)]) == pytest.approx(1.0)
    assert layer_distance(BASE[0], BASE[1]) == pytest.approx((0.5 + 0) / 4)


def test_vectorised_distances_equal_the_reference() -> None:
    """The block computation used by the strategy against the scalar definitions."""
    from archsearch.space import get_space
    from archsearch.strategies.morphism import _Geometry, layers_distance, skips_of

    space = get_space("chain")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(30)]
    got = _Geometry(space, 0.7).distances(archs, archs[:12])
    for i, a in enumerate(archs):
        la = space.layers(a)
        for j, b in enumerate(archs[:12]):
            lb = space.layers(b)
            want = layers_distance(la, lb) + 0.7 * skips_distance(skips_of(la), skips_of(lb))
            assert got[i, j] == pytest.approx(want, abs=1e-12)
    assert np.allclose(np.diag(got[:12]), 0.0)


def drive(strategy: MorphismBO, steps: int) -> list:  # type: ignore[type-arg]
    out = []
    for step in range(steps):
        arch = strategy.ask()
        assert arch is not None
        if step % 9 == 8:
            strategy.tell(arch, Result(TrialState.FAILED, {}, 1.0, error="synthetic"))
        else:
            strategy.tell(arch, complete(synthetic_score(SPACE, arch)))
        out.append(arch)
    return out


def test_every_proposal_after_init_is_one_morph_from_a_trained_one() -> None:
    strategy = MorphismBO(SPACE, seed=1, n_init=4)
    asked = drive(strategy, 30)
    assert len(set(asked)) == len(asked)  # never proposed twice
    completed: set = set()  # type: ignore[type-arg]
    for k, arch in enumerate(asked):
        parent = strategy.parent_of[arch]
        if k < 4:
            assert parent is None
        else:
            assert parent in completed, f"proposal {k} is not a child of a trained one"
            assert one_morph_away(SPACE, parent, arch) is not None
        if k % 9 != 8:
            completed.add(arch)


def test_gp_fits_the_observations() -> None:
    """The GP on the PSD-corrected edit-distance kernel explains what it was told: its
    posterior mean at the observations correlates with the (standardised) scores, and
    its variances are finite and non-negative."""
    strategy = MorphismBO(SPACE, seed=0, n_init=25)
    drive(strategy, 25)
    gp, z = strategy._fit()
    d = strategy.geometry.distances(strategy._complete, strategy._complete)
    mean, std = gp.predict(np.exp(-gp.theta * d))
    assert np.all(np.isfinite(std)) and np.all(std >= 0)
    assert np.corrcoef(mean, z)[0, 1] > 0.8


def test_search_prefers_the_better_branch() -> None:
    """With one clearly better trained architecture, the proposal is its child."""
    strategy = MorphismBO(SPACE, seed=0, n_init=3)
    good = SPACE.from_layers(BASE)
    others = [
        SPACE.from_layers([LayerSpec("avg_pool", 16, 3, 1, "relu", ()), BASE[1]]),
        SPACE.from_layers([LayerSpec("identity", 16, 3, 1, "relu", ())] * 2),
    ]
    for arch, score in [(good, 90.0), (others[0], 10.0), (others[1], 12.0)]:
        strategy._asked.add(arch)
        strategy._order.append(arch)
        strategy.tell(arch, complete(score))
    arch = strategy.ask()
    assert strategy.parent_of[arch] == good


def test_state_round_trip_restores_parents() -> None:
    a = MorphismBO(SPACE, seed=2, n_init=3)
    drive(a, 10)
    b = MorphismBO(SPACE, seed=99, n_init=3)
    b.load_state_dict(a.state_dict())
    assert b.parent_of == a.parent_of
    assert np.array_equal(a._gram, b._gram)
    assert a.ask() == b.ask()


def test_runs_on_a_cell_space_with_hamming_moves() -> None:
    space = NB201Space()
    strategy = MorphismBO(space, seed=0, n_init=3)
    asked = []
    for _ in range(10):
        arch = strategy.ask()
        assert arch is not None
        strategy.tell(arch, complete(synthetic_score(space, arch)))
        asked.append(arch)
    for arch in asked[3:]:
        parent = strategy.parent_of[arch]
        assert parent is not None
        assert sum(x != y for x, y in zip(arch.values, parent.values, strict=True)) == 1


def test_children_inherit_weights_when_trained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """BO + the inherit evaluator on digits: every child proposal starts from its
    parent's weights (same accuracy before training)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        space = ChainSpace(min_layers=2, max_layers=4, filters=(8, 16), kernels=(1, 3))
        ev = InheritanceEvaluator(
            "digits",
            space=space,
            weights_dir=tmp_path,
            epochs=2,
            inherit_epochs=1,
            latency_repeats=1,
        )
        strategy = MorphismBO(space, seed=0, n_init=2)
        accs: dict[int, float] = {}
        inherited = 0
        for n in range(5):
            arch = strategy.ask()
            assert arch is not None
            result = ev.evaluate(arch, TrialContext(n, n, Reporter()))
            strategy.tell(arch, result.with_score(result.metrics.get("val_acc")))
            accs[n] = result.metrics["val_acc"]
            if n >= 2 and result.state is TrialState.COMPLETE:
                assert strategy.parent_of[arch] is not None
                assert result.metrics["inherited"] == 1
                source = int(result.metrics["inherited_from"])
                assert result.metrics["val_acc_inherited"] == pytest.approx(accs[source])
                inherited += 1
        assert inherited >= 2
    finally:
        torch.set_num_threads(before)
