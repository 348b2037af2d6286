"""Authentication of every key-service call: mutual TLS plus an EdDSA JWT, as at the hub.

The principals are configured (``member_keys``, ``admin_keys``, ``hub_keys``), not read from the
hub's store: the key service shares nothing with the hub. With a client CA configured the
certificate's common name must equal the JWT subject. Verified tokens are cached until they
expire, so an evaluation pays a dictionary lookup, not a signature check.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consortium.jwt_claims import LEEWAY_SECONDS, unverified_subject, verified_claims
from consortium.key_service.policy import (
    AUDIENCE,
    KIND_SCOPES,
    REQUIRED_SCOPE,
    REUSABLE_SCOPES,
    KeyScope,
    kind_of,
    parse_scopes,
)
from consortium.key_service.vault import Vault
from runtime.errors import PermissionDenied, Unauthenticated
from runtime.interceptors import (
    OPEN_PREFIXES,
    Behavior,
    UnaryWrappingInterceptor,
    Wrapper,
    bearer_token,
    certificate_subject,
    current_call,
    refuse_unlisted,
)


@dataclass(frozen=True)
class PrincipalChanges:
    """What a reload changed, by subject (names, never keys)."""

    added: list[str]
    removed: list[str]
    replaced: list[str]


class KeyAuthenticator:
    def __init__(self, keys: Mapping[str, bytes], vault: Vault, *, bind_certificates: bool) -> None:
        """``keys``: full subject (``lender-a``, ``admin/ops``, ``hub/main``) → raw public key."""
        self._raw: dict[str, bytes] = {}
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._vault = vault
        self.bind_certificates = bind_certificates
        self._verified: OrderedDict[str, tuple[str, float, frozenset[KeyScope]]] = OrderedDict()
        self.replace_keys(keys)

    def replace_keys(self, keys: Mapping[str, bytes]) -> PrincipalChanges:
        """Takes ``keys`` as the principals from now on (a reloaded configuration): a removed
        or replaced principal's tokens, cached ones included, are refused from the next call."""
        changes = PrincipalChanges(
            added=sorted(set(keys) - set(self._raw)),
            removed=sorted(set(self._raw) - set(keys)),
            replaced=sorted(s for s in keys if s in self._raw and self._raw[s] != keys[s]),
        )
        self._keys = {subject: Ed25519PublicKey.from_public_bytes(raw) for subject, raw in keys.items()}
        self._raw = dict(keys)
        gone = {*changes.removed, *changes.replaced}
        for token in [t for t, (subject, _, _) in self._verified.items() if subject in gone]:
            del self._verified[token]
        return changes

    def authenticate(self, token: str | None, required: KeyScope, certificate_subject: str | None) -> str:
        if not token:
            raise Unauthenticated("missing bearer token in 'authorization' metadata")
        now = time.time()
        cached = self._verified.get(token)
        if cached is None or cached[1] + LEEWAY_SECONDS < now:
            subject, expires, scopes, jti = self._verify(token)
            if not scopes <= REUSABLE_SCOPES and not self._vault.claim_token_id(jti, expires + LEEWAY_SECONDS, now):
                raise Unauthenticated("token already used: only 'evaluate' tokens are reusable")
            cached = (subject, expires, scopes)
            if scopes <= REUSABLE_SCOPES:
                self._verified[token] = cached
                if len(self._verified) > 10_000:
                    self._verified.popitem(last=False)
        subject, _, scopes = cached
        if self.bind_certificates and certificate_subject != subject:
            raise Unauthenticated("the token's subject does not match the client certificate")
        if required not in scopes:
            raise PermissionDenied(f"this method needs scope {required.value!r}")
        return subject

    def _verify(self, token: str) -> tuple[str, float, frozenset[KeyScope], str]:
        subject = unverified_subject(token)
        key = self._keys.get(subject)
        if key is None:
            raise Unauthenticated("unknown principal")
        claims = verified_claims(token, key, AUDIENCE)
        scopes = parse_scopes(claims.get("scope"))
        if scopes is None:
            raise Unauthenticated("token needs a 'scope' claim: evaluate, admin or rekey")
        kind = kind_of(subject)
        if not scopes <= KIND_SCOPES[kind]:
            allowed = " ".join(sorted(s.value for s in KIND_SCOPES[kind]))
            raise PermissionDenied(f"a {kind.value} may only hold scopes: {allowed}")
        jti = claims["jti"]
        return subject, float(claims["exp"]), scopes, jti


class KeyAuthInterceptor(UnaryWrappingInterceptor):
    """Authorises every call against ``consortium.key_service.policy`` before the handler."""

    def __init__(self, authenticator: KeyAuthenticator) -> None:
        self.authenticator = authenticator

    def wrapper(self, method: str) -> Wrapper | None:
        required = REQUIRED_SCOPE.get(method)
        if required is None:
            return None if method.startswith(OPEN_PREFIXES) else refuse_unlisted
        authenticator = self.authenticator

        def around(behavior: Behavior) -> Behavior:
            async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> Any:
                subject = certificate_subject(context) if authenticator.bind_certificates else None
                current_call().principal = authenticator.authenticate(bearer_token(context), required, subject)
                return await behavior(request, context)

            return authenticated

        return around
