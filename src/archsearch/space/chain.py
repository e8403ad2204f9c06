"""A layer-wise (macro) chain space in the manner of Zoph and Le, "Neural Architecture
Search with Reinforcement Learning", ICLR 2017 (Section 3: a controller picks, layer by
layer, the filter size, stride and number of filters, and "anchor points" choosing which
earlier layers feed each layer by skip connections).

Decisions, in order: "layers" (the depth, `min_layers..max_layers`); then for each layer
i < `max_layers`: "L{i}.op" (conv, sep_conv, max_pool, avg_pool, identity),
"L{i}.filters", "L{i}.kernel", "L{i}.stride", "L{i}.act", and one 0/1 bit
"L{i}.skip{j}" per earlier layer j <= i - 2 (layer i - 1 always feeds layer i).

A decision that does not shape the network is *inactive*: every decision of a layer at or
beyond the depth, the filters and activation of a pool, and all but the op of an
identity layer. Genotypes from `sample`, `mutate` and `neighbors` are canonical: their
inactive decisions hold fixed default values, so equal networks have equal genotypes.
`validate` also accepts non-canonical genotypes (e.g. from a controller that walks every
decision); `canonical()` maps them to the canonical one and `build` ignores inactive values.

Network: layer 0 reads the image; layer i reads layer i - 1's output concatenated along
channels with the outputs of its skip layers (concatenation as in Zoph and Le), each
skip first average-pooled (3x3, stride 2, as often as the main path reduced since) to
the main input's size; skips add no parameters. conv is Conv-BN-act, sep_conv a
depthwise then pointwise conv, BN, act; pools keep the channel count; "same" padding
throughout, so a stride-2 layer maps H to ceil(H / 2) and a map never drops below 1x1
(a layer on a 1x1 map runs with stride 1). Global average pooling and a linear head.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, Decision
from archsearch.space.base import SPACES, SearchSpace
from archsearch.space.capabilities import Growth

if TYPE_CHECKING:  # pragma: no cover
    pass

LAYER_OPS = ("conv", "sep_conv", "max_pool", "avg_pool", "identity")
ACTIVATIONS = ("relu", "elu", "silu", "tanh")
_CONVS = ("conv", "sep_conv")
_POOLS = ("max_pool", "avg_pool")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a chain network, as `build` reads it from a genotype."""

    op: str
    filters: int
    kernel: int
    stride: int
    act: str
    skips: tuple[int, ...]  # earlier layers (besides the previous one) feeding this one


def _int_options(name: str, values: Sequence[int], low: int) -> tuple[int, ...]:
    out = tuple(int(v) for v in values)
    if not out or any(v < low for v in out) or len(set(out)) != len(out):
        raise ConfigError(f"chain: {name} must be distinct integers >= {low}, got {list(values)}")
    return out


@SPACES.register("chain")
class ChainSpace(SearchSpace):
    """Chains of `min_layers..max_layers` layers with per-layer op, width, kernel, stride,
    activation and skip connections (Zoph & Le 2017).

    The defaults suit small images (8x8 digits, 28x28 MNIST, 32x32 CIFAR): up to 6 layers
    of 16 to 64 filters, kernels 1, 3, 5, strides 1 and 2, every op of `LAYER_OPS`.
    `ops` narrows the layer ops (it must keep "conv": the default of an unused layer and
    the layer a deepening morphism inserts); e.g. without "sep_conv", whose depthwise
    convolutions train about 1.4x slower per step than a plain conv net of 5x the FLOPs
    on a CPU.
    """

    network = "archsearch.nn.chain:build"

    name = "chain"
    version = 1

    def __init__(
        self,
        min_layers: int = 2,
        max_layers: int = 6,
        filters: Sequence[int] = (16, 32, 64),
        kernels: Sequence[int] = (1, 3, 5),
        strides: Sequence[int] = (1, 2),
        activations: Sequence[str] = ("relu", "elu", "silu"),
        ops: Sequence[str] = LAYER_OPS,
    ) -> None:
        if not 1 <= int(min_layers) <= int(max_layers):
            raise ConfigError(
                f"chain: need 1 <= min_layers <= max_layers, got {min_layers} and {max_layers}"
            )
        self.min_layers, self.max_layers = int(min_layers), int(max_layers)
        self.filters = _int_options("filters", filters, 1)
        self.kernels = _int_options("kernels", kernels, 1)
        if any(k % 2 == 0 for k in self.kernels):
            raise ConfigError(f"chain: kernels must be odd ('same' padding), got {list(kernels)}")
        self.strides = _int_options("strides", strides, 1)
        if any(s > 2 for s in self.strides):
            raise ConfigError(f"chain: strides must be 1 or 2, got {list(strides)}")
        self.activations = tuple(str(a) for a in activations)
        unknown = [a for a in self.activations if a not in ACTIVATIONS]
        if not self.activations or unknown or len(set(self.activations)) != len(self.activations):
            raise ConfigError(f"chain: activations must be distinct ones of {list(ACTIVATIONS)}")
        self.ops = tuple(str(o) for o in ops)
        unknown = [o for o in self.ops if o not in LAYER_OPS]
        if unknown or "conv" not in self.ops or len(set(self.ops)) != len(self.ops):
            raise ConfigError(
                f"chain: ops must be distinct ones of {list(LAYER_OPS)} including 'conv', "
                f"got {list(ops)}"
            )
        self._decisions = self._make_decisions()
        self._index = {d.name: k for k, d in enumerate(self._decisions)}
        # Inactive decisions hold these: the first option, but a 3x3 kernel and stride 1
        # where offered, so that deepening a chain appends a plain 3x3 conv layer.
        self._defaults = {
            "op": "conv",
            "filters": self.filters[0],
            "kernel": 3 if 3 in self.kernels else self.kernels[0],
            "stride": 1 if 1 in self.strides else self.strides[0],
            "act": self.activations[0],
            "skip": 0,
        }

    def _make_decisions(self) -> tuple[Decision, ...]:
        out = [Decision("layers", tuple(range(self.min_layers, self.max_layers + 1)))]
        for i in range(self.max_layers):
            out += [
                Decision(f"L{i}.op", self.ops),
                Decision(f"L{i}.filters", self.filters),
                Decision(f"L{i}.kernel", self.kernels),
                Decision(f"L{i}.stride", self.strides),
                Decision(f"L{i}.act", self.activations),
            ]
            out += [Decision(f"L{i}.skip{j}", (0, 1)) for j in range(i - 1)]
        return tuple(out)

    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    # --- active decisions and the canonical form ------------------------------------------
    @staticmethod
    def _field(name: str) -> tuple[int, str]:
        layer, field = name[1:].split(".")
        return int(layer), ("skip" if field.startswith("skip") else field)

    @functools.cached_property
    def _layout(self) -> tuple[tuple[int, str, int], ...]:
        """(layer, field, index of that layer's op decision) for every decision but the
        first: parsed once, since `_active` runs on every mutate and canonical call."""
        out = []
        for d in self._decisions[1:]:
            layer, field = self._field(d.name)
            out.append((layer, field, self._index[f"L{layer}.op"]))
        return tuple(out)

    def _active(self, values: Sequence[Any]) -> list[bool]:
        """Which decisions shape the network, given all the values (in decision order)."""
        depth = values[0]
        active = [True]
        for layer, field, op_index in self._layout:
            if layer >= depth:
                active.append(False)
                continue
            op = values[op_index]
            if field in ("op", "skip"):
                active.append(True)
            elif field in ("kernel", "stride"):
                active.append(op != "identity")
            else:  # filters, act
                active.append(op in _CONVS)
        return active

    def _canonical_values(self, values: Sequence[Any]) -> list[Any]:
        active = self._active(values)
        fields = ("layers", *(field for _, field, _ in self._layout))
        return [
            v if on else self._defaults[field]
            for v, on, field in zip(values, active, fields, strict=True)
        ]

    def _arch(self, values: Sequence[Any]) -> Architecture:
        names = (d.name for d in self._decisions)
        return Architecture(self.id, tuple(zip(names, values, strict=True)))

    def canonicalize(self, arch: Architecture) -> Architecture:
        """The same network's canonical genotype (inactive decisions at their defaults)."""
        self.validate(arch)
        return self._arch(self._canonical_values(arch.values))

    def canonical(self, arch: Architecture) -> Any:
        return self.canonicalize(arch)

    # --- sampling and local moves -----------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Architecture:
        """Uniform over the depth and over each active decision's options, canonical."""
        return self.canonicalize(super().sample(rng))

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One *active* decision changed to another option; the result is canonical and
        always a different genotype."""
        values = self._canonical_values(arch.values)
        live = [k for k, on in enumerate(self._active(values)) if on]
        k = live[int(rng.integers(len(live)))]
        options = [o for o in self._decisions[k].options if o != values[k]]
        values[k] = options[int(rng.integers(len(options)))]
        return self._arch(self._canonical_values(values))

    def neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        """Every canonical genotype one active decision away."""
        values = self._canonical_values(arch.values)
        seen = {tuple(values)}
        for k, on in enumerate(self._active(values)):
            if not on:
                continue
            for option in self._decisions[k].options:
                if option == values[k]:
                    continue
                new = list(values)
                new[k] = option
                new = self._canonical_values(new)
                if tuple(new) not in seen:
                    seen.add(tuple(new))
                    yield self._arch(new)

    def encode(self, arch: Architecture) -> np.ndarray:
        """One-hot per decision of the canonical genotype (inactive ones are constant)."""
        return super().encode(self.canonicalize(arch))

    def size(self) -> int:
        """The number of canonical genotypes (distinct networks up to input size)."""
        F, K, S, A = len(self.filters), len(self.kernels), len(self.strides), len(self.activations)
        convs = sum(op in _CONVS for op in self.ops)
        pools = sum(op in _POOLS for op in self.ops)
        per_layer = convs * F * K * S * A + pools * K * S + ("identity" in self.ops)
        total = 0
        for depth in range(self.min_layers, self.max_layers + 1):
            skip_bits = sum(max(i - 1, 0) for i in range(depth))
            total += per_layer**depth * 2**skip_bits
        return total

    # --- reading a genotype -------------------------------------------------------------------
    def layers(self, arch: Architecture) -> list[LayerSpec]:
        """The active layers of a (validated) genotype."""
        self.validate(arch)
        values = self._canonical_values(arch.values)
        get = {d.name: v for d, v in zip(self._decisions, values, strict=True)}
        return [
            LayerSpec(
                op=get[f"L{i}.op"],
                filters=int(get[f"L{i}.filters"]),
                kernel=int(get[f"L{i}.kernel"]),
                stride=int(get[f"L{i}.stride"]),
                act=get[f"L{i}.act"],
                skips=tuple(j for j in range(i - 1) if get[f"L{i}.skip{j}"]),
            )
            for i in range(get["layers"])
        ]

    def describe(self, arch: Architecture) -> str:
        parts = []
        for i, layer in enumerate(self.layers(arch)):
            if layer.op in _CONVS:
                text = (
                    f"{layer.op}{layer.kernel}x{layer.kernel}-{layer.filters}"
                    f"-s{layer.stride}-{layer.act}"
                )
            elif layer.op in _POOLS:
                text = f"{layer.op}{layer.kernel}x{layer.kernel}-s{layer.stride}"
            else:
                text = "identity"
            if layer.skips:
                text += "<" + ",".join(f"L{j}" for j in layer.skips)
            parts.append(f"L{i}:{text}")
        return " | ".join(parts)

    def from_layers(self, layers: Sequence[LayerSpec]) -> Architecture:
        """The canonical genotype of these layers (inactive decisions at their defaults)."""
        if not self.min_layers <= len(layers) <= self.max_layers:
            raise GenotypeError(
                f"morphisms: {len(layers)} layers is outside {self.min_layers}..{self.max_layers}"
            )
        get: dict[str, Any] = {"layers": len(layers)}
        for i, spec in enumerate(layers):
            get.update(
                {
                    f"L{i}.op": spec.op,
                    f"L{i}.filters": spec.filters,
                    f"L{i}.kernel": spec.kernel,
                    f"L{i}.stride": spec.stride,
                    f"L{i}.act": spec.act,
                }
            )
            for j in range(i - 1):
                get[f"L{i}.skip{j}"] = int(j in spec.skips)
        values = []
        for d in self.decisions():
            if d.name in get:
                values.append(get[d.name])
            else:  # an inactive layer: any valid value, canonicalize() resets it
                values.append(d.options[0])
        return self.canonicalize(self.make(values))

    def growth(self) -> Growth:
        """PNAS's growth: the first `min_layers` layers as block 1, then one layer per
        block; the depth follows the number of blocks."""
        names = [d.name for d in self.decisions()]
        layer_of = [int(n[1:].split(".")[0]) if n.startswith("L") else -1 for n in names]
        first = [k for k, layer in enumerate(layer_of) if 0 <= layer < self.min_layers]
        later = [
            [k for k, layer in enumerate(layer_of) if layer == i]
            for i in range(self.min_layers, self.max_layers)
        ]
        base = [self.min_layers] + [d.options[0] for d in self.decisions()[1:]]
        canonical = self.canonicalize(Architecture(self.id, tuple(zip(names, base, strict=True))))
        return ChainGrowth(self, [first, *later], canonical.values)


class ChainGrowth(Growth):
    """Chains: the depth follows the number of blocks, and genotypes are canonical."""

    space: ChainSpace

    def arch(self, values: Sequence[Any], n_blocks: int) -> Architecture:
        values = list(values)
        values[0] = self.space.min_layers + n_blocks - 1
        raw = Architecture(self.space.id, tuple(zip(self.names, values, strict=True)))
        return self.space.canonicalize(raw)
