"""Function-preserving network morphisms for the chain space.

A morphism changes a trained network's architecture without changing the function it
computes, so the child starts where the parent stopped (weight inheritance):

* **widen** a conv layer to more filters: Net2WiderNet (Chen, Goodfellow and Shlens,
  "Net2Net: Accelerating Learning via Knowledge Transfer", ICLR 2016, Section 2.1). The
  new units replicate randomly chosen old ones (weights and batch-norm statistics
  copied), and every consumer of the layer divides the weights it reads from a
  replicated unit by the number of its copies.
* **deepen**: Net2DeeperNet (same paper, Section 2.2): insert a Conv-BN-act layer after
  layer i whose kernel is the identity (a centred 1 from channel c to channel c) and
  whose batch norm is the identity in eval mode. The activation must then be the
  identity on the layer's inputs. ReLU and ELU are, on non-negative inputs, so a layer is
  only inserted where its input is non-negative (after a ReLU conv, or a pool or identity
  whose inputs all are); SiLU and tanh are the identity nowhere, so they are never used
  for an inserted layer. Inserting elsewhere would not preserve the function, and we do
  not pretend it does.
* **add a skip** from layer j to layer k (j <= k - 2): the chain space concatenates skip
  inputs, so the new input channels get zero weights in their consumer (Wei et al.,
  "Network Morphism", ICML 2016, and Auto-Keras, Jin, Song and Hu, KDD 2019, use the
  same zero initialisation for concatenated skips).
* **grow a kernel** (3 -> 5, ...) of a conv or separable conv: the old kernel zero-padded
  around its centre. With "same" padding the output grid and each output's centre stay
  where they were, so the outputs do not change. Pool kernels are not grown: a larger
  pooling window changes the function.

Two levels: the genotype functions here (`widen`, `deepen`, `add_skip`, `grow_kernel`,
`apply_morph`, `available_morphs`, `random_morph`, `one_morph_away`) need no torch; the
weight function `archsearch.nn.morph.morph_module` maps a parent network's
weights onto the child network so that, in eval mode, the child's outputs equal the
parent's up to float rounding.

How the weights move: every child layer's output channels are mapped to a parent
layer's output channels (or to None for channels the parent did not have). A consumer
(conv, separable conv, or the linear head) reads parent input channel `m[c]` for its
child input channel `c`, scaled by that channel's share of its parent unit: 1/n for a
unit with n copies (Net2Net's division), or unequal shares that sum to 1 with
`split_noise` (which breaks the copies' symmetry without changing the function), and
zero weight when `m[c]` is None. Pools and identity layers pass their channel maps
through. One engine thus serves all four morphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture
from archsearch.space.capabilities import LayerwiseSpace
from archsearch.space.chain import LayerSpec

if TYPE_CHECKING:  # pragma: no cover
    pass

MORPH_KINDS = ("widen", "deepen", "skip", "kernel")
#: activations that are the identity on non-negative inputs (relu(x) = elu(x) = x, x >= 0)
_IDENTITY_ON_NONNEG = ("relu", "elu")
_CONVS = ("conv", "sep_conv")


@dataclass(frozen=True)
class Morph:
    """One morphism: its kind, the layer it acts on and its argument.

    widen: `layer` gets `value` filters; deepen: a layer is inserted after `layer`
    (`value` is its kernel); skip: `layer` gets a skip input from layer `value`;
    kernel: `layer`'s kernel becomes `value`.
    """

    kind: str
    layer: int
    value: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "layer": self.layer, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Morph:
        return cls(str(data["kind"]), int(data["layer"]), int(data["value"]))


# --- genotype level -------------------------------------------------------------------------
def _check(space: LayerwiseSpace, arch: Architecture) -> list[LayerSpec]:
    if not isinstance(space, LayerwiseSpace):
        raise GenotypeError(f"morphisms: need a chain space, got {type(space).__name__}")
    return space.layers(arch)


def _out_channels(layers: Sequence[LayerSpec], in_channels: int) -> list[int]:
    out: list[int] = []
    C = in_channels
    for spec in layers:
        C_in = C + sum(out[j] for j in spec.skips)
        C = spec.filters if spec.op in _CONVS else C_in
        out.append(C)
    return out


def _nonneg(layers: Sequence[LayerSpec]) -> list[bool]:
    """Whether each layer's output is >= 0 for any input (the image itself is not)."""
    out: list[bool] = []
    for i, spec in enumerate(layers):
        if spec.op in _CONVS:
            out.append(spec.act == "relu")
        else:  # pools and identity keep the sign of their (concatenated) inputs
            main = out[i - 1] if i > 0 else False
            out.append(main and all(out[j] for j in spec.skips))
    return out


def widen(space: LayerwiseSpace, arch: Architecture, layer: int, filters: int) -> Architecture:
    """Net2WiderNet on the genotype: conv layer `layer` gets `filters` (> its own)."""
    layers = _check(space, arch)
    if not 0 <= layer < len(layers) or layers[layer].op not in _CONVS:
        raise GenotypeError(f"widen: layer {layer} is not a conv or sep_conv layer")
    if filters not in space.filters or filters <= layers[layer].filters:
        raise GenotypeError(
            f"widen: filters={filters} must be an option of the space "
            f"{list(space.filters)} above the layer's {layers[layer].filters}"
        )
    new = list(layers)
    spec = layers[layer]
    new[layer] = LayerSpec(spec.op, filters, spec.kernel, spec.stride, spec.act, spec.skips)
    return space.from_layers(new)


def deepen_activation(space: LayerwiseSpace, layers: Sequence[LayerSpec], after: int) -> str | None:
    """The activation of a layer inserted after `after`, or None when no insertion there
    preserves the function: its input must be non-negative and the space must offer an
    activation that is the identity there (relu, else elu)."""
    if not _nonneg(layers)[after]:
        return None
    for act in _IDENTITY_ON_NONNEG:
        if act in space.activations:
            return act
    return None


def deepen(
    space: LayerwiseSpace, arch: Architecture, after: int, kernel: int | None = None
) -> Architecture:
    """Net2DeeperNet on the genotype: a stride-1 conv layer inserted after layer `after`,
    with as many filters as that layer outputs (which must be an option of the space)."""
    layers = _check(space, arch)
    if not 0 <= after < len(layers):
        raise GenotypeError(f"deepen: no layer {after} to insert after")
    if len(layers) >= space.max_layers:
        raise GenotypeError(f"deepen: already at max_layers={space.max_layers}")
    if kernel is None:  # the space's default kernel: 3 where offered
        kernel = 3 if 3 in space.kernels else space.kernels[0]
    kernel = int(kernel)
    if kernel not in space.kernels:
        raise GenotypeError(f"deepen: kernel={kernel} is not one of {list(space.kernels)}")
    if 1 not in space.strides:
        raise GenotypeError("deepen: the space offers no stride 1")
    act = deepen_activation(space, layers, after)
    if act is None:
        raise GenotypeError(
            f"deepen: layer {after}'s output can be negative (or the space offers neither "
            "relu nor elu), so no inserted Conv-BN-act layer is the identity there"
        )
    width = _width(layers, after)
    if width is None or width not in space.filters:
        raise GenotypeError(
            f"deepen: layer {after} outputs {width if width else 'image-dependent'} "
            f"channels, not one of the space's filters {list(space.filters)}"
        )

    def shift(j: int) -> int:
        return j if j <= after else j + 1

    new = list(layers[: after + 1])
    new.append(LayerSpec("conv", width, kernel, 1, act, ()))
    for spec in layers[after + 1 :]:
        skips = tuple(shift(j) for j in spec.skips)
        new.append(LayerSpec(spec.op, spec.filters, spec.kernel, spec.stride, spec.act, skips))
    return space.from_layers(new)


def _width(layers: Sequence[LayerSpec], index: int) -> int | None:
    """The output channel count of layer `index` when it does not depend on the image's
    channels (a conv, or a pool/identity fed only by convs); None otherwise."""
    widths: list[int | None] = []
    for i, spec in enumerate(layers):
        if spec.op in _CONVS:
            widths.append(spec.filters)
            continue
        parts = [widths[i - 1] if i > 0 else None, *(widths[j] for j in spec.skips)]
        widths.append(None if any(p is None for p in parts) else sum(p for p in parts if p))
    return widths[index]


def add_skip(space: LayerwiseSpace, arch: Architecture, layer: int, source: int) -> Architecture:
    """A concatenated skip input from layer `source` to layer `layer` (source <= layer-2)."""
    layers = _check(space, arch)
    if not 0 <= layer < len(layers) or not 0 <= source <= layer - 2:
        raise GenotypeError(f"skip: no skip from layer {source} to layer {layer}")
    spec = layers[layer]
    if source in spec.skips:
        raise GenotypeError(f"skip: layer {layer} already reads layer {source}")
    new = list(layers)
    skips = tuple(sorted((*spec.skips, source)))
    new[layer] = LayerSpec(spec.op, spec.filters, spec.kernel, spec.stride, spec.act, skips)
    return space.from_layers(new)


def grow_kernel(space: LayerwiseSpace, arch: Architecture, layer: int, kernel: int) -> Architecture:
    """Conv layer `layer`'s kernel grown to `kernel` (zero padding keeps the function)."""
    layers = _check(space, arch)
    if not 0 <= layer < len(layers) or layers[layer].op not in _CONVS:
        raise GenotypeError(f"kernel: layer {layer} is not a conv or sep_conv layer")
    if kernel not in space.kernels or kernel <= layers[layer].kernel:
        raise GenotypeError(
            f"kernel: {kernel} must be an option of the space {list(space.kernels)} "
            f"above the layer's {layers[layer].kernel}"
        )
    new = list(layers)
    spec = layers[layer]
    new[layer] = LayerSpec(spec.op, spec.filters, kernel, spec.stride, spec.act, spec.skips)
    return space.from_layers(new)


def apply_morph(space: LayerwiseSpace, arch: Architecture, morph: Morph) -> Architecture:
    """The child genotype of `arch` under `morph` (a `GenotypeError` if not applicable)."""
    if morph.kind == "widen":
        return widen(space, arch, morph.layer, morph.value)
    if morph.kind == "deepen":
        return deepen(space, arch, morph.layer, morph.value)
    if morph.kind == "skip":
        return add_skip(space, arch, morph.layer, morph.value)
    if morph.kind == "kernel":
        return grow_kernel(space, arch, morph.layer, morph.value)
    raise GenotypeError(f"morph: unknown kind {morph.kind!r}; choose one of {list(MORPH_KINDS)}")


def available_morphs(space: LayerwiseSpace, arch: Architecture) -> list[Morph]:
    """Every morph applicable to `arch`, in a fixed order (kind, layer, value)."""
    layers = _check(space, arch)
    out: list[Morph] = []
    for i, spec in enumerate(layers):
        if spec.op in _CONVS:
            out += [Morph("widen", i, f) for f in space.filters if f > spec.filters]
    if len(layers) < space.max_layers and 1 in space.strides:
        for i in range(len(layers)):
            width = _width(layers, i)
            if width in space.filters and deepen_activation(space, layers, i) is not None:
                out += [Morph("deepen", i, k) for k in space.kernels]
    for i, spec in enumerate(layers):
        out += [Morph("skip", i, j) for j in range(i - 1) if j not in spec.skips]
    for i, spec in enumerate(layers):
        if spec.op in _CONVS:
            out += [Morph("kernel", i, k) for k in space.kernels if k > spec.kernel]
    return out


def random_morph(
    space: LayerwiseSpace, arch: Architecture, rng: np.random.Generator
) -> tuple[Morph, Architecture] | None:
    """A uniformly chosen kind among those applicable, then a uniform morph of that kind;
    None when no morph applies (choosing the kind first keeps the many skip and widen
    options from crowding out deepening)."""
    morphs = available_morphs(space, arch)
    if not morphs:
        return None
    kinds = [k for k in MORPH_KINDS if any(m.kind == k for m in morphs)]
    kind = kinds[int(rng.integers(len(kinds)))]
    of_kind = [m for m in morphs if m.kind == kind]
    morph = of_kind[int(rng.integers(len(of_kind)))]
    return morph, apply_morph(space, arch, morph)


def one_morph_away(
    space: LayerwiseSpace, parent: Architecture, child: Architecture
) -> Morph | None:
    """The morph that turns `parent` into `child` (compared as canonical genotypes), or
    None when no single morph does."""
    try:
        target = space.canonicalize(child)
        layers = _check(space, parent)
    except GenotypeError:
        return None
    # Cheap filter: a morph changes the depth by 0 or 1.
    if target["layers"] - len(layers) not in (0, 1):
        return None
    for morph in available_morphs(space, parent):
        if apply_morph(space, parent, morph) == target:
            return morph
    return None


__all__ = [
    "MORPH_KINDS",
    "Morph",
    "add_skip",
    "apply_morph",
    "available_morphs",
    "deepen",
    "grow_kernel",
    "one_morph_away",
    "random_morph",
    "widen",
]
