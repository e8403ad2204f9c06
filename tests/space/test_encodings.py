"""Architecture encodings: BANANAS path encoding, adjacency encoding, op-on-node graph."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from archsearch.core.genotype import Architecture, Decision
from archsearch.space.base import SearchSpace
from archsearch.space.encodings import (
    EdgeCell,
    adjacency_encoding,
    as_cells,
    cell_paths,
    is_cell_space,
    labelled_dag,
    path_encoding,
    path_encoding_size,
    vector_encoding,
)
from archsearch.space.nb201 import OPS, NB201Space

SPACE = NB201Space()
# Path features: 5 one-op paths, then 25 two-op, then 125 three-op, each block the op
# sequence read as a base-5 number with codes in OPS order.
SKIP, C1, C3, POOL = (
    OPS.index(o) for o in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
)


def cell(arch_str: str) -> Architecture:
    return SPACE.from_arch_str(arch_str)


def edges(e01: str, e02: str, e12: str, e03: str, e13: str, e23: str) -> Architecture:
    return SPACE.make([e01, e02, e12, e03, e13, e23])


def test_layout_size_is_the_papers() -> None:
    assert path_encoding_size(5, 3) == 5 + 25 + 125 == 155
    assert path_encoding(SPACE, edges(*["nor_conv_3x3"] * 6)).shape == (155,)


def test_all_none_cell_has_no_paths() -> None:
    arch = edges(*["none"] * 6)
    assert cell_paths(as_cells(SPACE, arch)[0]) == []
    assert not path_encoding(SPACE, arch).any()
    dag = labelled_dag(SPACE, arch)
    assert dag.labels == ("input", "output") and dag.edges == ()


def test_single_direct_edge() -> None:
    arch = edges("none", "none", "none", "nor_conv_3x3", "none", "none")
    vec = path_encoding(SPACE, arch)
    assert vec.sum() == 1 and vec[C3] == 1


def test_hand_worked_cell_paths_and_indices() -> None:
    # Index 9930 (DrNAS's cell): 0->1 c3, 0->2 c3, 1->2 c3, 0->3 skip, 1->3 c3, 2->3 c3.
    arch = cell(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    paths = cell_paths(as_cells(SPACE, arch)[0])
    # 0->3; 0->1->3 and 0->2->3 (same ops); 0->1->2->3
    assert sorted(paths) == sorted(
        [("skip_connect",), ("nor_conv_3x3",) * 2, ("nor_conv_3x3",) * 2, ("nor_conv_3x3",) * 3]
    )
    vec = path_encoding(SPACE, arch)
    expected = {SKIP, 5 + 5 * C3 + C3, 30 + 25 * C3 + 5 * C3 + C3}
    assert set(np.flatnonzero(vec)) == expected
    counts = path_encoding(SPACE, arch, counts=True)
    assert counts[5 + 5 * C3 + C3] == 2 and counts.sum() == 4


def test_none_edge_cuts_paths() -> None:
    # Only 0->1->2->3 is wired, with a none on 1->2: no path at all.
    cut = edges("nor_conv_1x1", "none", "none", "none", "none", "avg_pool_3x3")
    assert not path_encoding(SPACE, cut).any()
    wired = edges("nor_conv_1x1", "none", "skip_connect", "none", "none", "avg_pool_3x3")
    vec = path_encoding(SPACE, wired)
    assert list(np.flatnonzero(vec)) == [30 + 25 * C1 + 5 * SKIP + POOL]
    # Order matters: the reversed op sequence is a different feature.
    rev = edges("avg_pool_3x3", "none", "skip_connect", "none", "none", "nor_conv_1x1")
    assert list(np.flatnonzero(path_encoding(SPACE, rev))) == [30 + 25 * POOL + 5 * SKIP + C1]


def test_features_with_none_never_fire() -> None:
    rng = np.random.default_rng(0)
    none_features = [k for k in range(155) if _decode(k).count(0)]
    assert len(none_features) == 155 - (4 + 16 + 64)
    for _ in range(200):
        assert not path_encoding(SPACE, SPACE.sample(rng))[none_features].any()


def _decode(k: int) -> list[int]:
    length, offset = 1, 0
    while k >= offset + 5**length:
        offset += 5**length
        length += 1
    code, digits = k - offset, []
    for _ in range(length):
        digits.append(code % 5)
        code //= 5
    return digits[::-1]


def test_dead_ops_are_pruned_from_the_graph() -> None:
    # 0->1 is a conv but node 1 feeds nothing: the conv cannot change the output.
    dead = edges("nor_conv_3x3", "nor_conv_1x1", "none", "none", "none", "skip_connect")
    dag = labelled_dag(SPACE, dead)
    assert dag.labels == ("input", "nor_conv_1x1", "skip_connect", "output")
    assert dag.edges == ((0, 1), (1, 2), (2, 3))
    unpruned = labelled_dag(SPACE, dead, prune=False)
    assert "nor_conv_3x3" in unpruned.labels
    # The same cell without the dead conv has the same graph.
    alive = edges("none", "nor_conv_1x1", "none", "none", "none", "skip_connect")
    assert labelled_dag(SPACE, alive) == dag


def test_op_on_node_graph_of_a_full_cell() -> None:
    arch = edges(*["nor_conv_3x3"] * 6)
    dag = labelled_dag(SPACE, arch)
    # nodes: input, the ops on 0->1, 0->2, 1->2, 0->3, 1->3, 2->3 (edge order), output
    assert len(dag.labels) == 8
    preds = dag.predecessors()
    assert preds[1] == [0] and preds[2] == [0] and preds[4] == [0]  # ops leaving node 0
    assert preds[3] == [1] and preds[5] == [1]  # ops leaving node 1 follow the op 0->1
    assert preds[6] == [2, 3]  # the op 2->3 follows both ops into node 2
    assert preds[7] == [4, 5, 6]  # the output sums the ops into node 3
    assert len(dag.edges) == 10


def test_adjacency_encoding_matches_one_hot() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        arch = SPACE.sample(rng)
        enc = adjacency_encoding(SPACE, arch)
        assert enc.shape == (36,)
        np.testing.assert_array_equal(enc[6:], SPACE.encode(arch))
        np.testing.assert_array_equal(enc[:6], [op != "none" for op in arch.values])


class _ChainOfCells(SearchSpace):
    """A toy space: a 3-node chain cell 0 -> 1 -> 2 plus a skip 0 -> 2, ops a, b or none."""

    name = "toychain"

    def decisions(self) -> Sequence[Decision]:
        return [Decision(n, ("none", "a", "b")) for n in ("01", "12", "02")]

    def edge_cells(self, arch: Architecture) -> Sequence[EdgeCell]:
        e01, e12, e02 = arch.values
        return [EdgeCell(3, ((0, 1, e01), (1, 2, e12), (0, 2, e02)), ("none", "a", "b"))]


class _Flat(SearchSpace):
    name = "toyflat"

    def decisions(self) -> Sequence[Decision]:
        return [Decision("x", (1, 2, 3))]


def test_other_cell_spaces_plug_in() -> None:
    space = _ChainOfCells()
    assert is_cell_space(space)
    arch = space.make(["a", "b", "b"])
    # paths: (a, b) and (b,); layout 3 one-op + 9 two-op features
    vec = path_encoding(space, arch)
    assert vec.shape == (12,)
    assert set(np.flatnonzero(vec)) == {2, 3 + 3 * 1 + 2}
    assert labelled_dag(space, arch).labels == ("input", "a", "b", "b", "output")


def test_non_cell_spaces_get_a_clear_error_and_a_fallback() -> None:
    space = _Flat()
    arch = space.make([2])
    assert not is_cell_space(space)
    with pytest.raises(TypeError, match="edge_cells"):
        path_encoding(space, arch)
    np.testing.assert_array_equal(vector_encoding(space, arch), space.encode(arch))
    np.testing.assert_array_equal(vector_encoding(SPACE, edges(*["none"] * 6)), np.zeros(155))


def test_path_encoding_is_cached_read_only() -> None:
    arch = edges(*["skip_connect"] * 6)
    vec = path_encoding(SPACE, arch)
    assert path_encoding(SPACE, arch) is vec
    with pytest.raises(ValueError):
        vec[0] = 5.0
