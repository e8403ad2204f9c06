"""Conformance: every registered strategy on every registered space.

Seeded determinism, valid proposals, an exact state round-trip, and (random search with
deduplication) no repeated proposal. A strategy or space is tested the moment it registers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from archsearch.space import SPACES, SearchSpace, get_space
from archsearch.strategies import STRATEGIES, Strategy
from archsearch.trial import Result, TrialState
from tests.helpers import synthetic_score

N_STEPS = 40


def make(strategy: str, space: SearchSpace, seed: int) -> Strategy:
    return STRATEGIES.get(strategy)(space, seed=seed)


def drive(strategy: Strategy, space: SearchSpace, steps: int) -> Iterator[str]:
    """Ask/tell `steps` times (every 7th trial fails); yield each proposal's JSON."""
    for step in range(steps):
        arch = strategy.ask()
        if arch is None:
            return
        space.validate(arch)
        if step % 7 == 6:
            result = Result(TrialState.FAILED, {}, 1.0, error="synthetic failure")
        else:
            score = synthetic_score(space, arch)
            result = Result(TrialState.COMPLETE, {"val_acc": score}, 1.0, score=score)
        strategy.tell(arch, result)
        yield arch.to_json()


# The hierarchical and flat spaces have 60-80 decisions. Optuna's GPSampler needs minutes
# per ask there (over 7 minutes for this suite's 40 asks on "flat"): not run. BANANAS's
# ensemble takes about 90 s per pair: with the slow tests.
_TOO_SLOW = {("optuna-gp", "hierarchical"), ("optuna-gp", "flat")}
_SLOW = {("bananas", "hierarchical"), ("bananas", "flat")}
# The recurrent cell space's 15 decisions one-hot to 67 dimensions: GPSampler takes about
# 50 s per test there (both tests pass).
_SLOW |= {("optuna-gp", "rnn_cell")}


def _pair(strategy: str, space: str) -> object:
    if (strategy, space) in _TOO_SLOW:
        reason = "Optuna's GPSampler takes minutes per ask over 60-80 decisions"
        return pytest.param(strategy, space, marks=pytest.mark.skip(reason=reason))
    if (strategy, space) in _SLOW:
        return pytest.param(strategy, space, marks=pytest.mark.slow)
    return (strategy, space)


PAIRS = [_pair(st, sp) for st in STRATEGIES.names() for sp in SPACES.names()]


@pytest.mark.parametrize("strategy, space_name", PAIRS)
def test_seeded_determinism_and_valid_proposals(strategy: str, space_name: str) -> None:
    space = get_space(space_name)
    a = list(drive(make(strategy, space, 3), space, N_STEPS))
    b = list(drive(make(strategy, space, 3), space, N_STEPS))
    c = list(drive(make(strategy, space, 4), space, N_STEPS))
    assert a == b
    assert len(a) > 0
    assert a != c, "a different seed should change the proposals"


@pytest.mark.parametrize("strategy, space_name", PAIRS)
def test_state_round_trip(strategy: str, space_name: str) -> None:
    space = get_space(space_name)
    original = make(strategy, space, 5)
    list(drive(original, space, N_STEPS // 2))
    state = json.loads(json.dumps(original.state_dict()))  # must be JSON-serialisable
    restored = make(strategy, space, 999)  # a different seed: the state must override it
    restored.load_state_dict(state)
    assert list(drive(original, space, N_STEPS // 2)) == list(drive(restored, space, N_STEPS // 2))


@pytest.mark.parametrize("space_name", SPACES.names())
def test_space_contract(space_name: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        space.validate(arch)
        assert space.parse(arch.to_json()) == arch
        child = space.mutate(arch, rng)
        space.validate(child)
        assert child != arch
        assert space.encode(arch).shape == space.encode(child).shape
        for n in list(space.neighbors(arch))[:10]:
            space.validate(n)
            assert n != arch
    assert [d.name for d in space.decisions()] == [n for n, _ in space.sample(rng).choices]


def test_random_dedup_never_repeats_and_exhausts() -> None:
    from archsearch.space.base import Architecture, Decision
    from archsearch.strategies.random import RandomSearch

    class Tiny(SearchSpace):
        name = "tiny-test"

        def decisions(self) -> list[Decision]:
            return [Decision("a", (0, 1, 2)), Decision("b", ("x", "y"))]

    space = Tiny()
    strategy = RandomSearch(space, seed=0, dedup=True)
    seen: list[Architecture] = []
    while (arch := strategy.ask()) is not None:
        seen.append(arch)
    assert len(seen) == len(set(seen)) == 6
