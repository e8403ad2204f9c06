"""Command-line flags generated from a job's pydantic config model, so that a setting,
its default and its choices are written once (in the model) and reach `--help`, config
files and the Python API alike.

* every field `name` is a flag `--name` (underscores as dashes), defaulting to the
  model's value, which `--help` shows;
* a `dict` field `x_options` is a repeatable `--x-option KEY=VALUE` (the value JSON if it
  parses, else a string); a `list[str]` field is a repeatable flag; a `Literal` field
  lists its choices; a `bool` field has `--name` and `--no-name`; the objectives field
  reads `METRIC:max,METRIC:min`;
* `--config FILE` reads the settings from TOML or YAML (flags given as well override
  it), and `--print-config` prints the settings as YAML and exits: fed back with
  `--config`, they give the same config.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import tomllib
import yaml
from pydantic import BaseModel

from archsearch.core.errors import ConfigError
from archsearch.core.options import key_value
from archsearch.study.config import parse_model

M = TypeVar("M", bound=BaseModel)


def key_value_option(text: str) -> tuple[str, Any]:
    """argparse type of KEY=VALUE flags (`archsearch.core.options.key_value`)."""
    try:
        return key_value(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_objectives(text: str) -> list[tuple[str, str]]:
    """'val_acc:max,params:min' -> [("val_acc", "max"), ("params", "min")]."""
    pairs = []
    for item in text.split(","):
        metric, _, direction = item.partition(":")
        if direction not in ("max", "min") or not metric:
            raise argparse.ArgumentTypeError(f"write METRIC:max or METRIC:min, not {item!r}")
        pairs.append((metric, direction))
    return pairs


def _plain_type(annotation: Any) -> Any:
    """`int | None` -> int: the type a flag's text converts to."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """One flag per field of `model`, plus `--config` and `--print-config`."""
    group = parser.add_argument_group("settings (also in a --config file)")
    for name, field in model.model_fields.items():
        annotation = _plain_type(field.annotation)
        default = field.get_default(call_default_factory=True)
        text = field.description or ""
        shown = "none" if default is None else json.dumps(default) if default != {} else "{}"
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        flag = _flag(name)
        origin = get_origin(annotation)
        if name == "objectives":
            kwargs.update(type=parse_objectives, metavar="METRIC:max|min,...")
        elif origin is dict or annotation is dict:
            flag = _flag(name.removesuffix("s"))
            kwargs.update(type=key_value_option, action="append", metavar="KEY=VALUE")
            text += " (repeatable)"
        elif origin is list and get_args(annotation) == (str,):
            flag = _flag(name.removesuffix("s"))
            kwargs.update(action="append", metavar=name.upper().removesuffix("S"))
            text += " (repeatable)"
        elif annotation is bool:
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif origin is Literal:
            kwargs.update(choices=get_args(annotation))
        elif annotation in (int, float, str):
            kwargs.update(type=annotation)
        else:
            kwargs.update(type=json.loads, metavar="JSON")
        group.add_argument(flag, help=f"{text} (default: {shown})".strip(), **kwargs)
    parser.add_argument(
        "--config", type=Path, help="read these settings from a TOML or YAML file; flags win"
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the settings as YAML and exit"
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML (`.toml`) or YAML (anything else) file of settings, as a dict."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--config {path}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        detail = getattr(e, "problem", None) or " ".join(str(e).split())  # one line
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        raise ConfigError(f"--config {path}: not valid {kind}: {detail}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of setting: value")
    return data


def config_from_args(args: argparse.Namespace, model: type[M]) -> M:
    """The config: the model's defaults, then the `--config` file, then the flags given."""
    values = read_config_file(args.config) if args.config is not None else {}
    for name, field in model.model_fields.items():
        if not hasattr(args, name):
            continue
        given = getattr(args, name)
        if get_origin(_plain_type(field.annotation)) is dict:  # KEY=VALUE pairs add up
            given = {**values.get(name, {}), **dict(given)}
        values[name] = given
    return parse_model(model, values)


def print_config(config: BaseModel) -> None:
    """The settings as YAML, in field order: what `--config` reads back."""
    data = json.loads(config.model_dump_json())
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
