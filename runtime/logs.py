"""Structured JSON-lines logging: one line per RPC, never a raw identifier.

Only fields the caller passes explicitly are written; request bodies are never logged, so
identifiers (raw at the node, tokens at the hub) cannot leak through logs by accident.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

RPC_LOGGER = "lianfang.rpc"


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Routes every lianfang logger to one JSON-lines handler (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger("lianfang")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def log_rpc(logger: logging.Logger, **fields: Any) -> None:
    if logger.isEnabledFor(logging.INFO):
        logger.info("rpc", extra={"fields": fields})


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
