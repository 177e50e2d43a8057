"""Reading one layer of settings into a config dataclass's field types: a TOML file
(typed values, checked), the ``ZMQCHAT_*`` environment and flags (strings, parsed).

:func:`zmqchat.common.config.load_config` stacks the layers; this module knows only
fields and their types, so each error says where the bad value came from.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

from zmqchat.errors import ConfigError

ENV_PREFIX: Final = "ZMQCHAT_"


def fields_of(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def from_toml(cls: type, path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    known = fields_of(cls)
    out = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        # TOML has types: a quoted number is a mistake worth reporting, not parsing.
        out[key] = coerce(cls, key, value, f"{path}: key {key!r}", parse_strings=False)
    return out


def from_env(cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for key in fields_of(cls):
        name = ENV_PREFIX + key.upper()
        if name in env:
            out[key] = coerce(cls, key, env[name], f"environment variable {name}")
    return out


def coerce(cls: type, key: str, value: Any, where: str, parse_strings: bool = True) -> Any:
    """Convert ``value`` to the type of field ``key``; strings (env, flags) are parsed
    unless ``parse_strings`` is False (TOML values must have the right type)."""
    fields = fields_of(cls)
    if key not in fields:
        raise ConfigError(f"{where}: unknown setting {key!r}")
    kind = fields[key]
    optional = get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind)
    if optional:
        kind = next(a for a in get_args(kind) if a is not type(None))
        if parse_strings and isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
    if not parse_strings and isinstance(value, str) and kind is not str:
        raise ConfigError(f"{where}: {value!r} is a string; write a {_describe(kind)} unquoted")
    try:
        return _convert(kind, value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a valid {_describe(kind)}") from None


def _convert(kind: Any, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool | float):
            raise TypeError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    if get_origin(kind) is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError(value)
        return tuple(value)
    raise TypeError(kind)  # pragma: no cover - every field type is handled above


def _describe(kind: Any) -> str:
    if get_origin(kind) is tuple:
        return "list of names"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(kind, str(kind))


__all__ = ["ENV_PREFIX", "coerce", "fields_of", "from_env", "from_toml"]
