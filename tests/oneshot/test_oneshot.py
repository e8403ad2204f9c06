"""One-shot NAS: the supernet's forward modes, the relaxations, DARTS's second-order
hypergradient, derivation, resume, and errors (tiny supernets on random tensors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.oneshot import METHODS, MixedOp, NB201Supernet, PathSpec, SearchData, search
from archsearch.oneshot.base import argmax_cell, op_shares
from archsearch.oneshot.darts import unrolled_arch_grad
from archsearch.oneshot.gdas import hard_gumbel
from archsearch.space.nb201 import OPS, NB201Space


def _data(n: int = 96, size: int = 8, seed: int = 0) -> SearchData:
    g = torch.Generator().manual_seed(seed)
    return SearchData(
        torch.randn(n, 3, size, size, generator=g),
        torch.randint(0, 10, (n,), generator=g),
        torch.randn(n, 3, size, size, generator=g),
        torch.randint(0, 10, (n,), generator=g),
        num_classes=10,
        padding=1,
        description={"dataset": "random", "n": n},
    )


_TINY = dict(epochs=2, channels=4, cells_per_stage=1, batch_size=32, eval_size=32)


def _bn(x: torch.Tensor) -> torch.Tensor:
    # affine-free batch norm with batch statistics: the supernet's BN
    return F.batch_norm(x, None, None, training=True, eps=1e-5)


def test_weighted_sum_equals_hand_computed_combination() -> None:
    torch.manual_seed(0)
    mixed = MixedOp(4)
    x = torch.randn(3, 4, 6, 6)
    w = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15])
    conv1 = mixed.ops[OPS.index("nor_conv_1x1")][1].weight
    conv3 = mixed.ops[OPS.index("nor_conv_3x3")][1].weight
    expected = {
        "none": torch.zeros_like(x),
        "skip_connect": x,
        "nor_conv_1x1": _bn(F.conv2d(F.relu(x), conv1)),
        "nor_conv_3x3": _bn(F.conv2d(F.relu(x), conv3, padding=1)),
        "avg_pool_3x3": F.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
    }
    hand = sum(w[OPS.index(name)] * out for name, out in expected.items())
    mixed.train()
    got = mixed(x, w, None)
    assert torch.allclose(got, hand, atol=1e-5)


def _count_calls(net: torch.nn.Module) -> dict[tuple[int, int], int]:
    """(cell, edge, op) -> forward calls, via hooks on every candidate op."""
    counts: dict[tuple[int, int], int] = {}
    cells = [m for m in net.modules() if m.__class__.__name__ == "SuperCell"]
    for c, cell in enumerate(cells):
        for e, mixed in enumerate(cell.mixed):
            for k, op in enumerate(mixed.ops):
                key = (c * 100 + e, k)
                counts[key] = 0

                def hook(*_: object, key: tuple[int, int] = key) -> None:
                    counts[key] += 1

                op.register_forward_hook(hook)
    return counts


def test_single_path_runs_only_the_chosen_op() -> None:
    torch.manual_seed(0)
    net = NB201Supernet(10, channels=4, cells_per_stage=2)
    counts = _count_calls(net)
    index = [3, 1, 4, 2, 0, 3]
    net(torch.randn(2, 3, 8, 8), PathSpec(index=index))
    for (cell_edge, k), n in counts.items():
        assert n == (1 if index[cell_edge % 100] == k else 0)
    # weighted sum runs every op once per edge
    for key in counts:
        counts[key] = 0
    net(torch.randn(2, 3, 8, 8), PathSpec(weights=torch.full((6, 5), 0.2)))
    assert all(n == 1 for n in counts.values())


def test_gdas_forward_is_one_hot_and_gradients_reach_alpha() -> None:
    torch.manual_seed(0)
    alpha = torch.nn.Parameter(torch.randn(6, 5))
    weights, index = hard_gumbel(alpha, 1.0, torch.Generator().manual_seed(3))
    one_hot = F.one_hot(torch.tensor(index), 5).float()
    assert torch.equal(weights.detach(), one_hot)
    net = NB201Supernet(10, channels=4, cells_per_stage=1)
    counts = _count_calls(net)
    out = net(torch.randn(4, 3, 8, 8), PathSpec(weights=weights, index=index))
    assert sum(counts.values()) == 3 * 6  # one op per edge ran, in each of 3 cells
    F.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all()
    assert (alpha.grad.abs().sum(dim=1) > 0).all()  # every edge's alpha learns


def test_second_order_hypergradient_matches_finite_differences() -> None:
    torch.set_default_dtype(torch.float64)
    try:
        g = torch.Generator().manual_seed(0)
        W = torch.nn.Parameter(torch.randn(4, 3, generator=g))
        alpha = torch.nn.Parameter(torch.randn(3, generator=g))
        xt, yt = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
        xv, yv = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)

        def model(x: torch.Tensor, w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            h = x @ w
            p = torch.softmax(a, 0)  # a mixed op of three candidate "ops"
            return p[0] * h + p[1] * torch.tanh(h) + p[2] * h**2

        def lt(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return ((model(xt, w, a) - yt) ** 2).mean()

        def lv(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return ((model(xv, w, a) - yv) ** 2).mean()

        xi = 0.2
        (got,) = unrolled_arch_grad([W], [alpha], lambda: lt(W, alpha), lambda: lv(W, alpha), xi)

        def unrolled(a: torch.Tensor) -> float:
            w = W.detach().clone().requires_grad_(True)
            (gw,) = torch.autograd.grad(lt(w, a), [w])
            return float(lv(w.detach() - xi * gw, a))

        h = 1e-6
        numeric = torch.zeros(3)
        for i in range(3):
            e = torch.zeros(3)
            e[i] = h
            numeric[i] = (unrolled(alpha.detach() + e) - unrolled(alpha.detach() - e)) / (2 * h)
        assert torch.allclose(got, numeric, rtol=1e-4, atol=1e-7)
        # the second-order term matters here: the first-order gradient is different
        (first,) = torch.autograd.grad(lv(W, alpha), [alpha])
        assert not torch.allclose(first, numeric, rtol=1e-2)
    finally:
        torch.set_default_dtype(torch.float32)


def test_argmax_derivation_excludes_none() -> None:
    alpha = torch.zeros(6, 5)
    alpha[:, OPS.index("none")] = 5.0
    alpha[:, OPS.index("nor_conv_3x3")] = 1.0
    assert argmax_cell(alpha) == [OPS.index("nor_conv_3x3")] * 6
    assert argmax_cell(alpha, exclude_none=False) == [OPS.index("none")] * 6


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("darts", {}),
        ("darts", {"order": 2}),
        ("darts-", {}),
        ("darts-pt", {}),
        ("darts-pt", {"tune_epochs": 0}),
        ("drnas", {}),
        ("drnas", {"keep": 2}),
        ("snas", {}),
        ("gdas", {}),
        ("enas", {"controller_steps": 3, "n_derive": 4, "reward_batch": 16}),
        ("rsps", {"n_derive": 4}),
    ],
)
def test_every_method_derives_a_valid_cell(method: str, options: dict[str, object]) -> None:
    result = search(
        method=method,
        data=_data(),
        method_options=options,
        seed=1,
        **_TINY,  # type: ignore[arg-type]
    )
    NB201Space().validate(result.arch)
    assert NB201Space().from_arch_str(result.arch_str) == result.arch
    assert set(result.nb201_test) == {"cifar10", "cifar100", "ImageNet16-120"}
    assert all(0 < v <= 100 for v in result.nb201_test.values())
    assert len(result.history) == 2 and result.epochs_run == 2
    if method in ("darts", "darts-", "snas", "gdas"):
        assert "none" not in result.arch.values
        shares = op_shares(result.arch)
        assert result.history[-1]["skip_share"] == shares["skip_share"]


def test_partial_channel_mixed_op_keeps_the_shape() -> None:
    torch.manual_seed(0)
    mixed = MixedOp(8, partial_channels=4)
    assert mixed.ops[OPS.index("nor_conv_3x3")][1].in_channels == 2  # 1/K of the channels
    x = torch.randn(2, 8, 5, 5)
    out = mixed(x, torch.full((5,), 0.2), None)
    assert out.shape == x.shape
    # the bypassed 3/4 of the channels come through unchanged, shuffled
    bypassed = {tuple(x[0, c].flatten().tolist()) for c in range(2, 8)}
    assert bypassed <= {tuple(out[0, c].flatten().tolist()) for c in range(8)}
    net = NB201Supernet(10, channels=8, cells_per_stage=1, partial_channels=4)
    assert net(torch.randn(2, 3, 8, 8), PathSpec(weights=torch.full((6, 5), 0.2))).shape == (2, 10)
    with pytest.raises(ConfigError, match="partial_channels"):
        MixedOp(6, partial_channels=4)


class _Killed(Exception):
    pass


@pytest.mark.parametrize("method", ["gdas", "enas", "darts-pt", "drnas"])
def test_resume_after_interruption_is_bit_identical(method: str, tmp_path: Path) -> None:
    options = {"controller_steps": 3, "n_derive": 4, "reward_batch": 16} if method == "enas" else {}
    kw = dict(method=method, data=_data(), method_options=options, seed=3, **_TINY)
    whole = search(out_dir=tmp_path / "whole", **kw)  # type: ignore[arg-type]

    def kill(record: dict[str, object]) -> None:
        if record["epoch"] == 1:
            raise _Killed

    with pytest.raises(_Killed):
        search(out_dir=tmp_path / "cut", on_epoch=kill, **kw)  # type: ignore[arg-type]
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    resumed = search(out_dir=tmp_path / "cut", **kw)  # type: ignore[arg-type]
    assert resumed.arch == whole.arch
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    for key, tensor in a["supernet"].items():
        assert torch.equal(tensor, b["supernet"][key]), key
    if method == "darts-pt":  # the edge decided at the end of epoch 1 survives the kill
        assert a["method"]["decided"] == b["method"]["decided"]
        assert sum(op >= 0 for op in b["method"]["decided"]) == 2
    if method in ("gdas", "darts-pt", "drnas"):
        assert torch.equal(a["method"]["alpha"], b["method"]["alpha"])
    else:
        assert a["method"]["strategy"]["controller"] == b["method"]["strategy"]["controller"]


def test_resume_refuses_another_configuration(tmp_path: Path) -> None:
    search(method="rsps", data=_data(), out_dir=tmp_path, method_options={"n_derive": 2}, **_TINY)
    with pytest.raises(ConfigError, match="method"):
        search(method="gdas", data=_data(), out_dir=tmp_path, **_TINY)  # type: ignore[arg-type]


def test_darts_minus_beta_decays_to_zero() -> None:
    from archsearch.oneshot.base import StepContext
    from archsearch.oneshot.collapse import DARTSMinus

    m = DARTSMinus(NB201Supernet(10, channels=4, cells_per_stage=1), NB201Space(), 0)
    assert m.aux_skip(StepContext(1, 2, 0.0, 0.1)) == 1.0
    assert m.aux_skip(StepContext(2, 2, 0.5, 0.1)) == 0.5
    assert m.aux_skip(StepContext(2, 2, 1.0, 0.1)) == 0.0


def test_darts_pt_keeps_the_op_whose_removal_costs_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The selection rule on a scripted supernet score: on every edge, removing
    nor_conv_1x1 costs the most accuracy, except edge 2, where removing `none` does; a
    tie in accuracy goes to the higher loss. Each edge is decided once, in random order,
    and a decided edge runs with a one-hot weight."""
    from archsearch.oneshot import projection

    def score(_net: object, spec: PathSpec, _x: object, _y: object) -> tuple[float, float]:
        assert spec.weights is not None
        removed = {(e, k) for e, k in (spec.weights == 0).nonzero().tolist()}
        acc, loss = 90.0, 0.5
        for e, k in removed:
            if e in fixed:  # a decided edge's other ops are 0: not a removal
                continue
            wanted = OPS.index("none") if e == 2 else OPS.index("nor_conv_1x1")
            if k == wanted:
                acc, loss = 70.0, 1.0
            elif k == OPS.index("avg_pool_3x3"):
                acc, loss = 70.0, 0.9  # as low an accuracy, a smaller loss: loses the tie
        return acc, loss

    fixed: dict[int, int] = {}
    monkeypatch.setattr(projection, "supernet_score", score)
    m = projection.DARTSPT(NB201Supernet(10, channels=4, cells_per_stage=1), NB201Space(), 0)
    x, y = torch.zeros(1), torch.zeros(1)
    order = []
    for _ in range(6):
        edge, op = m.project_edge(x, y)
        fixed[edge] = op
        order.append(edge)
        row = m.op_weights()[edge]
        assert row[op] == 1.0 and row.sum() == 1.0
    assert sorted(order) == list(range(6)) and order != list(range(6))
    assert m.decided == [
        OPS.index("none") if e == 2 else OPS.index("nor_conv_1x1") for e in range(6)
    ]
    assert m.derive(x, y).values == NB201Space().make([OPS[op] for op in m.decided]).values


def test_drnas_samples_the_dirichlet_and_prunes_to_the_largest_concentrations() -> None:
    """DrNAS's op weights are a fresh pathwise Dirichlet sample per call whose mean is
    beta / sum(beta), beta = elu(alpha) + 1; gradients reach alpha through the sample;
    after half the search (keep=2) each edge runs, and derives from, its 2 ops of
    largest concentration only; the same seed gives the same samples."""
    from archsearch.oneshot.base import Batches, StepContext
    from archsearch.oneshot.dirichlet import DrNAS

    def make(seed: int) -> DrNAS:
        return DrNAS(NB201Supernet(10, channels=4, cells_per_stage=1), NB201Space(), seed, keep=2)

    m = make(0)
    with torch.no_grad():
        m.alpha.copy_(torch.tensor([[-0.5, 0.0, 1.0, 2.0, 0.5]] * 6))
    beta = F.elu(m.alpha.detach()) + 1
    samples = torch.stack([m.op_weights().detach() for _ in range(4000)])
    assert torch.allclose(samples.sum(-1), torch.ones(4000, 6), atol=1e-5)
    assert not torch.equal(samples[0], samples[1])
    assert torch.allclose(samples.mean(0), beta / beta.sum(1, keepdim=True), atol=0.01)
    assert torch.allclose(torch.tensor(m.arch_probabilities()), beta / beta.sum(1, keepdim=True))
    m.op_weights()[:, 3].sum().backward()
    assert m.alpha.grad is not None and bool((m.alpha.grad != 0).all())
    assert torch.equal(make(5).op_weights(), make(5).op_weights())

    m.alpha.grad = None
    data = _data(n=32)
    batches = Batches(data.x_train, data.y_train, data.x_val, data.y_val)
    w_opt = torch.optim.SGD(m.supernet.parameters(), lr=0.01)
    m.train_step(batches, w_opt, StepContext(1, 2, 0.25, 0.01))
    assert bool(m.mask.all())  # first half: every op
    m.train_step(batches, w_opt, StepContext(2, 2, 0.5, 0.01))
    assert m.mask.sum(1).tolist() == [2] * 6
    top2 = m.alpha.detach().topk(2, dim=1).indices.sort(dim=1).values
    assert m.mask.nonzero()[:, 1].view(6, 2).tolist() == top2.tolist()
    w = m.op_weights()
    assert bool((w[~m.mask] == 0).all()) and torch.allclose(w.sum(1), torch.ones(6))
    chosen = [OPS.index(v) for v in m.derive(data.x_val, data.y_val).values]
    assert all(bool(m.mask[e, k]) for e, k in enumerate(chosen))


def test_clear_errors_for_bad_names_and_options() -> None:
    with pytest.raises(ConfigError, match="unknown one-shot method 'dartz'"):
        search(method="dartz", data=_data(), **_TINY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="space 'nasnet'"):
        search(space="nasnet", data=_data(), **_TINY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no option 'temperature'"):
        search(method="gdas", data=_data(), method_options={"temperature": 3}, **_TINY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="order"):
        search(method="darts", data=_data(), method_options={"order": 3}, **_TINY)  # type: ignore[arg-type]
    assert {"darts", "darts-", "darts-pt", "snas", "gdas", "enas", "rsps"} <= set(METHODS.names())
    with pytest.raises(ConfigError, match="tune_epochs"):
        search(method="darts-pt", data=_data(), method_options={"tune_epochs": -1}, **_TINY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="keep must be"):
        search(method="drnas", data=_data(), method_options={"keep": 6}, **_TINY)  # type: ignore[arg-type]


def test_command_runs_and_resumes_from_its_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from archsearch.cli import oneshot as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    argv = [
        "oneshot", "--method", "rsps", "--dataset", "digits", "--epochs", "1",
        "--channels", "4", "--cells-per-stage", "1", "--n-derive", "3",
        "--eval-size", "64", "--out", str(tmp_path),
    ]  # fmt: skip
    args = parser.parse_args(argv)
    assert command.main(args) == 0
    first = capsys.readouterr().out
    assert "epoch 1/1" in first and "derived cell: |" in first
    assert (tmp_path / "checkpoints" / "checkpoint.pt").exists()
    assert (tmp_path / "summary.json").exists()
    assert command.main(parser.parse_args(argv)) == 0  # the same command again: resumes
    second = capsys.readouterr().out
    assert "epoch 1/1" not in second  # no epoch trained again
    assert second.splitlines()[0] == first.splitlines()[1]  # the same derived cell


def test_darts_space_supernet_and_derivation() -> None:
    from archsearch.oneshot.darts_supernet import (
        CELL_EDGES,
        SEARCH_OPS,
        DartsSupernet,
        derive_darts,
    )
    from archsearch.space.darts import DartsSpace

    torch.manual_seed(0)
    net = DartsSupernet(10, channels=4, cells=5)
    x = torch.randn(2, 3, 8, 8)
    assert net(x, PathSpec(weights=torch.full((28, 8), 1 / 8))).shape == (2, 10)
    assert net(x, PathSpec(index=[3] * 28)).shape == (2, 10)
    # Oracle: on node 3 (edges from states 0, 1, 2) make edge 2->3 strongest with
    # sep_conv_3x3 and 0->3 second with max_pool; `none` is largest everywhere else.
    alpha = torch.zeros(28, 8)
    alpha[:, 0] = 10.0  # none: never kept
    node3 = [e for e, (i, j) in enumerate(CELL_EDGES) if j == 3]
    alpha[node3[2], SEARCH_OPS.index("sep_conv_3x3")] = 4.0
    alpha[node3[0], SEARCH_OPS.index("max_pool_3x3")] = 3.0
    arch = derive_darts(alpha)
    DartsSpace().validate(arch)
    normal = DartsSpace().cell(arch, "normal")
    assert sorted(normal[2:4]) == [("max_pool_3x3", 0), ("sep_conv_3x3", 2)]
    assert all(op != "none" for op, _ in normal)


def test_gradient_methods_search_the_darts_space() -> None:
    from archsearch.space.darts import DartsSpace

    result = search(space="darts", method="gdas", data=_data(), **_TINY)  # type: ignore[arg-type]
    DartsSpace().validate(result.arch)
    assert result.nb201_test == {} and result.arch_str.startswith("Genotype(")
    assert "none" not in result.arch.values
    with pytest.raises(ConfigError, match="does not search the darts space"):
        search(space="darts", method="enas", data=_data(), **_TINY)  # type: ignore[arg-type]


@pytest.mark.slow
def test_darts_space_cell_is_retrained_through_the_training_path() -> None:
    # digits (8x8 grey): searched, then the derived cell retrained from scratch
    result = search(
        space="darts", method="darts", dataset="digits", retrain_epochs=1, train_size=256,
        val_size=128, **{**_TINY, "epochs": 1},  # type: ignore[arg-type]
    )  # fmt: skip
    assert result.retrain is not None and 0.0 <= result.retrain["test_acc"] <= 100.0
    assert result.retrain["epochs"] == 1


def test_darts_plus_stops_once_skips_dominate() -> None:
    from archsearch.oneshot.darts import DARTS

    space = NB201Space()
    m = DARTS(NB201Supernet(10, channels=4, cells_per_stage=1), space, 0, stop_skips=2)
    two = space.make(["skip_connect", "skip_connect"] + ["nor_conv_3x3"] * 4)
    one = space.make(["skip_connect"] + ["nor_conv_3x3"] * 5)
    assert m.stop_early(two) and not m.stop_early(one)
    with pytest.raises(ConfigError, match="stop_skips"):
        DARTS(NB201Supernet(10, channels=4, cells_per_stage=1), space, 0, stop_skips=7)
