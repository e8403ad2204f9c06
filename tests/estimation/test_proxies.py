"""Zero-cost proxies: each is a finite, deterministic float that leaves the model alone;
one oracle per proxy (a hand-computed value or PyTorch's own computation); the proxy
evaluator inside a study on digits; and the pre-filter proposing the top-k candidates."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.core.trial import Reporter, Result, TrialState
from archsearch.estimation.base import EVALUATORS, TrialContext
from archsearch.estimation.proxies import PROXIES, ProxyEvaluator, proxy_scorer, score_many
from archsearch.estimation.proxies.jacob_cov import K, jacobian_score
from archsearch.estimation.proxies.naswot import hamming_kernel, log_det
from archsearch.space.chain import ChainSpace
from archsearch.space.nb201 import NB201Space
from archsearch.strategies.base import Strategy
from archsearch.strategies.prefilter import ProxyPrefilter
from archsearch.strategies.random import RandomSearch
from archsearch.study import Study


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 5),
    )


def batch(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 5, (n,), generator=g)


def state(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


@pytest.mark.parametrize("name", PROXIES.names())
def test_finite_deterministic_and_leaves_the_model_alone(name: str) -> None:
    model = tiny_cnn().eval()  # eval: the proxy's train-mode copy must not flip the flag
    x, y = batch()
    before = state(model)
    first = PROXIES.get(name)(model, x, y, F.cross_entropy)
    second = PROXIES.get(name)(model, x, y, F.cross_entropy)
    assert isinstance(first, float) and math.isfinite(first)
    assert first == second
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, state(model), strict=True))
    assert all(p.grad is None for p in model.parameters())


def test_registry_names_and_the_evaluator_registration() -> None:
    expected = {"synflow", "snip", "grad_norm", "grasp", "fisher", "jacob_cov", "naswot"}
    assert expected | {"params", "flops"} == set(PROXIES.names())
    assert EVALUATORS.get("proxy") is ProxyEvaluator
    with pytest.raises(ConfigError, match="unknown proxy 'synflw'"):
        ProxyEvaluator("synflw")


def test_score_many_equals_the_separate_proxies() -> None:
    torch.manual_seed(0)
    space = NB201Space(channels=4, cells_per_stage=1)
    cell = space.parse(
        "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
    )
    model = space.build(cell, TaskSpec((3, 8, 8), 5))
    x, y = batch()
    names = PROXIES.names()
    together = score_many(model, x, y, F.cross_entropy, names)
    apart = {n: PROXIES.get(n)(model, x, y, F.cross_entropy) for n in names}
    assert list(together) == names
    for name in names:
        assert together[name] == pytest.approx(apart[name], rel=1e-9), name


def test_importing_the_proxies_does_not_import_torch() -> None:
    code = (
        "import sys, archsearch.estimation.proxies, archsearch.strategies.prefilter; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- oracles ---------------------------------------------------------------------------------
def linear_chain(seed: int = 3) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))


def test_synflow_of_a_linear_chain_is_depth_times_the_path_sum() -> None:
    # With |W| and an all-ones input every ReLU is open, so R = 1^T |W2| |W1| 1, and
    # synaptic flow is conserved (Tanaka et al. 2020): each layer's saliencies sum to R.
    model = linear_chain()
    w1, w2 = (m.weight.detach().double().abs() for m in (model[0], model[2]))
    r = float((w2 @ w1 @ torch.ones(3, dtype=torch.float64)).sum())
    x = torch.randn(5, 3)  # only its shape matters
    assert PROXIES.get("synflow")(model, x, None, F.cross_entropy) == pytest.approx(2 * r)


def test_synflow_ignores_batch_norm() -> None:
    with_bn = linear_chain()
    with_bn.insert(1, nn.BatchNorm1d(4))
    x = torch.randn(5, 3)
    assert PROXIES.get("synflow")(with_bn, x, None, F.cross_entropy) == pytest.approx(
        PROXIES.get("synflow")(linear_chain(), x, None, F.cross_entropy)
    )


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return [m.weight.grad.detach().clone() for m in model.modules() if isinstance(m, nn.Linear)]


def test_grad_norm_and_snip_match_torch_gradients() -> None:
    model = linear_chain()
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    grads = loss_gradients(linear_chain(), x, y)
    weights = [model[0].weight.detach(), model[2].weight.detach()]
    expected_norm = sum(float(torch.linalg.vector_norm(g)) for g in grads)
    expected_snip = sum(float((w * g).abs().sum()) for w, g in zip(weights, grads, strict=True))
    assert PROXIES.get("grad_norm")(model, x, y, F.cross_entropy) == pytest.approx(expected_norm)
    assert PROXIES.get("snip")(model, x, y, F.cross_entropy) == pytest.approx(expected_snip)
    single = nn.Sequential(nn.Linear(3, 2))
    (g,) = loss_gradients(single, x, y)
    assert PROXIES.get("grad_norm")(single, x, y, F.cross_entropy) == pytest.approx(
        float(torch.linalg.norm(g))
    )


def test_grasp_is_minus_weight_times_hessian_gradient_product() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3, bias=False)
    x, y = torch.randn(7, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    w0 = layer.weight.detach().clone()

    def loss(w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x @ w.reshape(3, 4).T, y)

    flat = w0.reshape(-1)
    g = torch.autograd.functional.jacobian(loss, flat)
    hessian = torch.autograd.functional.hessian(loss, flat)
    expected = float(-(flat * (hessian @ g)).sum())
    got = PROXIES.get("grasp")(nn.Sequential(layer), x, y, F.cross_entropy)
    assert got == pytest.approx(expected, rel=1e-4)


def test_fisher_of_a_linear_layer_by_hand() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3, bias=False)
    x, y = torch.randn(7, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    out = (x @ layer.weight.detach().T).requires_grad_(True)
    F.cross_entropy(out, y).backward()
    assert out.grad is not None
    per_channel = 0.5 * (out.detach() * out.grad).pow(2).mean(0)  # (3,)
    expected = float(per_channel.sum()) * 4  # each channel's value over its 4 weights
    got = PROXIES.get("fisher")(nn.Sequential(layer), x, y, F.cross_entropy)
    assert got == pytest.approx(expected, rel=1e-5)


def test_jacob_cov_by_hand() -> None:
    # Uncorrelated Jacobians: the correlation matrix is I, all eigenvalues 1.
    rows = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    assert jacobian_score(rows) == pytest.approx(-2 * (math.log(1 + K) + 1 / (1 + K)))
    assert math.isnan(jacobian_score(np.array([[1.0, 2.0], [3.0, 3.0]])))  # a constant row
    # A linear map has the same Jacobian for every sample: eigenvalues n, 0, ..., 0.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    n = 5
    x = torch.randn(n, 3, 2, 2)
    expected = -(math.log(n + K) + 1 / (n + K)) - (n - 1) * (math.log(K) + 1 / K)
    got = PROXIES.get("jacob_cov")(model, x, torch.zeros(n, dtype=torch.long), F.cross_entropy)
    assert got == pytest.approx(expected, rel=1e-6)


def test_naswot_by_hand() -> None:
    model = nn.Sequential(nn.ReLU())
    # Codes 11, 10, 00: K_H = N_A - Hamming = [[2,1,0],[1,2,1],[0,1,2]], det 4.
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [-2.0, -0.5]])
    assert PROXIES.get("naswot")(model, x, None, F.cross_entropy) == pytest.approx(math.log(4))
    same = torch.tensor([[1.0, -1.0], [2.0, -3.0]])  # identical codes: K_H singular
    assert PROXIES.get("naswot")(model, same, None, F.cross_entropy) == float("-inf")
    kernel = hamming_kernel([np.array([[1, 0], [0, 1]])])
    assert np.array_equal(kernel, [[2, 0], [0, 2]]) and log_det(kernel) == pytest.approx(
        2 * math.log(2)
    )


def test_params_and_flops_baselines() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = torch.randn(2, 4)
    assert PROXIES.get("params")(model, x, None, F.cross_entropy) == 15.0
    assert PROXIES.get("flops")(model, x, None, F.cross_entropy) == 2 * 4 * 3  # 2 per MAC


# --- the evaluator in a study ----------------------------------------------------------------
SPACE = ChainSpace(
    min_layers=1,
    max_layers=2,
    filters=(4, 8),
    kernels=(1, 3),
    strides=(1, 2),
    activations=("relu",),
)


def test_proxy_evaluator_in_a_study_on_digits() -> None:
    evaluator = ProxyEvaluator("synflow", "digits", space=SPACE, batch_size=32)
    study = Study(SPACE, RandomSearch(SPACE, seed=0, dedup=True), seed=0)
    study.optimize(evaluator, budget="5trials")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5
    for t in study.trials:
        assert set(t.metrics) == {"synflow", "params", "flops"} and t.cost > 0
        assert t.metrics["params"] > 0 and t.metrics["flops"] >= 0
    assert study.best().metrics["synflow"] == max(t.metrics["synflow"] for t in study.trials)
    # The same seed gives the same scores (initialisation and minibatch are seeded).
    again = Study(SPACE, RandomSearch(SPACE, seed=0, dedup=True), seed=0)
    again.optimize(
        ProxyEvaluator("synflow", "digits", space=SPACE, batch_size=32), budget="5trials"
    )
    assert [t.metrics for t in again.trials] == [t.metrics for t in study.trials]
    x, y = evaluator.minibatch()
    assert x.shape == (32, 1, 8, 8) and len(y) == 32
    # Sent to a worker process: the same scores there.
    clone = pickle.loads(pickle.dumps(evaluator))
    ctx = TrialContext(number=0, seed=7, reporter=Reporter())
    arch = study.trials[0].arch
    assert clone.evaluate(arch, ctx).metrics == evaluator.evaluate(arch, ctx).metrics
    assert evaluator.describe()["proxy"] == "synflow"


def test_an_undefined_proxy_fails_the_trial() -> None:
    # Pools only: no ReLU, so no activation codes and K_H = 0; naswot is -inf, and the
    # study records the trial as FAILED rather than ranking it.
    pools = SPACE.make([1, "avg_pool", 4, 3, 1, "relu", "conv", 4, 1, 1, "relu"])
    evaluator = ProxyEvaluator("naswot", "digits", space=SPACE, batch_size=16)
    study = Study(SPACE, Fixed(SPACE, pools), seed=0)
    study.optimize(evaluator, budget="1trials")
    (trial,) = study.trials
    assert trial.state is TrialState.FAILED and trial.error == "naswot is -inf"


class Fixed(Strategy):
    """Proposes one given architecture, again and again."""

    def __init__(self, space: ChainSpace, arch: Architecture) -> None:
        super().__init__(space)
        self.arch = arch

    def ask(self) -> Architecture | None:
        return self.arch

    def tell(self, arch: Architecture, result: Result) -> None:
        pass


# --- the pre-filter ------------------------------------------------------------------------
class Recording(RandomSearch):
    """Random search that remembers what it proposed and what it was told."""

    def __init__(self, space: NB201Space, seed: int) -> None:
        super().__init__(space, seed=seed, dedup=True)
        self.asked: list[Architecture] = []
        self.told: list[tuple[Architecture, Result]] = []

    def ask(self) -> Architecture | None:
        arch = super().ask()
        if arch is not None:
            self.asked.append(arch)
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        self.told.append((arch, result))


def fake_score(space: NB201Space) -> Callable[[Architecture], float]:
    return lambda arch: float(space.index(arch) % 97)


def test_prefilter_proposes_the_top_k_by_the_scorer() -> None:
    space = NB201Space()
    inner = Recording(space, seed=1)
    scorer = fake_score(space)
    strategy = ProxyPrefilter(inner, scorer, pool=10, keep=3)
    proposed = [strategy.ask() for _ in range(3)]
    assert len(inner.asked) == 10
    best = sorted(inner.asked, key=scorer, reverse=True)[:3]
    assert proposed == best
    # The 7 dropped ones were told to the inner strategy as PRUNED, with their score.
    dropped = {a for a, r in inner.told if r.state is TrialState.PRUNED}
    assert dropped == set(inner.asked) - set(best) and len(inner.told) == 7
    # Results of proposed ones pass through; the next ask starts a new pool.
    ok = Result(TrialState.COMPLETE, {"val_acc": 1.0}, 1.0, score=1.0)
    first = proposed[0]
    assert first is not None
    strategy.tell(first, ok)
    assert inner.told[-1] == (first, ok)
    strategy.ask()
    assert len(inner.asked) == 20


def test_prefilter_from_the_space_state_round_trip_and_bad_options() -> None:
    space = NB201Space()
    scorer = fake_score(space)
    inner: Strategy = RandomSearch(space, seed=0)
    a = ProxyPrefilter(inner, scorer, pool=8, keep=2, from_space=True, seed=5)
    first = [a.ask() for _ in range(3)]  # two rounds of 8 scored candidates
    assert all(arch is not None for arch in first) and len(a.scores) >= 9
    first_pool = list(a.scores)[:8]  # dicts keep insertion order: round 1's candidates
    assert scorer(first[0]) == max(scorer(s) for s in first_pool)  # type: ignore[arg-type]
    assert inner.pending is a.pending  # the study's bookkeeping reaches the inner strategy
    b = ProxyPrefilter(RandomSearch(space, seed=0), scorer, pool=8, keep=2, from_space=True)
    b.load_state_dict(a.state_dict())
    assert [a.ask() for _ in range(5)] == [b.ask() for _ in range(5)]
    for pool_, keep in ((0, 1), (4, 5), (4, 0)):
        with pytest.raises(ConfigError):
            ProxyPrefilter(inner, scorer, pool=pool_, keep=keep)


def test_prefilter_with_a_real_proxy_scorer_on_digits() -> None:
    scorer = proxy_scorer("params", SPACE, "digits", batch_size=16)
    strategy = ProxyPrefilter(RandomSearch(SPACE, seed=2, dedup=True), scorer, pool=6, keep=1)
    arch = strategy.ask()
    assert arch is not None and scorer(arch) == max(strategy.scores.values())
