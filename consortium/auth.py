"""Authentication of every hub call: an EdDSA JWT in ``authorization: Bearer …``.

Members sign with the Ed25519 key registered at the hub (``sub`` = member id); admins with a
key from the hub's configuration (``sub`` = ``admin/<name>``), analysts likewise
(``sub`` = ``analyst/<name>``). Verified tokens are cached until
they expire, so the hot path pays one dictionary lookup, not a signature check; the member's
status is re-read through a short-lived cache, so a suspension bites within
``member_cache_seconds`` on every replica (immediately on the replica that made the change).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consortium.jwt_claims import LEEWAY_SECONDS, unverified_subject, verified_claims
from consortium.members import ACTIVE, status_name
from consortium.policy import KIND_SCOPES, REUSABLE_SCOPES, Caller, Scope, Unlisted, parse_scopes, required_scope
from consortium.records import Member
from consortium.store.base import MemberStore, ReplayGuard
from runtime.clock import Clock
from runtime.contract_limits import STREAM_TOKEN_EXPIRED
from runtime.errors import PermissionDenied, Unauthenticated, Unavailable
from runtime.interceptors import (
    Behavior,
    StreamBehavior,
    StreamWrapper,
    UnaryWrappingInterceptor,
    Wrapper,
    bearer_token,
    certificate_subject,
    current_call,
    refuse_unlisted,
)

AUDIENCE = "lianfang-hub"
ADMIN_PREFIX = "admin/"
ANALYST_PREFIX = "analyst/"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    caller: Caller
    expires_at: float
    scopes: frozenset[Scope]
    token_id: str
    single_use: bool
    signed_with: bytes = b""
    """A member's raw public key its token was verified with: a rotated key stops it."""


class Authenticator:
    def __init__(
        self,
        members: MemberStore,
        admin_keys: Mapping[str, bytes],
        *,
        analyst_keys: Mapping[str, bytes] | None = None,
        replay_guard: ReplayGuard | None = None,
        bind_certificates: bool = False,
        member_cache_seconds: float = 1.0,
        verified_cache_size: int = 10_000,
    ) -> None:
        self._members = members
        # Configured (non-member) principals by their full subject, e.g. "admin/ops".
        self._staff: dict[str, tuple[Caller, Ed25519PublicKey]] = {}
        for prefix, caller, keys in (
            (ADMIN_PREFIX, Caller.ADMIN, admin_keys),
            (ANALYST_PREFIX, Caller.ANALYST, analyst_keys or {}),
        ):
            for name, raw in keys.items():
                self._staff[prefix + name] = (caller, Ed25519PublicKey.from_public_bytes(raw))
        self._replay_guard = replay_guard if replay_guard is not None else _as_guard(members)
        self.bind_certificates = bind_certificates
        self._member_ttl = member_cache_seconds
        # member id -> (fresh until, the member or None): bounded, oldest first out, since a token
        # names its subject before its signature is checked and anyone may send made-up ones
        self._member_cache: OrderedDict[str, tuple[float, Member | None]] = OrderedDict()
        self._member_cache_max = verified_cache_size
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self._verified_max = verified_cache_size
        self.wall_clock: Clock = time.time
        """What a running stream's token expiry is measured against (tests move it)."""

    def forget_member(self, member_id: str, *, tokens: bool = False) -> None:
        """Drops cached state of a member (called when an admin changes it here); ``tokens``:
        also the tokens verified for it (its key changed: they were signed with the old one)."""
        self._member_cache.pop(member_id, None)
        if tokens:
            for token in [t for t, p in self._verified.items() if p.subject == member_id]:
                del self._verified[token]

    async def _member(self, member_id: str) -> Member | None:
        now = time.monotonic()
        cached = self._member_cache.get(member_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        member = await self._members.get_member(member_id)
        cache = self._member_cache
        cache[member_id] = (now + self._member_ttl, member)
        cache.move_to_end(member_id)
        if len(cache) > self._member_cache_max:
            cache.popitem(last=False)
        return member

    async def authenticate(
        self, token: str | None, required: Scope, certificate_subject: str | None = None
    ) -> Principal:
        """The call's principal, or the error to refuse it with.

        ``certificate_subject``: the common name of the client certificate the call came over;
        with ``bind_certificates`` the token's subject must be it (a stolen token is useless
        without the certificate's key, and a certificate without a token of its own subject)."""
        if not token:
            raise Unauthenticated("missing bearer token in 'authorization' metadata")
        now = time.time()
        principal = self._verified.get(token)
        if principal is None or principal.expires_at + LEEWAY_SECONDS < now:
            principal = await self._verify(token, now)
            self._verified[token] = principal
            if len(self._verified) > self._verified_max:
                self._verified.popitem(last=False)
        if self.bind_certificates and certificate_subject != principal.subject:
            raise Unauthenticated("the token's subject does not match the client certificate")
        if required not in principal.scopes:
            raise PermissionDenied(f"this method needs scope {required.value!r}")
        if principal.single_use and not await self._replay_guard.claim_token_id(
            principal.token_id, principal.expires_at + LEEWAY_SECONDS, now
        ):
            raise Unauthenticated("token already used: a token with scopes other than 'query' is single-use")
        if principal.caller is Caller.MEMBER:
            await self._require_current(principal)
        return principal

    async def _require_current(self, principal: Principal) -> None:
        """The member exists, is ACTIVE, and still has the key the token was signed with (read
        through the member cache: a rotation here is seen at once, elsewhere within
        ``member_cache_seconds``, whatever token caches or open streams hold)."""
        member = await self._member(principal.subject)
        if member is None:
            raise Unauthenticated("unknown member")
        if member.public_key != principal.signed_with:
            raise Unauthenticated("the member's signing key was replaced: sign with the new key")
        if member.status != ACTIVE:
            raise PermissionDenied(f"member is {status_name(member.status)}")

    async def check_member_active(self, principal: Principal) -> None:
        """Raises unless the member is (still) ACTIVE with the key the stream's token was signed
        with: a long-lived stream costs one store read per ``member_cache_seconds``."""
        await self._require_current(principal)

    async def _verify(self, token: str, now: float) -> Principal:
        subject = unverified_subject(token)
        key: Ed25519PublicKey | None
        if subject.startswith((ADMIN_PREFIX, ANALYST_PREFIX)):
            caller, key = self._staff.get(subject, (Caller.ADMIN, None))
        else:
            caller = Caller.MEMBER
            member = await self._member(subject)
            key = Ed25519PublicKey.from_public_bytes(member.public_key) if member else None
        if key is None:
            raise Unauthenticated("unknown principal")
        claims = verified_claims(token, key, AUDIENCE)
        scopes = parse_scopes(claims.get("scope"))
        if scopes is None:
            raise Unauthenticated("token needs a 'scope' claim: space-separated query, contribute, admin, analyst")
        if not scopes <= KIND_SCOPES[caller]:
            allowed = " ".join(sorted(s.value for s in KIND_SCOPES[caller]))
            raise PermissionDenied(f"a {caller.value} may only hold scopes: {allowed}")
        jti = claims["jti"]
        signed_with = member.public_key if caller is Caller.MEMBER and member else b""
        return Principal(subject, caller, float(claims["exp"]), scopes, jti, not scopes <= REUSABLE_SCOPES, signed_with)


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What let a server stream in, for the stream to re-check while it runs: a stream is
    authenticated once, so without this it would outlive a suspension and its token."""

    principal: Principal
    authenticator: Authenticator

    def seconds_left(self) -> float:
        """Until the token expires (the stream's life ends with it)."""
        return self.principal.expires_at - self.authenticator.wall_clock()

    async def check(self) -> None:
        """PERMISSION_DENIED once the member is no longer ACTIVE; UNAVAILABLE once the token has
        expired (the client reconnects with a fresh one)."""
        if self.principal.caller is Caller.MEMBER:
            await self.authenticator.check_member_active(self.principal)
        if self.seconds_left() <= 0:
            raise Unavailable(STREAM_TOKEN_EXPIRED)


_STREAM_GRANT: contextvars.ContextVar[StreamGrant | None] = contextvars.ContextVar(
    "lianfang_stream_grant", default=None
)


def current_stream_grant() -> StreamGrant | None:
    """The grant of the server stream being served (None outside an authenticated stream)."""
    return _STREAM_GRANT.get()


def _refuse_stream(behavior: StreamBehavior) -> StreamBehavior:
    async def refused(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        raise PermissionDenied("this method is not in the authorisation table")
        yield  # pragma: no cover  (makes this an async generator)

    return refused


def _as_guard(members: MemberStore) -> ReplayGuard:
    if not isinstance(members, ReplayGuard):
        raise TypeError("single-use tokens need a ReplayGuard (pass replay_guard=, or a full Store)")
    return members


class AuthInterceptor(UnaryWrappingInterceptor):
    """Authenticates and authorises every call against consortium.policy before the handler."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def wrapper(self, method: str) -> Wrapper | None:
        try:
            required = required_scope(method)
        except Unlisted:
            return refuse_unlisted
        if required is None:
            return None
        authenticator = self.authenticator

        def around(behavior: Behavior) -> Behavior:
            async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> Any:
                subject = certificate_subject(context) if authenticator.bind_certificates else None
                principal = await authenticator.authenticate(bearer_token(context), required, subject)
                current_call().principal = principal.subject
                return await behavior(request, context)

            return authenticated

        return around

    def stream_wrapper(self, method: str) -> StreamWrapper | None:
        """A server stream is authenticated before its first message; a long-lived handler
        re-checks its ``current_stream_grant()`` (member status, token expiry) as it runs."""
        try:
            required = required_scope(method)
        except Unlisted:
            return _refuse_stream
        if required is None:
            return None
        authenticator = self.authenticator

        def around(behavior: StreamBehavior) -> StreamBehavior:
            async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                subject = certificate_subject(context) if authenticator.bind_certificates else None
                principal = await authenticator.authenticate(bearer_token(context), required, subject)
                current_call().principal = principal.subject
                grant = _STREAM_GRANT.set(StreamGrant(principal, authenticator))
                try:
                    async for message in behavior(request, context):
                        yield message
                finally:
                    with contextlib.suppress(ValueError):  # reset in another context (generator closed elsewhere)
                        _STREAM_GRANT.reset(grant)

            return authenticated

        return around
