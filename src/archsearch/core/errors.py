"""Errors that archsearch raises on bad input.

Every error a user can cause by what they type or pass derives from `ArchsearchError`, so
the CLI can print its one-line message and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ArchsearchError(Exception):
    """Base class: a problem with the user's input, named in one line."""


class ConfigError(ArchsearchError, ValueError):
    """An invalid configuration value; the message names the field."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup with a name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class GenotypeError(ArchsearchError, ValueError):
    """An architecture that is not valid in its search space."""


class StudyError(ArchsearchError):
    """A study folder or database that cannot be used as asked."""


class DeterminismError(StudyError):
    """A strategy replayed on resume proposed something other than what was stored."""


def require_whole_numbers(values: Mapping[str, Any]) -> None:
    """Each named value must be a whole number >= 1 (None: not given, allowed); the
    `ConfigError` names the first one that is not."""
    for key, value in values.items():
        if value is not None and (int(value) != value or value < 1):
            raise ConfigError(f"{key} must be a whole number >= 1, got {value!r}")
