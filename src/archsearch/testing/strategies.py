"""The strategy contract, checked: seeded determinism, valid proposals, every result
accepted (failures included), and an exact, JSON-serialisable state round trip."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import Strategy

StrategyFactory = Callable[[SearchSpace, int], Strategy]


def synthetic_score(space: SearchSpace, arch: Architecture) -> float:
    """A fixed, deterministic, non-trivial objective over any space's encoding."""
    x = space.encode(arch)
    w = np.random.default_rng(1234).normal(size=x.shape[0])
    return float(x @ w)


def drive(strategy: Strategy, space: SearchSpace, steps: int) -> Iterator[str]:
    """Ask and tell `steps` times (every 7th trial fails); yield each proposal's JSON."""
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


def check_strategy(make: StrategyFactory, space: SearchSpace, steps: int = 40) -> None:
    """`make(space, seed)` builds the strategy. Same seed, same proposals; another seed,
    other proposals; a state restored into a strategy of another seed goes on exactly as
    the original."""
    a = list(drive(make(space, 3), space, steps))
    b = list(drive(make(space, 3), space, steps))
    c = list(drive(make(space, 4), space, steps))
    assert a, "the strategy proposed nothing"
    assert a == b, "the same seed gave different proposals"
    assert a != c, "a different seed should change the proposals"
    original = make(space, 5)
    list(drive(original, space, steps // 2))
    state = json.loads(json.dumps(original.state_dict()))  # must be JSON-serialisable
    restored = make(space, 999)
    restored.load_state_dict(state)
    after = list(drive(original, space, steps // 2))
    assert after == list(drive(restored, space, steps // 2)), "state round trip differs"
