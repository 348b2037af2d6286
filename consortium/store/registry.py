"""Store backends by name, so configuration picks one with a string and a table of options.

Each entry pairs a frozen config dataclass with the Store built from it (as Feast's registry
does): the dataclass fields are the backend's complete list of options.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

from consortium.store.base import Store
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig

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
