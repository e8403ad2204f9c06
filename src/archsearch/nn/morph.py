"""Weight transfer of the chain space's network morphisms (`archsearch.space.morphism`):
`morph_module` maps a parent network's weights onto its morphed child so that, in eval
mode, the child computes the parent's function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.capabilities import LayerwiseSpace
from archsearch.space.chain import LayerSpec
from archsearch.space.morphism import _CONVS, Morph, _out_channels, apply_morph, one_morph_away

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn


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
    space: LayerwiseSpace,
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


__all__ = ["morph_module"]
