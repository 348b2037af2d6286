"""The JSON-lines log format: explicit fields only, and an unexpected error's type and place
but never its message (which may quote a request's data)."""

from __future__ import annotations

import io
import json
import logging

from runtime.logs import JsonLinesFormatter


def _fails(value: str) -> None:
    raise ValueError(f"cannot parse {value!r}")


def test_an_unexpected_error_is_logged_with_its_type_and_frames_but_not_its_message() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger("lianfang.test_logs")
    logger.addHandler(handler)
    try:
        try:
            _fails("13800138000")
        except ValueError:
            logger.exception("unhandled error", extra={"fields": {"request_id": "0123456789abcdef"}})
        logger.warning("plain", extra={"fields": {"n": 1}})
    finally:
        logger.removeHandler(handler)
    failed, plain = (json.loads(line) for line in stream.getvalue().splitlines())
    assert failed["msg"] == "unhandled error" and failed["request_id"] == "0123456789abcdef"
    assert failed["error_type"] == "builtins.ValueError"
    assert failed["error_at"][-1].startswith("test_logs.py:") and failed["error_at"][-1].endswith(" _fails")
    assert "13800138000" not in stream.getvalue() and "Traceback" not in stream.getvalue()
    assert plain == {"ts": plain["ts"], "level": "warning", "logger": "lianfang.test_logs", "msg": "plain", "n": 1}
