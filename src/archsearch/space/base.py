"""The genotype (`Architecture`) and the `SearchSpace` contract.

Nothing here imports torch: strategies work on genotypes alone, and only `build()` makes
a network (each space imports torch lazily there).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture, Decision, TaskSpec, Value
from archsearch.core.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn


class SearchSpace(ABC):
    """WHAT can be built: decisions, sampling, local moves, encodings and the network.

    The default methods treat the space as a fixed list of independent categorical
    decisions (true of cell spaces such as NAS-Bench-201); spaces with conditional or
    structured decisions override them.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    #: what `build` makes: "image" (a classifier of `task.input_shape` images) or
    #: "language" (a language model over `task.num_classes` words); evaluators check it
    modality: ClassVar[str] = "image"
    #: "module:function" that builds this space's network (see `build`); None: none
    network: ClassVar[str | None] = None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @abstractmethod
    def decisions(self) -> Sequence[Decision]:
        """The ordered decisions; RL controllers and MCTS walk them in this order."""

    def make(self, values: Sequence[Value]) -> Architecture:
        """The architecture with these decision values, in `decisions()` order."""
        names = [d.name for d in self.decisions()]
        if len(values) != len(names):
            raise GenotypeError(f"{self.id}: expected {len(names)} values, got {len(values)}")
        arch = Architecture(self.id, tuple(zip(names, values, strict=True)))
        self.validate(arch)
        return arch

    def sample(self, rng: np.random.Generator) -> Architecture:
        """An architecture drawn uniformly over each decision."""
        return Architecture(
            self.id,
            tuple((d.name, d.options[rng.integers(len(d.options))]) for d in self.decisions()),
        )

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One decision changed to a different option, chosen uniformly."""
        decisions = self.decisions()
        k = int(rng.integers(len(decisions)))
        options = [o for o in decisions[k].options if o != arch.choices[k][1]]
        new = options[rng.integers(len(options))]
        choices = list(arch.choices)
        choices[k] = (choices[k][0], new)
        return Architecture(arch.space, tuple(choices))

    def neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        """Every architecture one decision away, in decision and option order."""
        for k, d in enumerate(self.decisions()):
            for option in d.options:
                if option != arch.choices[k][1]:
                    choices = list(arch.choices)
                    choices[k] = (d.name, option)
                    yield Architecture(arch.space, tuple(choices))

    def encode(self, arch: Architecture) -> np.ndarray:
        """One-hot per decision, concatenated (a fixed-length float vector)."""
        parts = []
        for (_, value), d in zip(arch.choices, self.decisions(), strict=True):
            one_hot = np.zeros(len(d.options))
            one_hot[d.options.index(value)] = 1.0
            parts.append(one_hot)
        return np.concatenate(parts)

    def validate(self, arch: Architecture) -> None:
        """Raise `GenotypeError` naming the first problem; return None if valid."""
        if not isinstance(arch, Architecture):
            raise GenotypeError(f"{self.id}: expected an Architecture, got {type(arch).__name__}")
        if arch.space != self.id:
            raise GenotypeError(f"genotype belongs to space {arch.space!r}, not {self.id!r}")
        decisions = self.decisions()
        names = [name for name, _ in arch.choices]
        expected = [d.name for d in decisions]
        if names != expected:
            missing = [n for n in expected if n not in names]
            extra = [n for n in names if n not in expected]
            detail = f"missing {missing}" if missing else f"unknown {extra}" if extra else "order"
            raise GenotypeError(f"{self.id}: decisions do not match the space ({detail})")
        for (name, value), d in zip(arch.choices, decisions, strict=True):
            if value not in d.options:
                raise GenotypeError(
                    f"{self.id}: decision {name!r} has invalid value {value!r}; "
                    f"options are {list(d.options)}"
                )

    def canonical(self, arch: Architecture) -> Any:
        """A key equal for architectures that compute the same function (default: itself)."""
        return arch

    def parse(self, text: str) -> Architecture:
        """An architecture from user text (JSON genotype by default), validated."""
        arch = Architecture.from_json(text)
        self.validate(arch)
        return arch

    def describe(self, arch: Architecture) -> str:
        """A short human-readable form."""
        return ", ".join(f"{k}={v}" for k, v in arch.choices)

    def size(self) -> int | None:
        """The number of distinct genotypes, where finite and known."""
        n = 1
        for d in self.decisions():
            n *= len(d.options)
        return n

    @property
    def builds_networks(self) -> bool:
        """Whether `build` makes networks (a `network` named, or `build` overridden)."""
        return self.network is not None or type(self).build is not SearchSpace.build

    def build(self, arch: Architecture, task: TaskSpec) -> nn.Module:
        """The PyTorch network of this genotype for a task (input shape, classes): made by
        the function `network` names ("module:function", called as function(space, arch,
        task)). A name, not an import, so that a space never imports torch or the network
        code that depends on it."""
        if self.network is None:
            raise NotImplementedError(f"space {self.id} does not build networks")
        module, _, function = self.network.partition(":")
        builder = getattr(importlib.import_module(module), function)
        return cast("nn.Module", builder(self, arch, task))


class GenotypeTextSpace(SearchSpace):
    """A space whose genotypes also read and print as DARTS' `Genotype(...)` text (the
    form its published cells are written in): `parse` takes that text or JSON,
    `describe` prints it."""

    @abstractmethod
    def to_genotype_str(self, arch: Architecture) -> str: ...

    @abstractmethod
    def from_genotype_str(self, text: str) -> Architecture: ...

    def parse(self, text: str) -> Architecture:
        """A JSON genotype or `Genotype(...)` text."""
        text = text.strip()
        if text.startswith("Genotype"):
            return self.from_genotype_str(text)
        return super().parse(text)

    def describe(self, arch: Architecture) -> str:
        return self.to_genotype_str(arch)


SPACES: Registry[type[SearchSpace]] = Registry("search space")


def get_space(name: str, **options: Any) -> SearchSpace:
    """A space by its registered name, e.g. `get_space("nb201")`."""
    return SPACES.get(name.split("@")[0])(**options)
