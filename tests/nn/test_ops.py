"""The op vocabulary: shapes for any input size, and each op's defining behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from archsearch.core.errors import UnknownNameError
from archsearch.nn.ops import OPS, FactorizedReduce, make_op

EXPECTED_OPS = {
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "conv_3x3",
    "conv_5x5",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
}


def _input(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry_holds_the_nb201_and_darts_vocabulary() -> None:
    assert set(OPS.names()) == EXPECTED_OPS


@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
@pytest.mark.parametrize(("C_in", "C_out", "stride"), [(4, 4, 1), (4, 4, 2), (3, 6, 1), (4, 5, 2)])
@pytest.mark.parametrize("hw", [(8, 8), (7, 7), (1, 1), (5, 9)])
def test_op_output_shape_is_ceil_of_input_over_stride(
    name: str, C_in: int, C_out: int, stride: int, hw: tuple[int, int]
) -> None:
    op = make_op(name, C_in, C_out, stride)
    x = _input((2, C_in, *hw)).requires_grad_()
    y = op(x)
    assert y.shape == (2, C_out, math.ceil(hw[0] / stride), math.ceil(hw[1] / stride))
    y.sum().backward()  # every op is differentiable (zero included)
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_none_is_zero_and_skip_is_identity() -> None:
    x = _input((2, 4, 6, 6))
    assert torch.equal(make_op("none", 4, 4, 1)(x), torch.zeros_like(x))
    assert torch.equal(make_op("none", 4, 4, 2)(x), torch.zeros(2, 4, 3, 3))
    assert make_op("skip_connect", 4, 4, 1)(x) is x
    assert isinstance(make_op("skip_connect", 4, 4, 2), FactorizedReduce)


def test_factorized_reduce_uses_both_pixel_phases() -> None:
    # The second branch reads the input shifted by one pixel: an input that is non-zero
    # only at odd coordinates is invisible to the first branch but not to the second.
    op = FactorizedReduce(1, 2).eval()
    with torch.no_grad():
        op.conv_1.weight.fill_(1.0)
        op.conv_2.weight.fill_(1.0)
    x = torch.zeros(1, 1, 4, 4)
    x[:, :, 1::2, 1::2] = 1.0
    y = op(x)
    bn = op.bn
    zero_level = (0 - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    assert torch.allclose(y[0, 0], zero_level[0].expand(2, 2))
    assert not torch.allclose(y[0, 1], zero_level[1].expand(2, 2))


def test_avg_pool_ignores_padding() -> None:
    # count_include_pad=False (NB201, DARTS): a constant map stays constant at the border.
    x = torch.full((1, 3, 5, 5), 2.0)
    assert torch.allclose(make_op("avg_pool_3x3", 3, 3, 1)(x), x)


def test_max_pool_is_a_max() -> None:
    x = _input((1, 2, 6, 6))
    y = make_op("max_pool_3x3", 2, 2, 1)(x)
    assert torch.equal(y[:, :, 1, 1], x[:, :, 0:3, 0:3].amax(dim=(2, 3)))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # conv weights (no bias: BN follows) + BN weight and bias
        ("nor_conv_1x1", 16 * 16 + 2 * 16),
        ("nor_conv_3x3", 16 * 16 * 9 + 2 * 16),
        ("conv_5x5", 16 * 16 * 25 + 2 * 16),
        # DARTS SepConv: twice (depthwise k*k*C, pointwise C*C, BN 2C)
        ("sep_conv_3x3", 2 * (16 * 9 + 16 * 16 + 2 * 16)),
        ("sep_conv_5x5", 2 * (16 * 25 + 16 * 16 + 2 * 16)),
        # DARTS DilConv: once
        ("dil_conv_3x3", 16 * 9 + 16 * 16 + 2 * 16),
        ("dil_conv_5x5", 16 * 25 + 16 * 16 + 2 * 16),
        ("avg_pool_3x3", 0),
        ("max_pool_3x3", 0),
        ("skip_connect", 0),
        ("none", 0),
    ],
)
def test_parameter_counts_match_the_papers_definitions(name: str, expected: int) -> None:
    assert _n_params(make_op(name, 16, 16, 1)) == expected


def test_factorized_reduce_parameters() -> None:
    # two 1x1 convs to C/2 channels each, and one BN of C channels
    assert _n_params(make_op("skip_connect", 16, 16, 2)) == 2 * 16 * 8 + 2 * 16


def test_dilated_conv_has_the_dilated_receptive_field() -> None:
    # dil_conv_3x3 sees a 5x5 window: a change 2 pixels away reaches the centre, 3 does not.
    op = make_op("dil_conv_3x3", 1, 1, 1).eval()
    x = torch.zeros(1, 1, 9, 9)
    base = op(x)[0, 0, 4, 4]
    near, far = x.clone(), x.clone()
    near[0, 0, 4, 6] = 1.0
    far[0, 0, 4, 7] = 1.0
    with torch.no_grad():
        assert op(near)[0, 0, 4, 4] != base
        assert op(far)[0, 0, 4, 4] == base


def test_unknown_op_and_bad_stride_are_clear_errors() -> None:
    with pytest.raises(UnknownNameError, match="unknown op 'conv_7x7'"):
        make_op("conv_7x7", 4, 4, 1)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        make_op("nor_conv_3x3", 4, 4, 3)
