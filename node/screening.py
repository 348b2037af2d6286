"""OriginationService.Screen: raw identifiers in, keyed tokens to the hub, the hub's answer out.

Raw identifiers are normalised and tokenised here and go no further; the hub call has its own
deadline so a slow hub cannot hold the lender's front end.
"""

from __future__ import annotations

import time

import grpc
import phonenumbers
from lianfang.v1 import common_pb2, node_pb2, node_pb2_grpc

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.consent import consent_end
from node.hub_errors import hub_error
from node.identity.applicant import tokenise
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers, normalise_phone
from node.origination.consortium_check import consent_digest
from runtime.errors import (
    FieldViolation,
    InvalidArgument,
)
from runtime.timestamps import seconds_of


class OriginationServicer(node_pb2_grpc.OriginationServiceServicer):
    def __init__(self, hub: HubClient, tokeniser: KeyRing, *, hub_timeout: float, consent_key: bytes) -> None:
        """``consent_key``: this member's key of authorisation-reference digests (``consent_key``)."""
        self.hub = hub
        self.tokeniser = tokeniser
        self.hub_timeout = hub_timeout
        self.consent_key = consent_key

    async def Screen(
        self, request: node_pb2.ScreenRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ScreenResponse:
        try:
            tokens = await tokenise(request.identifiers, self.tokeniser)  # OPRF: KeyServiceUnavailable
        except InvalidIdentifiers as exc:
            raise InvalidArgument([FieldViolation(e.field, e.description) for e in exc.errors]) from None
        leaks = refs_carrying_identifiers(request)
        if leaks:
            raise InvalidArgument(
                [
                    FieldViolation(f, "must not contain the applicant's identifiers (it is sent to the hub)")
                    for f in leaks
                ]
            )
        try:
            now = time.time()
            stated = request.HasField("consent_expires_at")
            ends = seconds_of(request.consent_expires_at, "consent_expires_at") if stated else 0
            answer = await self.hub.check(
                application_ref=request.application_ref,
                consent_ref=consent_digest(self.consent_key, request.consent_ref),
                tokens=tokens,
                applicant_kind=request.applicant_kind,
                product_category=request.product_category,
                purpose=request.purpose or common_pb2.PURPOSE_CREDIT_APPLICATION,
                consent_expires_at=consent_end(now, ends),
                timeout=self.hub_timeout,
            )
        except LianfangRpcError as error:
            raise hub_error(error) from None
        return node_pb2.ScreenResponse(consortium=answer, tokens_sent=len(tokens))


def refs_carrying_identifiers(request: node_pb2.ScreenRequest) -> list[str]:
    """Free-text fields that travel to the hub but embed a raw identifier of this applicant.

    Tokens protect identifiers only if nothing else carries them: a lender that builds its
    application reference from a phone number would leak it. Digits-only forms are compared
    too, so "app-138-0013-8000" is caught.
    """
    ids = request.identifiers
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
    leaks = []
    for name in ("application_ref", "consent_ref", "product_category"):
        value = getattr(request, name).lower()
        digits = "".join(c for c in value if c.isdigit())
        if any(n in value or (n.isdigit() and n in digits) for n in needles):
            leaks.append(name)
    return leaks
