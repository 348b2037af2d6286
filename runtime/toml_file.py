"""Reading a TOML file a person edits (rule sets, scorecards, products, managers): one place that
turns every way such a file can be unreadable into the loader's own error, naming the file."""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from runtime.config import ConfigError


class _LoadError(Protocol):
    def __call__(self, message: str, *, path: str | Path | None = None) -> Exception: ...


def read_toml_file(path: Path, error: _LoadError) -> dict[str, Any]:
    """The parsed TOML of ``path``. A UTF-8 byte-order mark (Windows editors write one) is
    skipped; a file in another encoding (GBK, common for Chinese rule text) is refused saying
    so, as is an unreadable or malformed one: ``error(message, path=path)``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"must be UTF-8 (byte {exc.start} is not; save the file as UTF-8)", path=path) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"invalid TOML: {exc}", path=path) from None


def file_error(what: str = "", error_type: Callable[[str], Exception] = ConfigError) -> _LoadError:
    """A loader's error of ``error_type`` for a file: ``"<what> <path>: <message>"``."""

    def error(message: str, *, path: str | Path | None = None) -> Exception:
        return error_type(f"{what} {path}: {message}" if what else f"{path}: {message}")

    return error
