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


def test_a_library_s_own_warnings_are_json_lines_too() -> None:
    """redis-py logs "Topology refresh failed…" on its own logger during a Cluster outage: it
    came out as plain text between the JSON lines. (Run in a fresh interpreter: under pytest the
    root logger is the test runner's.)"""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import logging; from runtime.logs import configure_logging; configure_logging('INFO'); "
        "logging.getLogger('redis.cluster').error('Topology refresh failed, keeping the current one'); "
        "logging.getLogger('redis.cluster').info('chatter below WARNING stays out')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=60
    )
    [line] = done.stderr.splitlines()
    parsed = json.loads(line)
    assert (parsed["logger"], parsed["level"]) == ("redis.cluster", "error") and "Topology" in parsed["msg"]
