"""Networks built from genotypes: every space that builds runs forward and backward on
small images of any shape; parameter counts match published oracles (the NAS-Bench-201
table, DARTS' own network); the chain and DARTS spaces keep their genotype contracts."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.benchmarks.nb201 import NB201Table
from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.base import SPACES, SearchSpace
from archsearch.space.chain import ChainSpace  # importing registers "chain"
from archsearch.space.darts import DartsSpace  # importing registers "darts"
from archsearch.space.nb201 import NB201Space

# Small build options keep the suite fast; spaces not named here build with defaults.
SMALL: dict[str, dict[str, Any]] = {
    "nb201": {"channels": 4, "cells_per_stage": 1},
    "darts": {"channels": 4, "cells": 3},
    "chain": {},  # the defaults are already small
}
SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]

# DARTS (second order) as published by Liu et al., and its CIFAR-10 network's size.
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def space_of(name: str) -> SearchSpace:
    return SPACES.get(name)(**SMALL.get(name, {}))


# Spaces whose networks read tokens, not images (tested in their own files).
NOT_IMAGE = {"rnn_cell"}  # language models: tests/space/test_recurrent.py


def building_spaces() -> list[str]:
    return [
        name
        for name in SPACES.names()
        if name not in NOT_IMAGE and (name in SMALL or _builds(name))
    ]


def _builds(name: str) -> bool:
    space = SPACES.get(name)()
    try:
        space.build(space.sample(np.random.default_rng(0)), TaskSpec((1, 8, 8), 2))
    except NotImplementedError:
        return False
    return True


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _batch(shape: tuple[int, ...], n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


# --- every space that builds ---------------------------------------------------------------


@pytest.mark.parametrize("name", building_spaces())
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_random_networks_run_forward_and_backward(
    name: str, seed: int, shape: tuple[int, ...]
) -> None:
    space = space_of(name)
    arch = space.sample(np.random.default_rng(seed))
    num_classes = (2, 10, 7)[seed]
    model = space.build(arch, TaskSpec(shape, num_classes))
    logits = model(_batch(shape, seed=seed))
    assert logits.shape == (2, num_classes)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", [(2, 7, 5), (1, 1, 1), (4, 13, 13)])
def test_odd_and_tiny_inputs(name: str, shape: tuple[int, ...]) -> None:
    space = space_of(name)
    for seed in range(3):
        model = space.build(space.sample(np.random.default_rng(seed)), TaskSpec(shape, 3))
        assert model(_batch(shape)).shape == (2, 3)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_build_rejects_an_invalid_genotype(name: str) -> None:
    space = space_of(name)
    arch = space.sample(np.random.default_rng(0))
    bad = Architecture(arch.space, arch.choices[:-1])
    with pytest.raises(GenotypeError):
        space.build(bad, TaskSpec((1, 8, 8), 2))


def test_importing_the_spaces_does_not_import_torch() -> None:
    code = (
        "import sys, archsearch.space, archsearch.space.chain, archsearch.space.darts, "
        "archsearch.export; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- NAS-Bench-201 ---------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 6111, 1835, 11472])
def test_nb201_parameters_match_the_benchmark_table(index: int) -> None:
    space = NB201Space()  # C=16, N=5: the benchmark's network
    model = space.build(space.from_index(index), TaskSpec((3, 32, 32), 10))
    expected = NB201Table().params_m(index, "cifar10")
    assert _n_params(model) / 1e6 == pytest.approx(expected, rel=1e-4)


def test_nb201_options_shape_the_network() -> None:
    arch = NB201Space().from_index(6111)
    small = NB201Space(channels=8, cells_per_stage=2).build(arch, TaskSpec((3, 32, 32), 10))
    assert small.classifier.in_features == 32
    assert len(small.cells) == 3 * 2 + 2  # cells plus two residual reductions
    with pytest.raises(ConfigError):
        NB201Space(channels=0)


# --- DARTS -------------------------------------------------------------------------------------


def test_darts_v2_network_has_the_published_size() -> None:
    # Liu et al. report 3.3M parameters; their code logs "param size = 3.349342MB" for
    # DARTS_V2 at 36 channels and 20 cells (auxiliary head excluded).
    space = DartsSpace(channels=36, cells=20)
    model = space.build(space.parse(DARTS_V2), TaskSpec((3, 32, 32), 10))
    assert _n_params(model) == 3_349_342


def test_darts_genotype_text_round_trip_and_canonical_form() -> None:
    space = DartsSpace()
    arch = space.parse(DARTS_V2)
    assert space.parse(space.to_genotype_str(arch)) == arch
    assert arch["normal.node5.in2"] == 2 and arch["normal.node5.op2"] == "dil_conv_3x3"
    # swapping a node's two (input, op) pairs gives an equal canonical form
    values = list(arch.values)
    values[0:4] = [values[2], values[3], values[0], values[1]]
    swapped = space.make(values)
    assert swapped != arch and space.canonical(swapped) == space.canonical(arch)


def test_darts_validation_names_a_bad_input_index() -> None:
    space = DartsSpace()
    values = list(space.sample(np.random.default_rng(0)).values)
    values[0] = 2  # node 2 may only read states 0 and 1
    with pytest.raises(GenotypeError, match="node 2 in1 is 2"):
        space.make(values)
    values[0] = 0
    values[1] = "none"  # excluded from the discrete genotype
    with pytest.raises(GenotypeError, match="invalid value 'none'"):
        space.make(values)


def test_darts_reduction_cells_sit_at_one_and_two_thirds() -> None:
    space = DartsSpace(channels=4, cells=8)
    model = space.build(space.sample(np.random.default_rng(0)), TaskSpec((3, 32, 32), 10))
    assert [cell.reduction for cell in model.cells] == [i in (2, 5) for i in range(8)]
    seen: list[tuple[int, ...]] = []
    for cell in model.cells:
        cell.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:])))
    model(_batch((3, 32, 32)))
    assert seen[1] == (16, 32, 32) and seen[2] == (32, 16, 16) and seen[7] == (64, 8, 8)


def test_scheduled_drop_path() -> None:
    space = DartsSpace(channels=4, cells=3, drop_path_prob=0.3)
    model = space.build(space.parse(DARTS_V2), TaskSpec((3, 16, 16), 10))
    x = _batch((3, 16, 16), n=8)
    model.eval()
    reference = model(x)
    model.drop_path_prob = 0.5
    assert torch.equal(model(x), reference), "drop path must be off in eval mode"
    model.train()
    assert model.schedule_drop_path(0.5) == pytest.approx(0.15)  # linear in progress
    assert model.schedule_drop_path(2.0) == pytest.approx(0.3)  # clamped at the end
    model.drop_path_prob = 0.0
    plain = model(x)
    model.drop_path_prob = 0.5
    model.seed_drop_path(1)
    first = model(x)
    model.seed_drop_path(1)
    again = model(x)
    model.seed_drop_path(2)
    other = model(x)
    assert not torch.allclose(first, plain)
    assert torch.equal(first, again), "same generator seed, same masks"
    assert not torch.equal(first, other)
    with pytest.raises(ValueError):
        model.drop_path_prob = 1.0


# --- the chain space ---------------------------------------------------------------------------


def test_chain_samples_and_mutations_are_valid_and_canonical() -> None:
    space = ChainSpace()
    rng = np.random.default_rng(0)
    depths = set()
    for _ in range(200):
        arch = space.sample(rng)
        space.validate(arch)
        assert space.canonical(arch) == arch
        depths.add(arch["layers"])
        child = space.mutate(arch, rng)
        space.validate(child)
        assert space.canonical(child) == child
        assert child != arch
    assert depths == set(range(2, 7))


def test_chain_neighbors_are_distinct_canonical_and_one_move_away() -> None:
    space = ChainSpace()
    arch = space.sample(np.random.default_rng(3))
    neighbors = list(space.neighbors(arch))
    assert neighbors and len(set(neighbors)) == len(neighbors) and arch not in neighbors
    for n in neighbors:
        assert space.canonical(n) == n
    assert len(space.encode(arch)) == sum(len(d.options) for d in space.decisions())


def test_chain_inactive_decisions_do_not_change_the_network() -> None:
    space = ChainSpace()
    arch = space.canonical(space.make(_chain_values(space, depth=2, ops=("conv", "max_pool"))))
    values = list(arch.values)
    names = [d.name for d in space.decisions()]
    values[names.index("L3.op")] = "sep_conv"  # beyond the depth
    values[names.index("L1.filters")] = 64  # a pool has no filters
    values[names.index("L1.act")] = "elu"
    noisy = space.make(values)
    assert noisy != arch and space.canonical(noisy) == arch
    task = TaskSpec((1, 8, 8), 3)
    assert _n_params(space.build(noisy, task)) == _n_params(space.build(arch, task))
    assert space.describe(noisy) == space.describe(arch)


def test_chain_size_counts_canonical_genotypes() -> None:
    space = ChainSpace(min_layers=1, max_layers=3, filters=(4,), kernels=(3,), strides=(1,))
    # per layer: conv/sep_conv x 3 activations, two pools, identity = 9 networks;
    # the third layer has one skip bit.
    assert space.size() == 9 + 9**2 + 9**3 * 2
    every = itertools.product(*(d.options for d in space.decisions()))
    assert len({space.canonical(space.make(values)) for values in every}) == space.size()


def test_chain_ops_option_narrows_the_layer_ops_and_the_count() -> None:
    space = ChainSpace(
        min_layers=1,
        max_layers=2,
        filters=(4,),
        kernels=(3,),
        strides=(1,),
        ops=("conv", "max_pool"),
    )
    assert space.size() == 4 + 4**2  # conv x 3 activations, one pool
    every = itertools.product(*(d.options for d in space.decisions()))
    assert len({space.canonical(space.make(values)) for values in every}) == space.size()
    rng = np.random.default_rng(0)
    ops = {space.layers(space.sample(rng))[0].op for _ in range(50)}
    assert ops == {"conv", "max_pool"}
    with pytest.raises(ConfigError, match=r"ops must be distinct ones .* including 'conv'"):
        ChainSpace(ops=("sep_conv", "identity"))
    with pytest.raises(ConfigError, match="ops"):
        ChainSpace(ops=("conv", "lstm"))


def test_chain_skips_concatenate_across_reductions_and_stride_clamps_at_1x1() -> None:
    space = ChainSpace(max_layers=6)
    arch = space.make(
        _chain_values(
            space,
            depth=6,
            ops=("conv",) * 6,
            filters=(16, 32, 16, 16, 16, 32),
            strides=(2, 2, 2, 2, 2, 2),
            skips={4: (0, 2), 5: (1,)},
        )
    )
    model = space.build(arch, TaskSpec((1, 28, 28), 10))
    # layer 4 reads layer 3 (16) + layers 0 (16) and 2 (16) concatenated
    assert model.layers[4][0].in_channels == 48
    assert model.layers[5][0].in_channels == 16 + 32
    # 28 -> 14 -> 7 -> 4 -> 2 -> 1 -> 1: the sixth layer cannot reduce further
    assert model.out_size == (1, 1)
    assert model.layers[5][0].stride == (1, 1)
    model(_batch((1, 28, 28))).sum().backward()


def test_chain_option_errors() -> None:
    with pytest.raises(ConfigError, match="odd"):
        ChainSpace(kernels=(2, 3))
    with pytest.raises(ConfigError, match="min_layers"):
        ChainSpace(min_layers=5, max_layers=3)
    with pytest.raises(ConfigError, match="activations"):
        ChainSpace(activations=("relu", "swish"))


def _chain_values(
    space: ChainSpace,
    depth: int,
    ops: tuple[str, ...],
    filters: tuple[int, ...] | None = None,
    strides: tuple[int, ...] | None = None,
    skips: dict[int, tuple[int, ...]] | None = None,
) -> list[Any]:
    """Decision values for a chain, other decisions at their first option."""
    values: list[Any] = []
    for d in space.decisions():
        if d.name == "layers":
            values.append(depth)
            continue
        layer, field = d.name[1:].split(".")
        i = int(layer)
        if i >= depth:
            values.append(d.options[0])
        elif field == "op":
            values.append(ops[i])
        elif field == "filters" and filters:
            values.append(filters[i])
        elif field == "stride" and strides:
            values.append(strides[i])
        elif field == "kernel":
            values.append(3)
        elif field.startswith("skip"):
            values.append(int(int(field[4:]) in (skips or {}).get(i, ())))
        else:
            values.append(d.options[0])
    return values
