"""The op vocabulary of cell spaces: name -> factory(C_in, C_out, stride, affine) -> nn.Module.

The ops follow NAS-Bench-201 (Dong & Yang, ICLR 2020: "none", "skip_connect",
"nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3") and DARTS (Liu, Simonyan and Yang,
"DARTS: Differentiable Architecture Search", ICLR 2019: separable and dilated
convolutions, pools, identity / factorized reduce, zero). This module imports torch;
`archsearch.space` itself does not import it, and spaces import this module only inside
`build()`.

Shape contract, for any input size: every op maps (N, C_in, H, W) to
(N, C_out, ceil(H / stride), ceil(W / stride)). All convolutions and pools use "same"
padding (odd kernels, padding = dilation * (kernel - 1) / 2), which gives exactly
ceil(H / stride); the factorized reduce pads its shifted branch so that odd sizes agree too.
That is what lets several ops be summed into one node whatever the image size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from archsearch.core.registry import Registry

OpFactory = Callable[[int, int, int, bool], nn.Module]

#: name -> factory(C_in, C_out, stride, affine)
OPS: Registry[OpFactory] = Registry("op")


def make_op(name: str, C_in: int, C_out: int, stride: int = 1, affine: bool = True) -> nn.Module:
    """The op registered as `name`; an unknown name is a clear `UnknownNameError`."""
    if stride not in (1, 2):
        raise ValueError(f"op {name!r}: stride must be 1 or 2, got {stride}")
    return OPS.get(name)(C_in, C_out, stride, affine)


# --- building blocks ----------------------------------------------------------------------


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv -> BatchNorm, the pre-activation order of NB201 and DARTS ops.

    The convolution has no bias: the batch norm that follows would cancel it.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int = 1,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride, padding, dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class ConvBNReLU(nn.Sequential):
    """Conv -> BatchNorm -> ReLU, the post-activation order of plain (ResNet-style) convs."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, affine: bool) -> None:
        super().__init__(
            nn.Conv2d(C_in, C_out, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
            nn.ReLU(inplace=False),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BatchNorm (DARTS `DilConv`)."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride, padding, dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked (ReLU, depthwise, pointwise, BN) units; only the first one strides.

    DARTS applies the separable convolution twice (following NASNet, Zoph et al. 2018).
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, 1, affine),
        )


class Zero(nn.Module):
    """The "none" op: a zero tensor of the output shape.

    Computed as the input times zero (as DARTS does), so gradients are zeros rather than
    missing and the graph exports to ONNX like any other op.
    """

    def __init__(self, C_in: int, C_out: int, stride: int) -> None:
        super().__init__()
        self.C_in, self.C_out, self.stride = C_in, C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        y = x.mul(0.0)
        if self.C_out != self.C_in:
            y = y[:, :1].repeat(1, self.C_out, 1, 1)
        return y

    def extra_repr(self) -> str:
        return f"C_in={self.C_in}, C_out={self.C_out}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """Halves the spatial size with two 1x1 stride-2 convolutions, the second shifted by
    one pixel, concatenated (DARTS; NASNet's reduction of the skip path).

    The shifted branch is zero-padded on the right and bottom first (as NB201 does), so
    both branches give ceil(H / 2) rows for odd H as well. With C_out odd the two halves
    differ by one channel.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True) -> None:
        super().__init__()
        half = C_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, half, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Pool(nn.Module):
    """3x3 max or average pooling (the average ignores padding, as in NB201 and DARTS),
    preceded by a 1x1 ReLU-Conv-BN when the channel count changes (as NB201 does)."""

    def __init__(self, mode: str, C_in: int, C_out: int, stride: int, affine: bool) -> None:
        super().__init__()
        self.preprocess = (
            ReLUConvBN(C_in, C_out, 1, 1, 0, affine=affine) if C_in != C_out else nn.Identity()
        )
        self.pool: nn.Module
        if mode == "avg":
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        elif mode == "max":
            self.pool = nn.MaxPool2d(3, stride=stride, padding=1)
        else:
            raise ValueError(f"pool mode must be 'avg' or 'max', not {mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.preprocess(x))


def skip_connect(C_in: int, C_out: int, stride: int, affine: bool = True) -> nn.Module:
    """Identity; a factorized reduce when striding; a 1x1 ReLU-Conv-BN when only the
    channel count changes."""
    if stride == 2:
        return FactorizedReduce(C_in, C_out, affine)
    if C_in != C_out:
        return ReLUConvBN(C_in, C_out, 1, 1, 0, affine=affine)
    return nn.Identity()


# --- the registry ---------------------------------------------------------------------------


def _register(name: str, factory: OpFactory) -> None:
    OPS.add(name, factory)


_register("none", lambda C_in, C_out, stride, affine: Zero(C_in, C_out, stride))
_register("skip_connect", skip_connect)
# NB201's "normal" convolutions: ReLU-Conv-BN.
_register("nor_conv_1x1", lambda C_in, C_out, s, a: ReLUConvBN(C_in, C_out, 1, s, 0, affine=a))
_register("nor_conv_3x3", lambda C_in, C_out, s, a: ReLUConvBN(C_in, C_out, 3, s, 1, affine=a))
_register("avg_pool_3x3", lambda C_in, C_out, s, a: Pool("avg", C_in, C_out, s, a))
_register("max_pool_3x3", lambda C_in, C_out, s, a: Pool("max", C_in, C_out, s, a))
# Plain post-activation convolutions (Conv-BN-ReLU), for chain-like uses.
_register("conv_3x3", lambda C_in, C_out, s, a: ConvBNReLU(C_in, C_out, 3, s, a))
_register("conv_5x5", lambda C_in, C_out, s, a: ConvBNReLU(C_in, C_out, 5, s, a))
# DARTS separable and dilated convolutions (dilation 2: receptive fields 5x5 and 9x9).
_register("sep_conv_3x3", lambda C_in, C_out, s, a: SepConv(C_in, C_out, 3, s, 1, a))
_register("sep_conv_5x5", lambda C_in, C_out, s, a: SepConv(C_in, C_out, 5, s, 2, a))
_register("dil_conv_3x3", lambda C_in, C_out, s, a: DilConv(C_in, C_out, 3, s, 2, 2, a))
_register("dil_conv_5x5", lambda C_in, C_out, s, a: DilConv(C_in, C_out, 5, s, 4, 2, a))
