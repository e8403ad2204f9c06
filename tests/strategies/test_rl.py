"""NAS-RL (Zoph & Le 2017): the LSTM controller learns, is seeded, and round-trips."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence

import pytest

torch = pytest.importorskip("torch")

from archsearch.core.errors import ConfigError  # noqa: E402
from archsearch.core.genotype import Decision  # noqa: E402
from archsearch.core.trial import Result  # noqa: E402
from archsearch.space.base import SearchSpace  # noqa: E402
from archsearch.space.nb201 import NB201Space  # noqa: E402
from archsearch.strategies.base import STRATEGIES  # noqa: E402
from archsearch.strategies.rl import Controller, ReinforceSearch  # noqa: E402


class GridSpace(SearchSpace):
    name = "rl-grid"

    def __init__(self, n: int = 3, k: int = 3) -> None:
        self._decisions = tuple(Decision(f"d{i}", tuple(range(k))) for i in range(n))

    def decisions(self) -> Sequence[Decision]:
        return self._decisions


def test_registered():
    assert STRATEGIES.get("rl") is ReinforceSearch


def test_log_probs_form_a_distribution():
    controller = Controller([3, 2, 4], seed=0)
    vectors = [list(v) for v in itertools.product(range(3), range(2), range(4))]
    with torch.no_grad():
        log_prob, entropy = controller.log_prob_and_entropy(vectors)
    assert math.isclose(float(log_prob.exp().sum()), 1.0, rel_tol=1e-5)
    assert torch.all(entropy > 0)
    assert math.isclose(sum(controller.probabilities([1])), 1.0, rel_tol=1e-5)


def test_probability_of_the_rewarded_choice_increases():
    controller = Controller([5, 5, 5], seed=1, lr=0.05)
    before = controller.probabilities()[3]
    for _ in range(40):
        choices = controller.sample(8)
        controller.update(choices, [1.0 if c[0] == 3 else 0.0 for c in choices])
    after = controller.probabilities()[3]
    assert after > max(0.6, before + 0.3), (before, after)
    # The second decision is conditioned on the first: its distribution stays valid.
    assert math.isclose(sum(controller.probabilities([3])), 1.0, rel_tol=1e-5)


def test_reward_scale_does_not_matter_with_normalisation():
    probs = []
    for scale in (1.0, 1000.0):
        controller = Controller([4, 4], seed=2, lr=0.05)
        for _ in range(10):
            choices = controller.sample(4)
            controller.update(choices, [scale * (c[1] == 2) + 7 * scale for c in choices])
        probs.append(controller.probabilities([0])[2])
    assert probs[0] == pytest.approx(probs[1], rel=1e-3)


def test_single_sample_updates_stay_finite():
    controller = Controller([3, 3], seed=5, lr=0.05)
    for step in range(20):
        choices = controller.sample(1)
        stats = controller.update(choices, [float(choices[0][0] == 1) + 0.01 * step])
        assert math.isfinite(stats["loss"])
    assert all(math.isfinite(p) for p in controller.probabilities())
    assert controller.probabilities()[1] > 1 / 3


def test_controller_never_touches_the_global_torch_rng():
    state = torch.random.get_rng_state()
    controller = Controller([5] * 6, seed=3)
    choices = controller.sample(4)
    controller.update(choices, [1.0, 2.0, 3.0, 4.0])
    assert torch.equal(state, torch.random.get_rng_state())


def test_controller_is_seeded_and_round_trips():
    a, b = Controller([5] * 6, seed=4), Controller([5] * 6, seed=4)
    assert a.sample(3) == b.sample(3)
    for _ in range(3):
        choices = a.sample(5)
        a.update(choices, [float(sum(c)) for c in choices])
    state = json.loads(json.dumps(a.state_dict()))
    c = Controller([5] * 6, seed=99)
    c.load_state_dict(state)
    for controller in (a, c):
        choices = controller.sample(5)
        controller.update(choices, [float(sum(x)) for x in choices])
    assert a.sample(6) == c.sample(6)
    assert a.probabilities([1, 2]) == c.probabilities([1, 2])


def test_controller_rejects_bad_input():
    with pytest.raises(ConfigError):
        Controller([])
    controller = Controller([2, 2])
    with pytest.raises(ValueError):
        controller.log_prob([[0, 1, 1]])
    with pytest.raises(ValueError):
        controller.update([[0, 1]], [])


def score_of(arch) -> float:
    return float(sum(v == "nor_conv_3x3" for v in arch.values))


def test_strategy_learns_and_never_repeats_on_nb201():
    space = NB201Space()
    rl = ReinforceSearch(space, seed=0, batch_size=5, lr=0.05)
    asked = []
    for _ in range(150):
        arch = rl.ask()
        space.validate(arch)
        asked.append(arch)
        rl.tell(arch, Result.complete({}).with_score(score_of(arch)))
    assert len(set(asked)) == len(asked)
    first, last = asked[:30], asked[-30:]
    assert sum(map(score_of, last)) > sum(map(score_of, first)) + 15
    assert rl.n_updates >= 150 // 5


def test_batched_asks_update_once_the_batch_is_told():
    space = GridSpace(3, 3)
    rl = ReinforceSearch(space, seed=1, batch_size=4)
    pending = [rl.ask() for _ in range(4)]
    assert len(set(pending)) == 4 and rl.n_updates == 0
    for arch in pending[:3]:
        rl.tell(arch, Result.complete({}).with_score(1.0))
    assert rl.n_updates == 0
    rl.tell(pending[3], Result.failed("diverged"))  # failures give no reward
    assert rl.n_updates == 0
    arch = rl.ask()
    rl.tell(arch, Result.complete({}).with_score(2.0))
    assert rl.n_updates == 1


def test_strategy_state_round_trip_mid_batch():
    space = NB201Space()
    rl = ReinforceSearch(space, seed=5, batch_size=3)
    for _ in range(10):
        arch = rl.ask()
        rl.tell(arch, Result.complete({}).with_score(score_of(arch)))
    pending = rl.ask()
    state = json.loads(json.dumps(rl.state_dict()))
    clone = ReinforceSearch(space, seed=77, batch_size=3)
    clone.load_state_dict(state)
    runs = []
    for strategy in (rl, clone):
        strategy.tell(pending, Result.complete({}).with_score(score_of(pending)))
        asked = []
        for _ in range(12):
            arch = strategy.ask()
            asked.append(arch)
            strategy.tell(arch, Result.complete({}).with_score(score_of(arch)))
        runs.append(asked)
    assert runs[0] == runs[1]


def test_small_space_is_exhausted_without_repeats():
    space = GridSpace(2, 3)
    rl = ReinforceSearch(space, seed=2, batch_size=2)
    asked = []
    for _ in range(9):
        arch = rl.ask()
        asked.append(arch)
        rl.tell(arch, Result.complete({}).with_score(float(arch.values[0])))
    assert len(set(asked)) == 9


def test_study_resume_replays_to_the_same_trials():
    """A study stopped after 20 trials and resumed from its storage with a fresh strategy
    continues exactly as an uninterrupted one (the study replays asks and tells)."""
    from archsearch.estimation.tabular import NB201Evaluator
    from archsearch.execution.simulated import SimulatedExecutor
    from archsearch.storage.memory import InMemoryStorage
    from archsearch.study import Study

    space, evaluator = NB201Space(), NB201Evaluator("cifar10", fidelity=12)
    full = Study(space, ReinforceSearch(space, seed=3), seed=1)
    full.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    storage = InMemoryStorage()
    Study(space, ReinforceSearch(space, seed=3), storage, seed=1).optimize(
        evaluator, budget="20trials", executor=SimulatedExecutor()
    )
    resumed = Study(space, ReinforceSearch(space, seed=3), storage, seed=1)
    resumed.optimize(evaluator, budget="45trials", executor=SimulatedExecutor())
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
