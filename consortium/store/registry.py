"""Store backends by name, so configuration picks one with a string and a table of options,
and the hub's ``store`` URL (``store_from_url``) that names one.

Each entry pairs a frozen config dataclass with the Store built from it (as Feast's registry
does): the dataclass fields are the backend's complete list of options.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from consortium.store.base import Store
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from runtime.config import ConfigError, setting_file

STORE_TYPES: dict[str, tuple[type, Callable[[Any], Store]]] = {
    "sqlite": (SqliteStoreConfig, SqliteStore),
    "redis": (RedisStoreConfig, RedisStore),
}


def _coerce(kind: str, name: str, hint: object, value: Any) -> Any:
    """Numbers given as strings (environment variables) become numbers; bad ones name the option."""
    if isinstance(value, str) and hint in (int, float):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"store {kind!r}: option {name!r} must be a number, got {value!r}") from None
    return value


def open_store(kind: str, options: Mapping[str, Any]) -> Store:
    """Builds the store named ``kind``; unknown kinds and options are errors that list the valid ones."""
    try:
        config_type, factory = STORE_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown store {kind!r}; known stores: {', '.join(sorted(STORE_TYPES))}") from None
    hints = typing.get_type_hints(config_type)
    valid = [f.name for f in dataclasses.fields(config_type)]
    for name in options:
        if name not in valid:
            raise ValueError(f"store {kind!r} has no option {name!r}; valid options: {', '.join(valid)}")
    config = config_type(**{k: _coerce(kind, k, hints[k], v) for k, v in options.items()})
    return factory(config)


def store_from_url(url: str, application_retention_days: float | None = None, *, must_exist: bool = False) -> Store:
    """``sqlite:///relative/or//absolute.db``, ``redis://host:port/db``, or
    ``redis+cluster://host:port`` (any node of a Redis Cluster; ``rediss+cluster://`` with TLS).
    ``application_retention_days``: the hub's setting, which on Redis is each record's expiry.
    ``must_exist``: a SQLite file that is not there is an error, not a new empty consortium (a
    one-off command pointed at the wrong path)."""
    retention = (
        {}
        if application_retention_days is None
        else {"application_retention_seconds": application_retention_days * 86_400.0}
    )
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = sqlite_path(url)
        if must_exist and not Path(path).is_file():
            raise ConfigError(
                f"store: no SQLite database at {Path(path).absolute()} (sqlite:///relative/to/the/working/"
                "directory.db; an absolute path takes four slashes: sqlite:////var/lianfang/hub.db)"
            )
        with setting_file("store", path if path == ":memory:" else Path(path).absolute()):
            return open_store("sqlite", {"path": path})
    if parsed.scheme in {"redis", "rediss", "unix", "redis+cluster", "rediss+cluster"} and not url.lower().startswith(
        f"{parsed.scheme}://"
    ):  # the URL itself is not quoted: it may hold the store's password
        raise ConfigError(f"store: a {parsed.scheme}: URL must start {parsed.scheme}:// (host:port…)")
    if parsed.scheme in {"redis", "rediss", "unix"}:
        return open_store("redis", {"url": url, **retention})
    if parsed.scheme in {"redis+cluster", "rediss+cluster"}:
        return open_store("redis", {"url": url.replace("+cluster", "", 1), "cluster": True, **retention})
    raise ConfigError(f"store: unsupported URL scheme {parsed.scheme!r} (sqlite:///, redis://, redis+cluster://)")


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` URL. Anything else
    starting ``sqlite:`` is a ConfigError: ``sqlite:/hub.db`` or ``sqlite://hub.db`` would
    otherwise name a file nobody meant (``./sqlite:/hub.db``) and serve a new, empty consortium."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(
            f"store: {url!r} is not a SQLite URL: sqlite:///relative/to/the/working/directory.db, or "
            "sqlite:////absolute/path.db (four slashes)"
        )
    path = url.removeprefix("sqlite:///")
    if not path:
        raise ConfigError(f"store: {url!r} has no database path")
    return path


def store_location(url: str) -> str:
    """Where a store URL points, for the start-up log: a SQLite file's absolute path (a relative
    one depends on the working directory), a Redis URL without its credentials."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return str(Path(sqlite_path(url)).absolute())
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}{f':{parsed.port}' if parsed.port else ''}{parsed.path}"
