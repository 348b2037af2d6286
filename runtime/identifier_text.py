"""Free text that members send the hub (a marker's case reference, a withdrawal reason, a
dispute statement) must not carry a personal identifier: only keyed tokens may reach the hub,
its stores, its log and other members. These fields are checked for what identifiers look
like — by the hub, which refuses a request carrying one with the field named (never the value
quoted), and by the node before it forwards one.

What counts, after NFKC (so full-width digits and ＠ count too), by the identifiers' own shapes
rather than any long run of digits, so that ids, digests, dates and serials pass:

* a resident ID number: 18 characters with a valid check character and birth date, or the old
  15 digits with a valid birth date; also in any grouping (``320506 19700308 0176``,
  ``3101.0419.9203.1544.27``);
* a unified social credit code (a business's 统一社会信用代码): 18 characters (either case)
  with valid check characters, also in groups of four;
* a mainland mobile number, also with separators, brackets or +86 (``138-0013-8000``,
  ``(138)0013.8000``);
* a bank card number: 16 to 19 digits with a valid Luhn check, also in groups of four or as six
  and the rest;
* a device's IMEI: 15 digits with a valid Luhn check;

a separator is a space, ``-``, ``.``, ``/``, ``_``, ``·``, a dash or a bracket; none of these
inside a run of Latin letters and digits (a hex or base32 id, a digest), unless that run starts
with a label people type before a number (``ID``, ``tel``, ``card``, ``IMEI``…);
* an e-mail address; an IPv4 address with at least two multi-digit parts (not ``1.2.3.4``),
  also with ideographic full stops (``198。51。100。23``).

A lender's internal reference (``CASE-2024-0042``), a court case number (``(2024)京0105执1234号``),
a UUID or a SHA-256 digest pass; a bank card number cannot be told from a 16-19-digit serial
that happens to pass Luhn (one in ten): give such serials another shape.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from stdnum.cn import uscc

from runtime.errors import FieldViolation

MARKER_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,39}")
"""A marker's reason code (``fullmatch``): the hub refuses any other, the node checks first."""
MAX_REASON_CODE_DIGITS = 8
"""A reason code names a kind of fraud, not a case: more digits than a date would be a number
(a phone's, a device's) that every member hitting the marker is shown."""

_S = r"[\s\-._/·—–~()]"  # one separator between digits: a space, a dash, a dot, a slash, a bracket…
# a label typed straight before a number ("ID110101…", "tel138…"): set apart so the number counts;
# hex ids cannot hold one (their letters are a-f), so "a run of letters and digits" still passes
_LABEL = re.compile(r"(?i)(?<![0-9a-z])(id|tel|phone|mobile|mob|cell|card|acct|account|uscc|imei|sfz)(?=\d)")
# "No", "WX" (a WeChat id is often the phone), "IDcard" only straight before a mobile's eleven
# digits or an ID number's eighteen characters: "NO2024…" before a serial stays one run
_NARROW_LABEL = re.compile(
    r"(?i)(?<![0-9a-z])(no|wx|vx|qq|wechat|weixin|idcard|sfzh)(?=(?:1[3-9]\d{9}|\d{17}[\dx])(?![0-9a-z]))"
)
_DIGITS = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15,19})(?![0-9A-Za-z])")
_GROUPED_ID = re.compile(rf"(?<![0-9A-Za-z])\d(?:{_S}?\d){{16}}{_S}?[\dXx](?![0-9A-Za-z])")
_GROUPED_CARD = re.compile(
    rf"(?<![0-9A-Za-z])(?:\d{{4}}(?:{_S}\d{{4}}){{3}}(?:{_S}?\d{{1,3}})?|\d{{6}}{_S}\d{{10,13}})(?![0-9A-Za-z])"
)
_USCC = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])")
_GROUPED_USCC = re.compile(rf"(?<![0-9A-Za-z])[0-9A-Z]{{4}}(?:{_S}[0-9A-Z]{{4}}){{3}}{_S}[0-9A-Z]{{2}}(?![0-9A-Za-z])")
_MOBILE = re.compile(rf"(?<![0-9A-Za-z])(?:\+?86{_S}?)?\(?1[3-9]\d(?:{_S}{{0,3}}\d){{8}}(?![0-9A-Za-z])")
_MOBILE_GROUPS = frozenset({(11,), (3, 8), (3, 4, 4), (7, 4), (3, 3, 5), (4, 3, 4)})
"""How people group a mobile's 11 digits: ``185 000 000.50`` (an amount) is not one."""
_IMEI = re.compile(r"(?i)(?<![0-9a-z])imei(?:[号码]|\s*[12])?\W{0,3}((?:\d[\s-]?){14}\d)(?!\d)")
"""A 15-digit IMEI only after its label: one in ten 15-digit serials passes the Luhn check."""
# parts bounded as RFC 5321 bounds them, so linear in the text (the unbounded form was quadratic:
# seconds for 20,000 characters of one "word" holding an "@"); Chinese text has no spaces, so a
# match may start inside a run of characters
_EMAIL = re.compile(r"[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{1,63}")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SEPARATOR = re.compile(_S)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _born(yyyymmdd: str) -> bool:
    try:
        return 1900 <= dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])).year <= 2100
    except ValueError:
        return False


def _resident_id(run: str) -> bool:
    if len(run) == 18:
        check = (12 - sum(int(d) * w for d, w in zip(run[:17], _ID_WEIGHTS, strict=True)) % 11) % 11
        return run[17].upper() == ("X" if check == 10 else str(check)) and _born(run[6:14])
    return len(run) == 15 and run.isdigit() and _born("19" + run[6:12])


def _luhn(run: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(run)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _grouped_as_a_mobile(found: str) -> bool:
    """Its digits (after any +86) in a grouping people write a mobile in, one separator between
    every two groups (a bracket closing the first group, and a space after it, count as none:
    ``(158) 9547-2306``); ``case/158/2023-0412``, a serial and a date, is not one."""
    number = re.sub(r"^\+?86\D{0,3}", "", found) if sum(c.isdigit() for c in found) == 13 else found
    number = number.lstrip("(")
    if number[3:4] == ")":
        number = number[:3] + number[4:].lstrip()
    groups = tuple(len(group) for group in re.findall(r"\d+", number))
    return groups in _MOBILE_GROUPS and len(set(re.findall(r"\D+", number))) <= 1


def identifier_in(text: str) -> str | None:
    """What kind of personal identifier ``text`` appears to hold, or None."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", text).replace("。", ".")
    if any(_luhn(_SEPARATOR.sub("", m.group(1))) for m in _IMEI.finditer(folded)):
        return "a device's IMEI"
    folded = _NARROW_LABEL.sub(r"\1 ", _LABEL.sub(r"\1 ", folded))
    for match in _DIGITS.finditer(folded):
        run = match.group(1)
        if _resident_id(run):
            return "a resident ID number"
        if run.isdigit() and 16 <= len(run) <= 19 and _luhn(run):
            return "a bank card number"
    for match in _GROUPED_ID.finditer(folded):
        if _resident_id(_SEPARATOR.sub("", match.group())):
            return "a resident ID number"
    for match in _GROUPED_CARD.finditer(folded):
        if _luhn(_SEPARATOR.sub("", match.group())):
            return "a bank card number"
    upper = folded.upper()  # a social credit code typed in lower case too
    if any(uscc.is_valid(m.group()) for m in _USCC.finditer(upper)) or any(
        uscc.is_valid(_SEPARATOR.sub("", m.group())) for m in _GROUPED_USCC.finditer(upper)
    ):
        return "a unified social credit code"
    if any(_grouped_as_a_mobile(m.group()) for m in _MOBILE.finditer(folded)):
        return "a mobile number"
    if "@" in folded and _EMAIL.search(folded):
        return "an e-mail address"
    for match in _IPV4.finditer(folded) if "." in folded else ():
        parts = match.groups()
        if all(int(p) <= 255 for p in parts) and sum(len(p) > 1 for p in parts) >= 2:
            return "an IP address"
    return None


_DENSE_DIGITS = re.compile(r"\d(?:[._:/-]{0,3}\d){5}")
"""Six digits, each apart from the next by at most three of a reference's separators (as
``_MOBILE`` allows): every identifier that fits a reference's characters ([A-Za-z0-9._:/-])
holds such a run."""


def identifier_in_ref(ref: str) -> str | None:
    """``identifier_in`` for a reference (an application's, an authorisation's), which every
    Check carries: the pattern scan runs only on one holding a run of digits
    (``_DENSE_DIGITS``), so the ids a node makes (base32, ``node.origination.store.new_id``) and
    its consent digests cost one short search."""
    return identifier_in(ref) if _DENSE_DIGITS.search(ref) else None


def check_reason_code(code: str, field: str, violations: list[FieldViolation]) -> None:
    """A marker's reason code, shown to every member that hits the marker: its shape
    (``MARKER_REASON_CODE``), at most ``MAX_REASON_CODE_DIGITS`` digits, and no identifier."""
    if not MARKER_REASON_CODE.fullmatch(code):
        shape = "upper-case A-Z, 0-9 and _, 2..40, starting with a letter"
        violations.append(FieldViolation(field, f"is required: {shape}" if not code else f"must be {shape}"))
    elif sum(c.isdigit() for c in code) > MAX_REASON_CODE_DIGITS:
        violations.append(
            FieldViolation(field, f"at most {MAX_REASON_CODE_DIGITS} digits: a reason code names a kind of fraud")
        )
    else:
        check_free_text(code, field, violations)


MAX_REASON_CHARS = 500
"""A withdrawal's or a status change's reason, kept with the marker or member for audit."""
MAX_STATEMENT_CHARS = 2000
"""A dispute's statement or an admin's resolution note, kept in the consortium log for good."""


def check_free_text(
    text: str, field: str, violations: list[FieldViolation], *, max_chars: int = 0, required: bool = False
) -> None:
    """Adds a violation for ``field`` when ``text`` is blank but ``required``, over ``max_chars``
    (when given), or appears to hold a personal identifier."""
    if required and not text.strip():
        violations.append(FieldViolation(field, "is required" + (f": 1..{max_chars} characters" if max_chars else "")))
    if max_chars and len(text) > max_chars:
        violations.append(FieldViolation(field, f"at most {max_chars} characters"))
        return  # refused already: not worth scanning (a request may carry megabytes)
    kind = identifier_in(text)
    if kind is not None:
        violations.append(FieldViolation(field, f"must not hold personal data: it contains what looks like {kind}"))
