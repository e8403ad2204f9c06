"""The chain network of `archsearch.space.chain` (Zoph & Le, "Neural Architecture Search
with Reinforcement Learning", ICLR 2017): layers in sequence, each reading the previous
layer's output concatenated with its skip inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn as nn

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.chain import ChainSpace, LayerSpec

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def _same(size: int, stride: int) -> int:
    """The output size of a "same"-padded odd kernel: ceil(size / stride)."""
    return -(-size // stride)


def make_layer(spec: LayerSpec, C_in: int, stride: int) -> tuple[nn.Module, int]:
    """The module of one layer and its output channel count."""
    k, pad = spec.kernel, spec.kernel // 2
    if spec.op == "conv":
        conv = nn.Conv2d(C_in, spec.filters, k, stride, pad, bias=False)
        body = nn.Sequential(conv, nn.BatchNorm2d(spec.filters), _ACTIVATIONS[spec.act]())
        return body, spec.filters
    if spec.op == "sep_conv":
        body = nn.Sequential(
            nn.Conv2d(C_in, C_in, k, stride, pad, groups=C_in, bias=False),
            nn.Conv2d(C_in, spec.filters, 1, bias=False),
            nn.BatchNorm2d(spec.filters),
            _ACTIVATIONS[spec.act](),
        )
        return body, spec.filters
    if spec.op == "max_pool":
        return nn.MaxPool2d(k, stride, pad), C_in
    if spec.op == "avg_pool":
        return nn.AvgPool2d(k, stride, pad, count_include_pad=False), C_in
    if spec.op == "identity":
        return nn.Identity(), C_in
    raise ValueError(f"chain: unknown layer op {spec.op!r}")


def _downsample(times: int) -> nn.Module:
    """`times` 3x3 stride-2 average pools: ceil(H / 2) each, as the main path reduces."""
    if times == 0:
        return nn.Identity()
    return nn.Sequential(*(nn.AvgPool2d(3, 2, 1, count_include_pad=False) for _ in range(times)))


class ChainNetwork(nn.Module):
    """Layers in a chain with concatenated skip inputs, global pooling, a linear head.

    Shapes are worked out here from the input shape: a layer on a 1x1 map runs with
    stride 1, and a skip from layer j to layer i is pooled once per reduction between
    them. The network still accepts other input sizes (global pooling), though its
    skips were sized for `input_shape`.
    """

    def __init__(
        self, layers: Sequence[LayerSpec], input_shape: tuple[int, ...], num_classes: int
    ) -> None:
        super().__init__()
        C, H, W = (int(v) for v in input_shape)
        self.skips = tuple(spec.skips for spec in layers)
        self.layers = nn.ModuleList()
        self.skip_pools = nn.ModuleList()
        channels: list[int] = []  # output channels of each layer
        levels: list[int] = []  # how many times the map was halved up to each layer
        level = 0
        for i, spec in enumerate(layers):
            C_in = C + sum(channels[j] for j in spec.skips)
            self.skip_pools.append(
                nn.ModuleList(_downsample(level - levels[j]) for j in spec.skips)
            )
            stride = spec.stride if spec.op != "identity" and (H, W) != (1, 1) else 1
            layer, C = make_layer(spec, C_in, stride)
            self.layers.append(layer)
            if stride == 2:
                H, W, level = _same(H, 2), _same(W, 2), level + 1
            channels.append(C)
            levels.append(level)
            if i == 0 and spec.skips:
                raise ValueError("chain: layer 0 cannot have skip inputs")
        self.out_channels = C
        self.out_size = (H, W)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for layer, skips, pools in zip(self.layers, self.skips, self.skip_pools, strict=True):
            if skips:
                pool_list = cast(nn.ModuleList, pools)
                extra = [pool(outputs[j]) for j, pool in zip(skips, pool_list, strict=True)]
                x = torch.cat([x, *extra], dim=1)
            x = layer(x)
            outputs.append(x)
        return self.classifier(torch.flatten(self.global_pooling(x), 1))


def build(space: ChainSpace, arch: Architecture, task: TaskSpec) -> nn.Module:
    """The chain network for this genotype and task (see the module docstring)."""

    return ChainNetwork(space.layers(arch), tuple(task.input_shape), task.num_classes)
