"""Settings written as text: `KEY=VALUE` (the value JSON if it parses, else a string),
and comma-separated lists of them, as flags and estimates spell them."""

from __future__ import annotations

import json
from typing import Any

from archsearch.core.errors import ConfigError


def key_value(text: str) -> tuple[str, Any]:
    """'epochs=3' -> ('epochs', 3); 'ops=["conv"]' -> ('ops', ['conv']); 'm=sgd' -> ('m', 'sgd')."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a bare word is a string


def settings(text: str) -> dict[str, Any]:
    """'epochs=1,data_fraction=0.25' -> {'epochs': 1, 'data_fraction': 0.25}."""
    return dict(key_value(item) for item in text.split(",") if item)
