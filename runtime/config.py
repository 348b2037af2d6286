"""Configuration loading: defaults ← optional TOML file ← ``LIANFANG_<SECTION>_<FIELD>`` env vars
← explicit overrides (command-line flags). Targets are frozen dataclasses whose field
docstrings document every setting. Errors name the offending key.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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
            number = kind(value)
        except (TypeError, ValueError, OverflowError):  # int(inf) overflows
            raise ConfigError(f"{key}: expected a {'whole ' if kind is int else ''}number, got {value!r}") from None
        if kind is int and isinstance(value, float) and number != value:  # TOML 2.5 for a count
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        if kind is float and not math.isfinite(number):  # nan, inf: no setting means either
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
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
        from runtime.toml_file import file_error, read_toml_file  # it raises this module's ConfigError

        data = read_toml_file(Path(file), file_error("config file"))
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
    except ConfigError:
        raise  # it names the setting already ("hub: grace_seconds …")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}] {exc}") from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

MIN_MESSAGE_BYTES = 1024
"""Smallest ``max_message_bytes`` a server takes (less refuses about every request)."""

MAX_MESSAGE_BYTES = 2**31 - 1
"""Largest ``max_message_bytes``: gRPC's message-size options are C ints."""


def check_log_level(section: str, level: str) -> None:
    """``log_level``: a level name ``logging`` knows (any case), else a ConfigError naming it."""
    if level.upper() not in logging.getLevelNamesMapping():
        raise ConfigError(f"{section}: log_level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")


_ANY_HOST = frozenset({"0.0.0.0", "[::]", "::", "*"})


def check_listen(section: str, config: object, *names: str) -> None:
    """``host:port`` settings (``listen``, ``health_listen``…): a port of 0 (any free one) to
    65535; "" leaves an optional one off; no two on one port (the second bind would fail after
    the store was opened). gRPC would bind 99999 as 99999 mod 65536."""
    taken: dict[int, list[tuple[str, str]]] = {}
    for name in names:
        value = str(getattr(config, name))
        if not value:
            continue
        host, _, port = value.rpartition(":")
        if not (host and port.isdigit() and int(port) <= 65535):
            raise ConfigError(f"{section}: {name} must be host:port with a port of 0 to 65535, got {value!r}")
        for other, other_host in taken.get(int(port), []):  # one address, or a wildcard over it
            if host == other_host or {host, other_host} & _ANY_HOST:
                raise ConfigError(f"{section}: {name} and {other} both name {value}: give each its own port")
        if int(port):
            taken.setdefault(int(port), []).append((name, host))


def check_message_bytes(section: str, value: int) -> None:
    """``max_message_bytes`` of a server (hub, node): ``MIN_MESSAGE_BYTES`` to ``MAX_MESSAGE_BYTES``."""
    if not MIN_MESSAGE_BYTES <= value <= MAX_MESSAGE_BYTES:
        raise ConfigError(
            f"{section}: max_message_bytes must be {MIN_MESSAGE_BYTES} to {MAX_MESSAGE_BYTES}, got {value!r}"
        )


def check_numbers(
    section: str,
    config: object,
    *,
    positive: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    at_least: Mapping[str, int] | None = None,
) -> None:
    """Numeric settings of ``config`` in their ranges, or a ConfigError naming the first one that is
    not: ``positive`` (> 0: intervals, deadlines), ``non_negative`` (≥ 0: durations, counts, rates
    where 0 means off or unlimited), ``at_least`` (name → minimum). Every one must be finite (NaN
    compares false with everything, so it would pass a plain ``x < 0`` test and fail later)."""
    for name in positive:
        value = getattr(config, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{section}: {name} must be a positive number, got {value!r}")
    for name in non_negative:
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{section}: {name} must be 0 or more, got {value!r}")
    for name, low in (at_least or {}).items():
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= low):
            raise ConfigError(f"{section}: {name} must be at least {low}, got {value!r}")


@contextmanager
def setting_file(setting: str, path: str | Path) -> Iterator[None]:
    """Reading or opening the file a setting names at start-up: what goes wrong with it (not there,
    unreadable, not the kind of file the setting wants, a database SQLite cannot open or write)
    becomes one ConfigError line, ``<setting>: <file>: <what is wrong>``, not a traceback. The
    same for hub, node and key service: ``with setting_file("audit_key_file", path): …``."""
    try:
        yield
    except ConfigError as error:  # a loader's own: named by the setting, once
        if str(error).startswith(f"{setting}:"):
            raise
        raise ConfigError(f"{setting}: {error}") from None
    except OSError as error:
        reason = error.strerror or str(error)
        if error.filename and str(error.filename) != str(path):  # its folder, say
            reason = f"{error.filename}: {reason}"
            if isinstance(error, FileExistsError):  # Path.mkdir(exist_ok=True): a file in the way
                reason = f"{error.filename} is a file, not a folder"
        raise ConfigError(f"{setting}: {path}: {reason}") from None
    except (ValueError, sqlite3.Error) as error:  # a loader's message names the file, or it is added
        text = str(error)
        raise ConfigError(f"{setting}: {text if str(path) in text else f'{path}: {text}'}") from None


def base64_key(encoded: str, *, not_base64: str, wrong_size: str, size: int = 32) -> bytes:
    """The raw key (``size`` bytes: an Ed25519 public key) a setting holds in base64; a
    ConfigError otherwise, ``not_base64`` or ``wrong_size`` (each process words its own, naming
    the setting and its prefix)."""
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ConfigError(not_base64) from None
    if len(key) != size:
        raise ConfigError(wrong_size)
    return key


def read_hex_key(setting: str, path: str | Path, *, size_note: str) -> bytes:
    """The 32-byte key in the file ``path`` that ``setting`` names: 64 hex characters,
    surrounding whitespace dropped. A file that cannot be read, or that holds anything else, is
    one ConfigError line, ``<setting>: <file>: expected 64 hex characters`` (``size_note`` in
    brackets after it when the hex is of the wrong length)."""
    with setting_file(setting, path):
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{setting}: {path}: expected 64 hex characters") from None
    if len(key) != 32:
        raise ConfigError(f"{setting}: {path}: expected 64 hex characters ({size_note})")
    return key
