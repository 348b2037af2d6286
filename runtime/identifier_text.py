"""Free text that members send the hub (a marker's case reference, a withdrawal reason, a
dispute statement) must not carry a personal identifier: only keyed tokens may reach the hub,
its stores, its log and other members. These fields are checked for what identifiers look
like — by the hub, which refuses a request carrying one with the field named (never the value
quoted), and by the node before it forwards one.

What counts (after NFKC, so full-width digits and ＠ count too):

* 11 or more digits in a row, or 17 digits and an X: a mobile, resident ID, bank card or account
  number (a court case number such as ``(2024)京0105执1234号`` has shorter runs);
* a mainland mobile written with separators (``138-0013-8000``, ``+86 138 0013 8000``);
* an e-mail address; an IPv4 address.

A lender's internal reference (``CASE-2024-0042``) passes; a long numeric police report number
does not (give the lender's own case reference instead).
"""

from __future__ import annotations

import re
import unicodedata

from runtime.errors import FieldViolation

MARKER_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,39}")
"""A marker's reason code (``fullmatch``): the hub refuses any other, the node checks first."""

_LOOKS_LIKE = (
    (re.compile(r"\d{17}[Xx]|\d{11,}"), "a run of 11 or more digits (a phone, ID or card number)"),
    (re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)"), "a mobile number"),
    (re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+"), "an e-mail address"),
    (re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"), "an IP address"),
)


def identifier_in(text: str) -> str | None:
    """What kind of personal identifier ``text`` appears to hold, or None."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", text)
    for pattern, kind in _LOOKS_LIKE:
        if pattern.search(folded):
            return kind
    return None


def check_free_text(text: str, field: str, violations: list[FieldViolation]) -> None:
    """Adds a violation for ``field`` when ``text`` appears to hold a personal identifier."""
    kind = identifier_in(text)
    if kind is not None:
        violations.append(FieldViolation(field, f"must not hold personal data: it contains what looks like {kind}"))
