"""How the consortium log writes an event: compact JSON, text as it is (a dispute statement or an
admin's reason in Chinese stays readable in the audit log). One encoder serves every kind of
event, whichever module builds it, so the bytes an auditor hashes never depend on who wrote them.
(Identifiers in events are ASCII by validation: their bytes are those of ``ensure_ascii``.)"""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_event(body: list[Any]) -> str:
    """A log event's compact JSON text (one encoder object, not one per event)."""
    return _COMPACT.encode(body)
