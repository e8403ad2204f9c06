from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.core.errors import GenotypeError
from archsearch.space import Architecture, NB201Space, get_space
from archsearch.space.nb201 import N_ARCHS, OPS

SPACE = NB201Space()


def test_index_and_arch_string_round_trip_for_every_cell() -> None:
    seen_strings = set()
    for i in range(N_ARCHS):
        arch = SPACE.from_index(i)
        text = SPACE.to_arch_str(arch)
        assert SPACE.from_arch_str(text) == arch
        assert SPACE.index(arch) == i
        assert SPACE.parse(text) == arch
        assert Architecture.from_json(arch.to_json()) == arch
        seen_strings.add(text)
    assert len(seen_strings) == N_ARCHS


def test_official_index_matches_known_cells() -> None:
    # Index 0 and the optimum 6111 as documented with the NB201 data.
    assert SPACE.to_arch_str(SPACE.from_index(0)) == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    assert SPACE.index(SPACE.from_arch_str(best)) == 6111
    assert SPACE.op_codes(SPACE.from_index(0)) == "421211"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "3 node groups"),
        ("|conv9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv9x9'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "cannot take input ~1"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "cannot read edge"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "must be |op~i|"),
    ],
)
def test_malformed_arch_strings_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(GenotypeError, match=None) as info:
        SPACE.from_arch_str(text)
    assert fragment in str(info.value)


def test_index_out_of_range() -> None:
    with pytest.raises(GenotypeError, match="out of range"):
        SPACE.from_index(N_ARCHS)


def test_validate_names_the_field() -> None:
    arch = SPACE.from_index(5)
    bad = Architecture(arch.space, ((arch.choices[0][0], "conv9"), *arch.choices[1:]))
    with pytest.raises(GenotypeError, match="decision '1<-0' has invalid value 'conv9'"):
        SPACE.validate(bad)
    with pytest.raises(GenotypeError, match="missing"):
        SPACE.validate(Architecture(arch.space, arch.choices[:5]))
    with pytest.raises(GenotypeError, match="belongs to space"):
        SPACE.validate(Architecture("other@1", arch.choices))
    with pytest.raises(GenotypeError, match="not valid JSON"):
        Architecture.from_json("{oops")


def test_canonical_form_merges_isomorphic_cells() -> None:
    classes = {SPACE.canonical(SPACE.from_index(i)) for i in range(N_ARCHS)}
    # See the docstring: 4,930 exact classes; the NB201 authors' coarser rule gives 6,466.
    assert len(classes) == 4930
    # Swapping the two intermediate nodes' roles gives an isomorphic cell.
    a = SPACE.from_arch_str(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"
    )
    b = SPACE.from_arch_str(
        "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"
    )
    assert a != b and SPACE.canonical(a) == SPACE.canonical(b)
    # A dead branch (node 1 unused) does not matter.
    c = SPACE.from_arch_str(
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"
    )
    d = SPACE.from_arch_str(
        "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"
    )
    assert SPACE.canonical(c) == SPACE.canonical(d)
    # But the op matters.
    e = SPACE.from_arch_str(
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|"
    )
    assert SPACE.canonical(c) != SPACE.canonical(e)
    # A cell whose output is disconnected is the zero cell.
    z = SPACE.from_arch_str("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert SPACE.canonical(z) == "zero"


def test_sample_mutate_neighbors(rng: np.random.Generator) -> None:
    arch = SPACE.sample(rng)
    SPACE.validate(arch)
    child = SPACE.mutate(arch, rng)
    SPACE.validate(child)
    assert sum(a != b for a, b in zip(arch.values, child.values, strict=True)) == 1
    neighbors = list(SPACE.neighbors(arch))
    assert len(neighbors) == 6 * (len(OPS) - 1) == len(set(neighbors))
    assert SPACE.encode(arch).shape == (30,) and SPACE.encode(arch).sum() == 6


def test_registry_and_json_shape() -> None:
    assert isinstance(get_space("nb201"), NB201Space)
    data = json.loads(SPACE.from_index(0).to_json())
    assert data["space"] == "nb201@1" and list(data["choices"]) == [
        "1<-0",
        "2<-0",
        "2<-1",
        "3<-0",
        "3<-1",
        "3<-2",
    ]
