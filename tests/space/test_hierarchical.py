"""The hierarchical and flat spaces (Liu et al., ICLR 2018) and tournament evolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import archsearch.space.hierarchical as hierarchical  # registers "hierarchical", "flat"
import archsearch.strategies.tournament as tournament  # registers "tournament"
from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import TaskSpec
from archsearch.space.base import get_space
from archsearch.space.hierarchical import (
    NONE,
    PRIMITIVES,
    FlatSpace,
    HierarchicalSpace,
    live_edges,
    motif_edges,
)
from archsearch.strategies.tournament import TournamentEvolution
from archsearch.testing.strategies import drive
from tests.helpers import complete, synthetic_score

DIGITS = TaskSpec((1, 8, 8), 10)


def chain_motif(n: int, op: str) -> list[str]:
    """`op` on every edge i -> i+1, none elsewhere."""
    return [op if j == i + 1 else NONE for i, j in motif_edges(n)]


def test_registered_and_decision_layout() -> None:
    h, f = get_space("hierarchical"), get_space("flat")
    assert isinstance(h, HierarchicalSpace) and isinstance(f, FlatSpace)
    # 4 level-2 motifs of 4 nodes (6 edges each) and a 5-node cell (10 edges)
    assert len(h.decisions()) == 4 * 6 + 10
    assert h.decisions()[0].name == "m1.0-1" and h.decisions()[-1].name == "cell.3-4"
    assert h.decisions()[0].options == (NONE, *PRIMITIVES)
    assert h.decisions()[-1].options == (NONE, "m1", "m2", "m3", "m4")
    # flat: as many nodes as the cell assembled along a chain, 5 + 4 * 2 = 13
    assert f.nodes == 13 and len(f.decisions()) == 13 * 12 // 2
    assert motif_edges(4) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    with pytest.raises(ConfigError, match="merge"):
        HierarchicalSpace(merge="max")
    with pytest.raises(ConfigError, match="motifs"):
        HierarchicalSpace(motifs=0)


def test_live_edges_prunes_dead_nodes() -> None:
    # 0-1 conv, 1-3 pool; node 2 is fed (0-2) but feeds nothing: dead.
    ops = dict.fromkeys(motif_edges(4), NONE)
    ops[(0, 1)], ops[(1, 3)], ops[(0, 2)] = "conv_1x1", "max_pool_3x3", "identity"
    assert live_edges(4, list(ops.values())) == ((0, 1, "conv_1x1"), (1, 3, "max_pool_3x3"))
    # node 2 feeds the output but nothing feeds it: dead too
    ops[(0, 2)], ops[(2, 3)] = NONE, "identity"
    assert live_edges(4, list(ops.values())) == ((0, 1, "conv_1x1"), (1, 3, "max_pool_3x3"))
    ops[(1, 3)] = NONE  # no path from 0 to 3 at all
    assert live_edges(4, list(ops.values())) == ()


def test_mutation_changes_one_edge_at_either_level_and_keeps_paths() -> None:
    space = HierarchicalSpace()
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    levels = set()
    for _ in range(200):
        child = space.mutate(arch, rng)
        changed = [
            k for k, (a, b) in enumerate(zip(arch.values, child.values, strict=True)) if a != b
        ]
        assert len(changed) == 1
        levels.add(space.decisions()[changed[0]].name.split(".")[0] == "cell")
        assert all(space.live(child).values()), "a mutation disconnected a motif"
        arch = child
    assert levels == {True, False}  # the level is drawn: both are mutated


def test_every_combination_is_valid_and_a_cut_motif_is_identity() -> None:
    # Strategies such as MCTS set decisions independently: all-"none" must still build.
    space = HierarchicalSpace(channels=4)
    arch = space.make([d.options[0] for d in space.decisions()])  # every edge "none"
    assert not any(space.live(arch).values())
    net = space.build(arch, DIGITS)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(GenotypeError, match="invalid value"):
        space.make(["conv_3x3"] + [d.options[1] for d in space.decisions()[1:]])


def _params_without_cells(C: int, in_channels: int, classes: int) -> int:
    """Stem (3x3 conv + BN), two reductions (3x3 depthwise + 1x1 pointwise + BN, doubling
    the channels) and the linear head: the network when every cell is the identity."""
    stem = 9 * in_channels * C + 2 * C
    red1 = 9 * C + C * 2 * C + 2 * 2 * C
    red2 = 9 * 2 * C + 2 * C * 4 * C + 2 * 4 * C
    return stem + red1 + red2 + 4 * C * classes + classes


def test_network_parameters_match_a_hand_count() -> None:
    C = 8
    space = HierarchicalSpace(channels=C)
    identity = chain_motif(4, "identity")
    # An identity cell adds nothing: the skeleton's parameters alone.
    values = identity * 4 + chain_motif(5, "m1")
    net = space.build(space.make(values), DIGITS)
    assert sum(p.numel() for p in net.parameters()) == _params_without_cells(C, 1, 10)
    # m2 = one 1x1 conv (C*C weights + BN) on 0-3; the cell = m2 on 0-4 and m1 on 0-1-..-4:
    # node 4 concatenates two inputs, merged by a 1x1 conv of 2C -> C (+ BN).
    m2 = [NONE] * 6
    m2[motif_edges(4).index((0, 3))] = "conv_1x1"
    cell = chain_motif(5, "m1")
    cell[motif_edges(5).index((0, 4))] = "m2"
    net = space.build(space.make(identity + m2 + identity * 2 + cell), DIGITS)
    per_cell = [c * c + 2 * c + 2 * c * c + 2 * c for c in (C, 2 * C, 4 * C)]
    expected = _params_without_cells(C, 1, 10) + sum(per_cell)
    assert sum(p.numel() for p in net.parameters()) == expected
    # sum merge: no merging conv
    summing = HierarchicalSpace(channels=C, merge="sum")
    net = summing.build(summing.make(identity + m2 + identity * 2 + cell), DIGITS)
    expected = _params_without_cells(C, 1, 10) + sum(c * c + 2 * c for c in (C, 2 * C, 4 * C))
    assert sum(p.numel() for p in net.parameters()) == expected


def test_sum_merge_adds_and_shapes_hold() -> None:
    from archsearch.nn.hierarchical import build_motif

    # 0-1, 0-2 and 1-2 identities: node 2 = x + x
    live = {"cell": live_edges(3, ["identity", "identity", "identity"])}
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(build_motif("cell", live, 4, "sum")(x), 2 * x)
    assert build_motif("cell", live, 4, "concat")(x).shape == x.shape
    rng = np.random.default_rng(1)
    for space in (HierarchicalSpace(channels=4), FlatSpace(channels=4, nodes=6)):
        net = space.build(space.sample(rng), TaskSpec((3, 15, 15), 7))
        assert net(torch.randn(2, 3, 15, 15)).shape == (2, 7)


def test_canonical_ignores_unused_motifs_and_dead_edges() -> None:
    space = HierarchicalSpace(channels=4)
    identity = chain_motif(4, "identity")
    conv = chain_motif(4, "conv_1x1")
    cell = chain_motif(5, "m1")
    a = space.make(identity + conv + identity + identity + cell)  # m2 unused
    b = space.make(identity + identity + identity + identity + cell)
    assert a != b and space.canonical(a) == space.canonical(b)
    skip = [NONE] * 6
    skip[motif_edges(4).index((0, 3))] = "identity"
    with_dead = list(skip)
    with_dead[motif_edges(4).index((0, 2))] = "sep_conv_3x3"  # node 2 feeds nothing
    c = space.make(with_dead + identity * 3 + cell)
    assert space.live(c)["m1"] == ((0, 3, "identity"),)
    assert space.canonical(c) == space.canonical(space.make(skip + identity * 3 + cell))
    assert space.canonical(c) != space.canonical(b)
    pa = sum(p.numel() for p in space.build(a, DIGITS).parameters())
    pb = sum(p.numel() for p in space.build(b, DIGITS).parameters())
    assert pa == pb
    assert space.assembled_nodes(b) == 5 + 4 * 2


@pytest.mark.parametrize("space_name", ["hierarchical", "flat"])
@pytest.mark.parametrize("strategy", ["tournament", "random", "re", "mcts"])
def test_strategies_propose_valid_seeded_genotypes(strategy: str, space_name: str) -> None:
    from archsearch.strategies import STRATEGIES

    space = get_space(space_name)
    first = list(drive(STRATEGIES.get(strategy)(space, seed=3), space, 25))
    again = list(drive(STRATEGIES.get(strategy)(space, seed=3), space, 25))
    other = list(drive(STRATEGIES.get(strategy)(space, seed=4), space, 25))
    assert first == again and first != other and len(first) == 25


def test_tournament_mutates_the_best_of_the_tournament_and_never_removes() -> None:
    space = HierarchicalSpace()
    strategy = TournamentEvolution(space, seed=0, population_size=6, tournament=1.0)
    scores = {}
    for _ in range(6):
        arch = strategy.ask()
        assert arch is not None
        scores[arch] = synthetic_score(space, arch)
        strategy.tell(arch, complete(scores[arch]))
    best = max(scores, key=lambda a: scores[a])
    for step in range(10):
        # tournament = the whole population: the parent is always the best member
        child = strategy.ask()
        assert child is not None
        parent = max(strategy.population, key=lambda m: m[1])[0]
        diff = sum(a != b for a, b in zip(parent.values, child.values, strict=True))
        assert diff == 1
        strategy.tell(child, complete(-1.0 - step))  # worse than everything: never a parent
        assert parent == best
    assert len(strategy.population) == 16  # no removal
    # 5 % of 16 members rounds up to one: a random member, mutated
    small = TournamentEvolution(space, seed=0, population_size=2)
    for arch in (space.sample(np.random.default_rng(k)) for k in range(2)):
        small.ask()
        small.tell(arch, complete(0.0))
    assert small.ask() is not None
    with pytest.raises(ConfigError, match="tournament"):
        TournamentEvolution(space, tournament=0.0)
    assert tournament.__name__ and hierarchical.__name__  # imported for registration
