"""Stage 1's hub Check: built once, sent within what is left of the caller's deadline, and kept
for the outbox when the hub is out of reach.

The caller's deadline (``context.time_remaining()``) bounds the whole pre-screen: the hub call
and every data source get at most the remaining time minus ``deadline_margin``, so the node
answers (a referral with HUB_UNAVAILABLE, a source timeout) before its caller gives up, even
when ``hub_timeout_seconds`` is longer. A Check that did not reach the hub (unreachable, too
slow, circuit open, rate-limited) is queued under ``check:<application_id>`` so the consortium
still learns of the application (in OPRF mode, when the key service gave no tokens,
untokenised: the drainer makes them later); one the hub refused (a suspended member, an expired
consent) is queued dead, for a person to retry or discard (``Origination._stage1``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2, consortium_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.consent import consent_end
from node.hub_errors import is_transient, refused_for_stale_keys
from node.hub_gate import HubGate
from node.identity.applicant import retokenise
from node.identity.keyring import KeyRing
from node.identity.oprf_tokens import KeyServiceUnavailable

MIN_BUDGET = 0.01  # a caller with no time left still gets an answer, at once
KEY_SERVICE_ALLOWANCE = 0.1  # the OPRF round trip shares the hub call's budget


@dataclass(frozen=True)
class Stage1Limits:
    hub_timeout: float
    """The hub Check's gRPC deadline."""
    extra_deadline: float
    """Bound on the whole consortium step (key service + hub)."""
    cap: float | None
    """Bound on every stage-1 wait (None: the caller set no deadline)."""


def stage1_limits(hub_deadline: float, margin: float, remaining: float | None) -> Stage1Limits:
    if remaining is None:
        return Stage1Limits(hub_deadline, hub_deadline + KEY_SERVICE_ALLOWANCE, None)
    cap = max(MIN_BUDGET, remaining - margin)
    return Stage1Limits(min(hub_deadline, cap), min(hub_deadline + KEY_SERVICE_ALLOWANCE, cap), cap)


def consent_key(member_key: Ed25519PrivateKey) -> bytes:
    """The key of this member's ``consent_ref`` digests, derived from its signing key: stable
    across restarts, known to no other member and not to the hub."""
    raw = member_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hmac.new(raw, b"lianfang consent_ref v1", hashlib.sha256).digest()


def consent_digest(consent_key: bytes, consent_ref: str) -> str:
    """What the hub gets of an authorisation reference: its HMAC under this member's key. Keyed:
    a lender's reference may be a phone or ID number, which a plain hash would give away to
    anyone trying the candidates. 160 bits in lower-case base32, as the node's ids: no run of
    digits for the hub's identifier scan of references to look at. Empty stays empty (the hub
    refuses a Check without one)."""
    if not consent_ref:
        return ""
    mac = hmac.new(consent_key, consent_ref.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:20]).decode().lower()


def check_request(
    *,
    application_id: str,
    consent_ref: str,
    consent_key: bytes,
    tokens: Sequence[common_pb2.Token],
    applicant_kind: int,
    product_code: str,
    now: float,
) -> consortium_pb2.CheckRequest:
    request = consortium_pb2.CheckRequest(
        application_ref=application_id,  # opaque: no lender text reaches the hub
        consent_ref=consent_digest(consent_key, consent_ref),
        tokens=tokens,
        applicant_kind=applicant_kind,
        product_category=product_code,
        purpose=common_pb2.PURPOSE_CREDIT_APPLICATION,
    )
    request.consent_expires_at.FromNanoseconds(int(consent_end(now) * 1e9))
    return request


class ConsortiumCheck:
    def __init__(self, hub: HubClient, tokeniser: KeyRing, gate: HubGate, consent_key: bytes) -> None:
        """``consent_key``: this member's (``consent_key``), for the ``consent_ref`` digests."""
        self.hub, self.tokeniser, self.gate, self.consent_key = hub, tokeniser, gate, consent_key

    async def send(
        self, request: consortium_pb2.CheckRequest, canonicals: list[tuple[int, str]], timeout: float
    ) -> consortium_pb2.CheckResponse:
        """In OPRF mode the key-service round trip comes first and fills ``request.tokens``
        (``KeyServiceUnavailable`` degrades like an unreachable hub); then the hub, through the
        circuit breaker."""
        if self.tokeniser.oprf is not None and not request.tokens:
            request.tokens.extend(await self.tokeniser.oprf.tokens(canonicals))
        try:
            return await self.gate.call(lambda: self.hub.check_request(request, timeout=timeout))
        except LianfangRpcError as error:
            if not (refused_for_stale_keys(error) and await retokenise(request, self.tokeniser, canonicals)):
                raise
        # a rotation ended between the tokens and the Check: the same identifiers, today's keys
        return await self.gate.call(lambda: self.hub.check_request(request, timeout=timeout))


def should_queue(
    error: Exception | None, request: consortium_pb2.CheckRequest, identifiers: Sequence[tuple[int, str]]
) -> bool:
    """A Check that never got a considered answer, with its tokens or (OPRF mode, no tokens from
    the key service) the identifiers to make them from. Any key-service failure is queued: the
    drainer retries an outage and dead-letters a refusal, where a person sees it."""
    if error is None or not (request.tokens or identifiers):
        return False
    return is_transient(error) or isinstance(error, KeyServiceUnavailable)
