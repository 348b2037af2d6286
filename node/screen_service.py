"""OriginationService.Screen: raw identifiers in, keyed tokens to the hub, the hub's answer out.

Raw identifiers are normalised and tokenised here and go no further; the hub call has its own
deadline so a slow hub cannot hold the lender's front end.
"""

from __future__ import annotations

import time

import grpc
from lianfang.v1 import common_pb2, node_pb2, node_pb2_grpc

from clients.hub import HubClient
from node.consent import consent_end
from node.hub_errors import answered_by_hub
from node.identity.applicant import tokenise
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers
from node.identity.own_identifiers import OwnIdentifiers
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
            raise InvalidArgument(exc.violations()) from None
        leaks = refs_carrying_identifiers(request)
        if leaks:
            raise InvalidArgument(
                [
                    FieldViolation(f, "must not contain the applicant's identifiers (it is sent to the hub)")
                    for f in leaks
                ]
            )
        with answered_by_hub():
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
        return node_pb2.ScreenResponse(consortium=answer, tokens_sent=len(tokens))


def refs_carrying_identifiers(request: node_pb2.ScreenRequest) -> list[str]:
    """Free-text fields that travel to the hub but embed a raw identifier of this applicant."""
    own = OwnIdentifiers(request.identifiers)
    return [
        name for name in ("application_ref", "consent_ref", "product_category") if own.found_in(getattr(request, name))
    ]
