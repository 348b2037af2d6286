"""An applicant's own raw identifiers, looked for in text the node is about to send the hub.

Tokens protect identifiers only if nothing else carries them: a lender that builds its
application reference from a phone number, or a member of staff who pastes an ID number's
first digits into a withdrawal reason, would leak them. Patterns (``runtime.identifier_text``)
catch what identifiers look like; this catches the applicant's own, in any spelling: digits-only
forms are compared too (so ``app-138-0013-8000`` is caught), and an ID number's other length
(15 <-> 18 digits).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import phonenumbers
from lianfang.v1 import node_pb2

from node.identity.normalise import normalise_phone
from runtime.errors import FieldViolation


def stored_identifiers(identifiers: dict[str, Any]) -> node_pb2.Identifiers:
    """The identifiers an application keeps (``Application.identifiers``) as the API's message."""
    return node_pb2.Identifiers(
        uscc=identifiers.get("uscc", ""),
        resident_id=identifiers.get("resident_id", ""),
        legal_rep_resident_id=identifiers.get("legal_rep_resident_id", ""),
        phones=identifiers.get("phones", []),
    )


class OwnIdentifiers:
    def __init__(self, ids: node_pb2.Identifiers) -> None:
        raw = [
            ids.resident_id,
            ids.uscc,
            ids.legal_rep_resident_id,
            *ids.phones,
            *ids.emails,
            *ids.device_ids,
            *ids.bank_accounts,
            *ids.addresses,
            *ids.ips,
        ]
        needles = {r.strip().lower() for r in raw if len(r.strip()) >= 6}
        needles |= {d for d in ("".join(c for c in r if c.isdigit()) for r in raw) if len(d) >= 7}
        needles |= {str(phonenumbers.parse(normalise_phone(p)).national_number) for p in ids.phones}
        for rid in (ids.resident_id, ids.legal_rep_resident_id):  # its other length: 15 <-> 18 digits
            digits = "".join(c for c in rid if c.isdigit() or c in "xX")
            if len(digits) == 18:
                needles.add(digits[:6] + digits[8:17])
            elif len(digits) == 15:
                needles.add(digits[:6] + "19" + digits[6:])  # the 17 digits before the check digit
        self._needles = needles

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds one of them (case-insensitive; digits also with separators)."""
        value = text.lower()
        digits = "".join(c for c in value if c.isdigit())
        return any(n in value or (n.isdigit() and n in digits) for n in self._needles)

    def violations(self, texts: Iterable[tuple[str, str]], whose: str = "applicant") -> list[FieldViolation]:
        """One violation per ``(field, text)`` that holds one of them."""
        return [
            FieldViolation(field, f"must not contain the {whose}'s identifiers")
            for field, text in texts
            if self.found_in(text)
        ]
