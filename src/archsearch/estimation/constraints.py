"""Hardware and size constraints checked before an architecture is trained.

A `StaticLimits` object is a study constraint: called with a genotype, it builds the
network (no training), measures what its limits name (parameters, FLOPs of one sample,
CPU latency at batch 1) and returns a message naming the first limit exceeded, or None.
The study then records the trial REJECTED at no budget (as in MnasNet-style constrained
searches, but a hard filter rather than a reward term).
"""

from __future__ import annotations

from typing import Any

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.base import SearchSpace


class StaticLimits:
    def __init__(
        self,
        space: SearchSpace,
        task: TaskSpec,
        *,
        max_params: int | None = None,
        max_flops: float | None = None,
        max_latency_ms: float | None = None,
        latency_repeats: int = 10,
    ) -> None:
        self.space, self.task = space, task
        self.max_params, self.max_flops, self.max_latency_ms = max_params, max_flops, max_latency_ms
        self.latency_repeats = latency_repeats

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_flops, self.max_latency_ms))

    def measure(self, arch: Architecture) -> dict[str, float]:
        """The measured quantities this object's limits need (all three if none is set)."""
        import torch

        from archsearch.nn.measure import count_flops, count_params, cpu_latency_ms

        model: Any = self.space.build(arch, self.task)
        sample = torch.zeros(1, *self.task.input_shape)
        out: dict[str, float] = {"params": float(count_params(model))}
        if self.max_flops is not None or not self.active:
            out["flops"] = float(count_flops(model, sample))
        if self.max_latency_ms is not None or not self.active:
            out["latency_ms"] = cpu_latency_ms(model, sample, self.latency_repeats)
        return out

    def __call__(self, arch: Architecture) -> str | None:
        if not self.active:
            return None
        measured = self.measure(arch)
        for name, limit in (
            ("params", self.max_params),
            ("flops", self.max_flops),
            ("latency_ms", self.max_latency_ms),
        ):
            if limit is not None and measured[name] > limit:
                return f"{name} {measured[name]:.4g} > {limit:.4g}"
        return None
