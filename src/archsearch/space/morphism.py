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

Two levels: the genotype functions (`widen`, `deepen`, `add_skip`, `grow_kernel`,
`apply_morph`, `available_morphs`, `random_morph`, `one_morph_away`) need no torch; the
weight function `morph_module` (torch, imported inside it) maps a parent network's
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

from archsearch.errors import GenotypeError
from archsearch.space.base import Architecture, TaskSpec
from archsearch.space.chain import ChainSpace, LayerSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn

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
def _check(space: ChainSpace, arch: Architecture) -> list[LayerSpec]:
    if not isinstance(space, ChainSpace):
        raise GenotypeError(f"morphisms: need a chain space, got {type(space).__name__}")
    return space.layers(arch)


def _from_layers(space: ChainSpace, layers: Sequence[LayerSpec]) -> Architecture:
    """The canonical genotype of these layers (inactive decisions at their defaults)."""
    if not space.min_layers <= len(layers) <= space.max_layers:
        raise GenotypeError(
            f"morphisms: {len(layers)} layers is outside {space.min_layers}..{space.max_layers}"
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
    for d in space.decisions():
        if d.name in get:
            values.append(get[d.name])
        else:  # an inactive layer: any valid value, canonicalize() resets it
            values.append(d.options[0])
    return space.canonicalize(space.make(values))


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


def widen(space: ChainSpace, arch: Architecture, layer: int, filters: int) -> Architecture:
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
    return _from_layers(space, new)


def deepen_activation(space: ChainSpace, layers: Sequence[LayerSpec], after: int) -> str | None:
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
    space: ChainSpace, arch: Architecture, after: int, kernel: int | None = None
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
    return _from_layers(space, new)


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


def add_skip(space: ChainSpace, arch: Architecture, layer: int, source: int) -> Architecture:
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
    return _from_layers(space, new)


def grow_kernel(space: ChainSpace, arch: Architecture, layer: int, kernel: int) -> Architecture:
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
    return _from_layers(space, new)


def apply_morph(space: ChainSpace, arch: Architecture, morph: Morph) -> Architecture:
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


def available_morphs(space: ChainSpace, arch: Architecture) -> list[Morph]:
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
    space: ChainSpace, arch: Architecture, rng: np.random.Generator
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


def one_morph_away(space: ChainSpace, parent: Architecture, child: Architecture) -> Morph | None:
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


# --- weight level ---------------------------------------------------------------------------
@dataclass
class _Plan:
    """For each child layer: the parent layer it was copied from (None: inserted), the
    parent layer whose output its output represents, its output channel map, and each
    output channel's share of its parent channel (1 unless the channel was replicated)."""

    origin: list[int | None]
    source: list[int]
    out_map: list[list[int | None]]
    out_share: list[list[float]]
    in_map: list[list[int | None]]  # each child layer's input channels -> parent's
    in_share: list[list[float]]


def _shares(copies: Sequence[int], rng: np.random.Generator, split_noise: float) -> list[float]:
    """How a replicated unit's outgoing weight is split among its `copies` child
    channels: equal shares 1/n (Net2Net), or with `split_noise` > 0 unequal shares
    (1 + noise * U(-1, 1), normalised) that still sum to 1. Equal shares keep the copies
    identical under gradient descent forever (their gradients are equal); unequal ones
    break that symmetry while the function stays exactly the same (Chen et al. add
    noise instead, which changes the function slightly)."""
    n = len(copies)
    if n == 1 or split_noise == 0:
        return [1.0 / n] * n
    w = 1.0 + split_noise * rng.uniform(-1.0, 1.0, size=n)
    return [float(v) for v in w / w.sum()]


def _plan(
    parent: Sequence[LayerSpec],
    child: Sequence[LayerSpec],
    morph: Morph,
    in_channels: int,
    rng: np.random.Generator,
    split_noise: float,
) -> _Plan:
    """Channel maps of every child layer (see the module docstring) and, per child layer,
    the map of its input channels onto the parent layer's input channels."""
    p_out = _out_channels(parent, in_channels)
    origin: list[int | None] = []
    for k in range(len(child)):
        if morph.kind == "deepen" and k > morph.layer:
            origin.append(None if k == morph.layer + 1 else k - 1)
        else:
            origin.append(k)
    source: list[int] = []
    out_map: list[list[int | None]] = []
    out_share: list[list[float]] = []
    in_maps: list[list[int | None]] = []
    in_shares: list[list[float]] = []
    for k, spec in enumerate(child):
        p = origin[k]
        if p is None:  # the inserted identity layer: its output is its input
            in_maps.append(list(out_map[k - 1]))
            in_shares.append(list(out_share[k - 1]))
            source.append(source[k - 1])
            out_map.append(list(out_map[k - 1]))
            out_share.append(list(out_share[k - 1]))
            continue
        # Offsets of the parent's inputs of layer p within its concatenated input.
        offsets: dict[int, int] = {}
        offset = 0
        for q in [p - 1, *parent[p].skips]:
            offsets[q] = offset
            offset += in_channels if q < 0 else p_out[q]
        # The child's inputs: main (layer k-1, or the image) then its skips, in order.
        in_map: list[int | None] = []
        in_share: list[float] = []
        for m in [k - 1, *spec.skips]:
            if m < 0:  # the image
                in_map += list(range(in_channels))
                in_share += [1.0] * in_channels
                continue
            base = offsets.get(source[m])  # None: a new skip, whose channels get weight 0
            in_map += [None if base is None or c is None else base + c for c in out_map[m]]
            in_share += out_share[m]
        in_maps.append(in_map)
        in_shares.append(in_share)
        source.append(p)
        if spec.op in _CONVS:
            old = parent[p].filters
            units: list[int | None] = list(range(old))
            if spec.filters > old:  # Net2WiderNet: new units copy randomly chosen old ones
                units += [int(e) for e in rng.integers(old, size=spec.filters - old)]
            share = [1.0] * len(units)
            for o in range(old):
                copies = [c for c, u in enumerate(units) if u == o]
                for c, f in zip(copies, _shares(copies, rng, split_noise), strict=True):
                    share[c] = f
            out_map.append(units)
            out_share.append(share)
        else:
            out_map.append(list(in_map))
            out_share.append(list(in_share))
    return _Plan(origin, source, out_map, out_share, in_maps, in_shares)


def _gather_in(
    weight: torch.Tensor,
    in_map: Sequence[int | None],
    init: torch.Tensor,
    share: Sequence[float] | None,
) -> torch.Tensor:
    """Columns (dim 1) of `weight` picked by `in_map`: None keeps `init`'s column
    (zeros for a consumer), and each column is scaled by its channel's `share` (a
    replicated unit's outgoing weight split among its copies; None: no scaling)."""
    out = init.clone()
    for c, m in enumerate(in_map):
        if m is not None:
            out[:, c] = weight[:, m] * (share[c] if share is not None else 1.0)
    return out


def _pad_kernel(weight: torch.Tensor, kernel: int) -> torch.Tensor:
    """A (O, I, k, k) kernel zero-padded around its centre to (O, I, kernel, kernel)."""
    import torch.nn.functional as F

    pad = (kernel - weight.shape[-1]) // 2
    return F.pad(weight, (pad, pad, pad, pad))


def _copy_bn(child_bn: Any, parent_bn: Any, out_map: Sequence[int | None]) -> None:
    import torch

    idx = torch.tensor([m if m is not None else 0 for m in out_map])
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(child_bn, name).copy_(getattr(parent_bn, name)[idx])
    child_bn.num_batches_tracked.copy_(parent_bn.num_batches_tracked)


def _identity_bn(bn: Any, mean: torch.Tensor | None, var: torch.Tensor | None) -> None:
    """Batch norm that is the identity in eval mode: running statistics `mean`, `var`
    (those of its input when a calibration batch is given, so training mode starts near
    the identity too; else 0 and 1), gamma = sqrt(var + eps), beta = mean."""
    import torch

    C = bn.num_features
    mean = torch.zeros(C) if mean is None else mean
    var = torch.ones(C) if var is None else var
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    bn.weight.copy_(torch.sqrt(var + bn.eps))
    bn.bias.copy_(mean)


def morph_module(
    space: ChainSpace,
    parent_arch: Architecture,
    child_arch: Architecture,
    parent: nn.Module,
    task: TaskSpec,
    *,
    morph: Morph | None = None,
    rng: np.random.Generator | None = None,
    calibration: torch.Tensor | None = None,
    split_noise: float = 0.0,
) -> nn.Module:
    """The child network of `child_arch`, built for `task`, carrying `parent`'s weights
    so that it computes the same function in eval mode.

    `morph` defaults to the one `one_morph_away` finds (a `GenotypeError` if none).
    `rng` picks the units Net2WiderNet replicates; `split_noise` > 0 splits a replicated
    unit's outgoing weights unequally among its copies (still summing to the original, so
    the function is unchanged) so that training can tell the copies apart.
    `calibration`, a batch of inputs, sets an inserted layer's batch-norm statistics to
    those of its input (the identity then holds in eval mode either way; with them,
    training mode starts close to it).
    Parameters the parent has no counterpart for keep the child's fresh initialisation
    where they cannot change the output (depthwise filters of new input channels), else
    zero. The child is returned in eval mode on the parent's device.
    """
    import torch

    if morph is None:
        morph = one_morph_away(space, parent_arch, child_arch)
        if morph is None:
            raise GenotypeError(
                f"morph_module: {space.describe(child_arch)} is not one morph away from "
                f"{space.describe(parent_arch)}"
            )
    elif apply_morph(space, parent_arch, morph) != space.canonicalize(child_arch):
        raise GenotypeError(f"morph_module: {morph} does not turn the parent into the child")
    rng = np.random.default_rng(0) if rng is None else rng
    p_layers, c_layers = space.layers(parent_arch), space.layers(child_arch)
    in_channels = int(task.input_shape[0])
    plan = _plan(p_layers, c_layers, morph, in_channels, rng, split_noise)
    device = next(parent.parameters()).device
    child: Any = space.build(child_arch, task).to(device)
    p_net: Any = parent  # a ChainNetwork: .layers, .classifier

    stats: tuple[torch.Tensor, torch.Tensor] | None = None
    if morph.kind == "deepen" and calibration is not None:
        stats = _input_stats(parent, morph.layer, calibration.to(device))

    with torch.no_grad():
        for k, spec in enumerate(c_layers):
            body = child.layers[k]
            p = plan.origin[k]
            if p is None:  # inserted Net2DeeperNet layer: identity conv, identity BN
                conv, bn = body[0], body[1]
                conv.weight.zero_()
                centre = spec.kernel // 2
                for c in range(conv.weight.shape[0]):
                    conv.weight[c, c, centre, centre] = 1.0
                _identity_bn(bn, *(stats if stats is not None else (None, None)))
                continue
            if spec.op not in _CONVS:
                continue  # pools and identity have no weights
            p_body = p_net.layers[p]
            rows = torch.tensor([m if m is not None else 0 for m in plan.out_map[k]])
            if spec.op == "conv":
                w = p_body[0].weight[rows]
                w = _pad_kernel(w, spec.kernel)
                body[0].weight.copy_(
                    _gather_in(
                        w, plan.in_map[k], torch.zeros_like(body[0].weight), plan.in_share[k]
                    )
                )
                _copy_bn(body[1], p_body[1], plan.out_map[k])
            else:  # sep_conv: depthwise (per input channel), pointwise, BN
                dw = _pad_kernel(p_body[0].weight, spec.kernel)  # (C_in, 1, k, k)
                fresh = body[0].weight.clone()
                dw_new = _gather_in(dw.transpose(0, 1), plan.in_map[k], fresh.transpose(0, 1), None)
                body[0].weight.copy_(dw_new.transpose(0, 1))
                pw = p_body[1].weight[rows]
                body[1].weight.copy_(
                    _gather_in(
                        pw, plan.in_map[k], torch.zeros_like(body[1].weight), plan.in_share[k]
                    )
                )
                _copy_bn(body[2], p_body[2], plan.out_map[k])
        head = child.classifier
        head.weight.copy_(
            _gather_in(
                p_net.classifier.weight,
                plan.out_map[-1],
                torch.zeros_like(head.weight),
                plan.out_share[-1],
            )
        )
        head.bias.copy_(p_net.classifier.bias)
    result: nn.Module = child.eval()
    return result


def _input_stats(
    parent: nn.Module, layer: int, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (biased) variance of parent layer `layer`'s output on `x`,
    in eval mode: the input an inserted layer will see."""
    import torch

    seen: list[torch.Tensor] = []
    net: Any = parent
    hook = net.layers[layer].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    was_training = parent.training
    parent.eval()
    try:
        with torch.no_grad():
            parent(x)
    finally:
        hook.remove()
        parent.train(was_training)
    out = seen[0]
    var, mean = torch.var_mean(out, dim=(0, 2, 3), unbiased=False)
    return mean, var


__all__ = [
    "MORPH_KINDS",
    "Morph",
    "add_skip",
    "apply_morph",
    "available_morphs",
    "deepen",
    "grow_kernel",
    "morph_module",
    "one_morph_away",
    "random_morph",
    "widen",
]
