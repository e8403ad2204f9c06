"""The genotype (`Architecture`) and the `SearchSpace` contract.

Nothing here imports torch: strategies work on genotypes alone, and only `build()` makes
a network (each space imports torch lazily there).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archsearch.errors import GenotypeError
from archsearch.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

Value = Any  # a JSON scalar, or a tuple of them


def _freeze(value: Any) -> Any:
    """JSON lists become tuples, so genotypes stay hashable."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Architecture:
    """A genotype: the space it belongs to and its ordered (decision, value) pairs.

    A hashable value with a JSON round-trip; two architectures are equal when their space
    and choices are (isomorphic but different genotypes are not equal: use the space's
    `canonical()` to identify those).
    """

    space: str
    choices: tuple[tuple[str, Value], ...]

    def __getitem__(self, decision: str) -> Value:
        for name, value in self.choices:
            if name == decision:
                return value
        raise KeyError(decision)

    @property
    def values(self) -> tuple[Value, ...]:
        return tuple(v for _, v in self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "choices": {k: _thaw(v) for k, v in self.choices}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> Architecture:
        if not isinstance(data, dict) or not isinstance(data.get("space"), str):
            raise GenotypeError("genotype: expected an object with a 'space' string and 'choices'")
        choices = data.get("choices")
        if not isinstance(choices, dict):
            raise GenotypeError("genotype: 'choices' must be an object of decision -> value")
        return cls(data["space"], tuple((str(k), _freeze(v)) for k, v in choices.items()))

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise GenotypeError(f"genotype: not valid JSON ({e.msg} at char {e.pos})") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class TaskSpec:
    """What a built network must fit: input shape (channels, height, width) and classes."""

    input_shape: tuple[int, ...]
    num_classes: int


@dataclass(frozen=True)
class Decision:
    """One categorical choice of a space, with its options in a fixed order."""

    name: str
    options: tuple[Value, ...]


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

    def build(self, arch: Architecture, task: TaskSpec) -> nn.Module:
        """The PyTorch network of this genotype for a task (input shape, classes)."""
        raise NotImplementedError(f"space {self.id} does not build networks yet")


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
