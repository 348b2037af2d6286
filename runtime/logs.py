"""Structured JSON-lines logging: one line per RPC, never a raw identifier.

Only fields the caller passes explicitly are written; request bodies are never logged, so
identifiers (raw at the node, tokens at the hub) cannot leak through logs by accident.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from runtime.identifier_text import identifier_in

RPC_LOGGER = "lianfang.rpc"
_SUBJECT_KEY = os.urandom(16)  # this process's: a masked subject can be followed, not reversed
SUBJECT_FIELDS = ("member", "by")
"""Log fields naming who made a call (a token's subject): ``loggable_subject`` is applied to them
as every line is written, so no call site can forget it."""
_PLAIN_SUBJECTS: set[str] = set()  # subjects seen to be no identifier (member ids, staff names)


def loggable_subject(subject: str) -> str:
    """Who made a call, as a log line may name them: as given, unless it is shaped like a
    personal identifier (a borrower who signs in with a mobile or ID number, whose lender's
    identity provider makes that the token's subject); then ``subject~`` and a digest keyed for
    this process, so one caller's lines can still be followed and nobody can try candidates.
    Only subjects that are no identifier are remembered (to skip the scan next time)."""
    if subject in _PLAIN_SUBJECTS:
        return subject
    if identifier_in(subject) is None:
        if len(_PLAIN_SUBJECTS) >= 4096:
            _PLAIN_SUBJECTS.clear()
        _PLAIN_SUBJECTS.add(subject)
        return subject
    return "subject~" + hmac.new(_SUBJECT_KEY, subject.encode(), hashlib.sha256).hexdigest()[:16]


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
            for name in SUBJECT_FIELDS:
                subject = line.get(name)
                if isinstance(subject, str) and subject and subject not in _PLAIN_SUBJECTS:  # known plain: as it is
                    line[name] = loggable_subject(subject)
        if record.exc_info and record.exc_info[1] is not None:
            line.update(error_fields(record.exc_info[1]))
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def error_fields(error: BaseException) -> dict[str, Any]:
    """Where an unexpected exception came from: its type and the innermost frames
    (``file:line function``), so an operator can find the cause. Never its message or the
    frames' values, which may hold a request's data."""
    frames = traceback.extract_tb(error.__traceback__)[-_ERROR_FRAMES:]
    return {
        "error_type": f"{type(error).__module__}.{type(error).__qualname__}",
        "error_at": [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames],
    }


_ERROR_FRAMES = 6


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Routes every lianfang logger, and other libraries' warnings, to one JSON-lines handler
    (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger("lianfang")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    everything = logging.getLogger()  # the libraries' own warnings (redis-py's cluster, grpc's)
    if not everything.handlers:  # as JSON lines too, unless something (a test runner) took it
        everything.addHandler(handler)
        everything.setLevel(logging.WARNING)


def log_rpc(logger: logging.Logger, **fields: Any) -> None:
    if logger.isEnabledFor(logging.INFO):
        logger.info("rpc", extra={"fields": fields})


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
