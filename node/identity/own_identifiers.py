"""An applicant's own raw identifiers, looked for in text the node is about to send the hub.

Tokens protect identifiers only if nothing else carries them: a lender that builds its
application reference from a phone number, or a member of staff who pastes an ID number's
first digits into a withdrawal reason, would leak them. Patterns (``runtime.identifier_text``)
catch what identifiers look like; this catches the applicant's own, in any spelling: digits-only
forms are compared too (so ``app-138-0013-8000`` is caught), and an ID number's other length
(15 <-> 18 digits).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

import phonenumbers
from lianfang.v1 import node_pb2

from node.identity.normalise import normalise_phone
from runtime.errors import FieldViolation

_PERSON_FIELDS = ("uscc", "resident_id", "legal_rep_resident_id", "phones")
"""Who the applicant is: what a retry must repeat, and what ConfirmFraud files markers on."""
_OTHER_FIELDS = ("emails", "device_ids", "bank_accounts", "addresses", "ips")
_NUMBER_FIELDS = ("uscc", "resident_id", "legal_rep_resident_id", "phones", "device_ids", "bank_accounts")
"""Identifiers that are numbers, also looked for as their digits among other characters (an
address's or an IP's digits run together would match amounts)."""


def _values(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def kept_identifiers(ids: node_pb2.Identifiers) -> dict[str, Any]:
    """What an application keeps of its (normalised) identifiers: all of them, so that text bound
    for the hub can be checked for any of them later (``OwnIdentifiers``)."""
    kept: dict[str, Any] = {name: getattr(ids, name) for name in _PERSON_FIELDS[:3]}
    kept |= {name: list(getattr(ids, name)) for name in (*_PERSON_FIELDS[3:], *_OTHER_FIELDS)}
    return kept


def stored_identifiers(identifiers: dict[str, Any], *, person_only: bool = False) -> node_pb2.Identifiers:
    """The identifiers an application keeps (``Application.identifiers``) as the API's message;
    ``person_only``: the person's or business's own and its phones (``_PERSON_FIELDS``). An
    application stored before the others were kept has only those."""
    names = _PERSON_FIELDS if person_only else (*_PERSON_FIELDS, *_OTHER_FIELDS)
    return node_pb2.Identifiers(**{name: identifiers[name] for name in names if name in identifiers})


def _fold(text: str) -> str:
    """Letters and digits only, in one case and width: ``AND-9f8e`` is found in ``FRAUD_AND9F8E``."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def _name_needle(name: str) -> str | None:
    """An applicant's name as something to look for: a Chinese name of two characters is one
    (王伟), a Latin one only from five (``Li Na`` is too common a run of letters)."""
    folded = _fold(name)
    cjk = any("\u3400" <= c <= "\u9fff" for c in folded)
    return folded if len(folded) >= (2 if cjk else 5) else None


class OwnIdentifiers:
    def __init__(self, ids: node_pb2.Identifiers, name: str = "") -> None:
        """``name``: the applicant's (a person's or a business's), looked for as written."""
        kept = kept_identifiers(ids)
        raw = [v for name in (*_PERSON_FIELDS, *_OTHER_FIELDS) for v in _values(kept[name])]
        numbers = [v for name in _NUMBER_FIELDS for v in _values(kept[name])]
        needles = {f for f in map(_fold, raw) if len(f) >= 6}
        needles |= {d for d in ("".join(c for c in f if c.isdigit()) for f in map(_fold, numbers)) if len(d) >= 7}
        needles |= {str(phonenumbers.parse(normalise_phone(p)).national_number) for p in ids.phones}
        for rid in (ids.resident_id, ids.legal_rep_resident_id):  # its other length: 15 <-> 18 digits
            digits = "".join(c for c in rid if c.isdigit() or c in "xX")
            if len(digits) == 18:
                needles.add(digits[:6] + digits[8:17])
            elif len(digits) == 15:
                needles.add(digits[:6] + "19" + digits[6:])  # the 17 digits before the check digit
        if (needle := _name_needle(name)) is not None:
            needles.add(needle)
        self._needles = needles

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds one of them, in any case, width or separators (``_fold``); digits
        also among other characters."""
        value = _fold(text)  # any separators, full-width digits and letters too
        digits = "".join(c for c in value if c.isdigit())
        return any(n in value or (n.isdigit() and n in digits) for n in self._needles)

    def violations(self, texts: Iterable[tuple[str, str]], whose: str = "applicant") -> list[FieldViolation]:
        """One violation per ``(field, text)`` that holds one of them."""
        return [
            FieldViolation(field, f"must not contain the {whose}'s identifiers")
            for field, text in texts
            if self.found_in(text)
        ]
