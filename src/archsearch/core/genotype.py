"""The genotype and the values that describe a space and a task: plain data, no torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archsearch.core.errors import GenotypeError

if TYPE_CHECKING:  # pragma: no cover
    pass


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
