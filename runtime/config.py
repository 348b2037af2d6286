"""Configuration loading: defaults ← optional TOML file ← ``LIANFANG_<SECTION>_<FIELD>`` env vars
← explicit overrides (command-line flags). Targets are frozen dataclasses whose field
docstrings document every setting. Errors name the offending key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or malformed; the message names the key."""


def _coerce(key: str, value: Any, kind: Any) -> Any:
    origin = getattr(kind, "__origin__", None)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"{key}: expected a boolean, got {value!r}")
    if kind in (int, float):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if kind is str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{key}: expected a string")
        return str(value)
    if origin is dict:
        if isinstance(value, str):  # env form: "a=1,b=2"
            pairs = [p for p in value.split(",") if p.strip()]
            if any("=" not in p for p in pairs):
                raise ConfigError(f"{key}: expected name=value pairs separated by commas")
            value = dict(p.strip().split("=", 1) for p in pairs)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        return {str(k): str(v) for k, v in value.items()}
    return value


def load_config(
    cls: type[T],
    *,
    section: str,
    file: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Builds ``cls`` from its defaults, the ``[section]`` of a TOML file, env vars and overrides."""
    assert dataclasses.is_dataclass(cls)
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if file:
        try:
            data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {file} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file}: {exc}") from None
        table = data.get(section, {})
        for key, value in table.items():
            if key not in names:
                raise ConfigError(f"[{section}] {key}: unknown setting (known: {', '.join(sorted(names))})")
            values[key] = _coerce(f"[{section}] {key}", value, hints[key])
    prefix = f"LIANFANG_{section.upper()}_"
    for var, value in (os.environ if env is None else env).items():
        if var.startswith(prefix):
            key = var.removeprefix(prefix).lower()
            if key not in names:
                raise ConfigError(f"{var}: unknown setting (known: {', '.join(sorted(names))})")
            values[key] = _coerce(var, value, hints[key])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(f"--{key.replace('_', '-')}", value, hints[key])
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}] {exc}") from None
