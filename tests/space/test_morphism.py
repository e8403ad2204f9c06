"""Network morphisms (Net2Net widen/deepen, skip, kernel growth) and weight inheritance.

The oracle for every morph is the parent network itself: a trained parent and its
morphed child must give the same outputs (eval mode) within 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import TaskSpec
from archsearch.core.trial import Reporter
from archsearch.estimation.base import TrialContext
from archsearch.estimation.inheritance import InheritanceEvaluator
from archsearch.estimation.training import TrainingEvaluator
from archsearch.nn.morph import morph_module
from archsearch.space.chain import ChainSpace, LayerSpec
from archsearch.space.morphism import (
    MORPH_KINDS,
    Morph,
    add_skip,
    apply_morph,
    available_morphs,
    deepen,
    grow_kernel,
    one_morph_away,
    random_morph,
    widen,
)

SPACES = {
    "all-acts": ChainSpace(
        min_layers=2,
        max_layers=5,
        filters=(4, 8, 12),
        kernels=(1, 3, 5),
        strides=(1, 2),
        activations=("relu", "elu", "silu", "tanh"),
    ),
    "relu": ChainSpace(min_layers=3, max_layers=6, filters=(6, 10), activations=("relu",)),
}
TASK = TaskSpec((3, 9, 9), 5)


def trained_parent(space: ChainSpace, seed: int) -> tuple[object, torch.nn.Module, torch.Tensor]:
    """A random genotype whose network took a few SGD steps (non-trivial weights and
    batch-norm statistics), in eval mode, and an input batch."""
    arch = space.sample(np.random.default_rng(seed))
    torch.manual_seed(seed)
    net = space.build(arch, TASK)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(16, *TASK.input_shape), torch.randint(0, TASK.num_classes, (16,))
    net.train()
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return arch, net.eval(), x


@pytest.fixture(autouse=True)
def one_thread():  # type: ignore[no-untyped-def]
    """Single-threaded torch (tiny networks; the machine is shared), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("space_name", list(SPACES))
def test_morph_preserves_the_function(space_name: str) -> None:
    space = SPACES[space_name]
    checked = dict.fromkeys(MORPH_KINDS, 0)
    for seed in range(16):
        arch, net, x = trained_parent(space, seed)
        with torch.no_grad():
            before = net(x)
        rng = np.random.default_rng(seed)
        for kind in MORPH_KINDS:
            morphs = [m for m in available_morphs(space, arch) if m.kind == kind]
            for k in rng.permutation(len(morphs))[:2]:
                m = morphs[int(k)]
                child = apply_morph(space, arch, m)
                space.validate(child)
                assert space.canonicalize(child) == child
                assert child != arch
                found = one_morph_away(space, arch, child)
                assert found is not None and found.kind == kind
                assert apply_morph(space, arch, found) == child
                if kind != "deepen":  # inserting after i or i+1 can give the same genotype
                    assert found == m
                calibration = x if seed % 2 else None
                cnet = morph_module(space, arch, child, net, TASK, morph=m, calibration=calibration)
                assert not cnet.training
                with torch.no_grad():
                    after = cnet(x)
                assert torch.allclose(after, before, atol=1e-5, rtol=0), (m, space.describe(arch))
                checked[kind] += 1
        with torch.no_grad():  # the parent is left untouched
            assert torch.equal(net(x), before)
    assert min(checked.values()) >= 6, f"too few morphs exercised: {checked}"


def test_widen_copies_units_and_divides_their_consumers() -> None:
    """Net2WiderNet: the new units copy old ones; the next layer's weights from a unit
    with n copies are the parent's divided by n."""
    space = SPACES["relu"]
    layers = [
        LayerSpec("conv", 6, 3, 1, "relu", ()),
        LayerSpec("conv", 6, 3, 1, "relu", ()),
        LayerSpec("conv", 6, 1, 1, "relu", ()),
    ]
    arch = space.from_layers(layers)
    net = space.build(arch, TASK).eval()
    child = widen(space, arch, 0, 10)
    cnet = morph_module(space, arch, child, net, TASK, rng=np.random.default_rng(1))
    w_old, w_new = net.layers[0][0].weight.detach(), cnet.layers[0][0].weight.detach()
    assert w_new.shape[0] == 10
    copies = [
        int(np.argmin([(w_new[c] - w_old[o]).abs().max() for o in range(6)])) for c in range(10)
    ]
    assert copies[:6] == list(range(6))
    for c in range(10):
        assert torch.equal(w_new[c], w_old[copies[c]])
    n = np.bincount(copies, minlength=6)
    nxt_old, nxt_new = net.layers[1][0].weight.detach(), cnet.layers[1][0].weight.detach()
    for c in range(10):
        assert torch.allclose(nxt_new[:, c], nxt_old[:, copies[c]] / n[copies[c]])


def test_unequal_split_preserves_the_function_and_breaks_symmetry() -> None:
    """With equal shares, a unit and its copy get equal gradients and stay identical;
    with `split_noise` the function is still preserved but one SGD step separates them."""
    space = SPACES["relu"]
    layers = [LayerSpec("conv", 6, 3, 1, "relu", ()), LayerSpec("conv", 6, 3, 1, "relu", ())]
    arch = space.from_layers([*layers, LayerSpec("conv", 6, 1, 1, "relu", ())])
    torch.manual_seed(0)
    net = space.build(arch, TASK).eval()
    child = widen(space, arch, 0, 10)
    x = torch.randn(8, *TASK.input_shape)
    y = torch.randint(0, TASK.num_classes, (8,))
    gaps = {}
    for noise in (0.0, 0.3):
        cnet = morph_module(
            space, arch, child, net, TASK, rng=np.random.default_rng(2), split_noise=noise
        )
        with torch.no_grad():
            assert torch.allclose(cnet(x), net(x), atol=1e-5, rtol=0)
        w = cnet.layers[0][0].weight.detach()
        copy = 6  # the first new channel: a copy of some unit o < 6
        o = int(np.argmin([float((w[copy] - w[u]).abs().max()) for u in range(6)]))
        cnet.train()
        torch.nn.functional.cross_entropy(cnet(x), y).backward()
        g = cnet.layers[0][0].weight.grad
        gaps[noise] = float((g[copy] - g[o]).abs().max())
    assert gaps[0.0] < 1e-7
    assert gaps[0.3] > 1e-5


def test_deepen_only_where_an_identity_layer_exists() -> None:
    space = SPACES["all-acts"]
    layers = [
        LayerSpec("conv", 8, 3, 1, "silu", ()),  # output can be negative
        LayerSpec("conv", 8, 3, 1, "relu", ()),  # output >= 0
        LayerSpec("avg_pool", 8, 3, 1, "relu", ()),  # average of >= 0: >= 0
    ]
    arch = space.from_layers(layers)
    with pytest.raises(GenotypeError, match="negative"):
        deepen(space, arch, 0)
    child = deepen(space, arch, 1)
    inserted = space.layers(child)[2]
    assert (inserted.op, inserted.filters, inserted.stride, inserted.act) == ("conv", 8, 1, "relu")
    deepen(space, arch, 2)  # after a pool of non-negative values
    listed = {m.layer for m in available_morphs(space, arch) if m.kind == "deepen"}
    assert listed == {1, 2}
    # A pool on the image (which can be negative) cannot be followed by an inserted layer.
    pooled = space.from_layers([LayerSpec("max_pool", 8, 3, 1, "relu", ()), *layers[1:]])
    assert all(m.layer != 0 for m in available_morphs(space, pooled) if m.kind == "deepen")


def test_deepen_shifts_skips() -> None:
    space = SPACES["relu"]
    layers = [LayerSpec("conv", 6, 3, 1, "relu", ())] * 3 + [
        LayerSpec("conv", 10, 3, 1, "relu", (0, 1))
    ]
    arch = space.from_layers(layers)
    child = deepen(space, arch, 1)
    assert [spec.skips for spec in space.layers(child)] == [(), (), (), (), (0, 1)]
    child = deepen(space, arch, 0)
    assert [spec.skips for spec in space.layers(child)] == [(), (), (), (), (0, 2)]


def test_invalid_morphs_are_clear_errors() -> None:
    space = SPACES["relu"]
    layers = [LayerSpec("conv", 10, 5, 1, "relu", ()), LayerSpec("max_pool", 6, 3, 1, "relu", ())]
    layers += [LayerSpec("conv", 6, 3, 1, "relu", (0,))]
    arch = space.from_layers(layers)
    with pytest.raises(GenotypeError, match="filters"):
        widen(space, arch, 0, 6)  # narrowing is not a morphism
    with pytest.raises(GenotypeError, match="not a conv"):
        widen(space, arch, 1, 10)
    with pytest.raises(GenotypeError, match="kernel"):
        grow_kernel(space, arch, 0, 3)
    with pytest.raises(GenotypeError, match="already"):
        add_skip(space, arch, 2, 0)
    with pytest.raises(GenotypeError, match="unknown kind"):
        apply_morph(space, arch, Morph("prune", 0, 1))
    net = space.build(arch, TASK)
    far = widen(space, grow_kernel(space, arch, 2, 5), 2, 10)
    with pytest.raises(GenotypeError, match="not one morph away"):
        morph_module(space, arch, far, net, TASK)


def test_one_morph_away_rejects_other_pairs() -> None:
    space = SPACES["all-acts"]
    rng = np.random.default_rng(7)
    for _ in range(20):
        arch = space.sample(rng)
        assert one_morph_away(space, arch, arch) is None
        step = random_morph(space, arch, rng)
        if step is None:
            continue
        _, child = step
        assert one_morph_away(space, arch, child) is not None
        # A morph never shrinks: the reverse direction is not a morph.
        assert one_morph_away(space, child, arch) is None
        second = random_morph(space, child, rng)
        if second is not None and second[1] != child:
            grandchild = second[1]
            if one_morph_away(space, arch, grandchild) is None:
                continue
            # Two morphs can coincide with one only for deepen-then-widen of the new layer
            # and similar; whatever is reported must reproduce the genotype.
            found = one_morph_away(space, arch, grandchild)
            assert found is not None and apply_morph(space, arch, found) == grandchild
    other = ChainSpace(max_layers=4)
    assert one_morph_away(space, other.sample(rng), space.sample(rng)) is None


def test_random_morph_is_seeded_and_covers_every_kind() -> None:
    space = SPACES["relu"]
    arch = space.from_layers([LayerSpec("conv", 6, 3, 1, "relu", ()) for _ in range(3)])
    a = [random_morph(space, arch, np.random.default_rng(s)) for s in range(40)]
    b = [random_morph(space, arch, np.random.default_rng(s)) for s in range(40)]
    assert a == b
    kinds = {step[0].kind for step in a if step is not None}
    assert kinds == set(MORPH_KINDS)
    for step in a:
        assert step is not None
        assert apply_morph(space, arch, step[0]) == step[1]


# --- the inheritance evaluator --------------------------------------------------------------
DIGITS_SPACE = ChainSpace(min_layers=2, max_layers=4, filters=(16, 32), kernels=(1, 3, 5))


def _ctx(number: int) -> TrialContext:
    return TrialContext(number, number, Reporter())


def test_inherit_evaluator_starts_child_from_parent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    space = DIGITS_SPACE
    parent = space.from_layers(
        [
            LayerSpec("conv", 16, 3, 1, "relu", ()),
            LayerSpec("conv", 16, 3, 2, "relu", ()),
            LayerSpec("max_pool", 16, 3, 1, "relu", ()),
        ],
    )
    settings = {"space": space, "epochs": 6, "latency_repeats": 1}
    ev = InheritanceEvaluator("digits", weights_dir=tmp_path, inherit_epochs=1, **settings)
    first = ev.evaluate(parent, _ctx(3))
    assert first.metrics["inherited"] == 0 and first.metrics["epochs"] == 6
    parent_acc = first.metrics["val_acc"]
    assert parent_acc > 80
    assert len(list(tmp_path.glob("*.pt"))) == 1 and not list(tmp_path.glob("*.tmp"))

    scratch = TrainingEvaluator("digits", **{**settings, "epochs": 1})
    for morph in [Morph("widen", 0, 32), Morph("deepen", 1, 3), Morph("skip", 2, 0)]:
        child = apply_morph(space, parent, morph)
        result = ev.evaluate(child, _ctx(10))
        m = result.metrics
        assert m["inherited"] == 1 and m["inherited_from"] == 3
        assert m["morph"] == MORPH_KINDS.index(morph.kind)
        assert m["epochs"] == 1
        # The morphed child is the parent's function: the same validation accuracy.
        assert m["val_acc_inherited"] == pytest.approx(parent_acc, abs=1e-9)
        # After one epoch it is near the parent, far above one epoch from scratch.
        assert m["val_acc"] >= parent_acc - 3.0
        assert m["val_acc"] > scratch.evaluate(child, _ctx(10)).metrics["val_acc"] + 5.0

    # Two morphs away from everything stored: trained from scratch.
    far = widen(space, grow_kernel(space, parent, 0, 5), 1, 32)
    far = add_skip(space, far, 2, 0)
    result = ev.evaluate(far, _ctx(11))
    assert result.metrics["inherited"] == 0 and result.metrics["epochs"] == 6
    # A fresh evaluator sharing the directory sees the stored networks.
    again = InheritanceEvaluator("digits", weights_dir=tmp_path, **settings)
    assert len(again.stored()) == 5
