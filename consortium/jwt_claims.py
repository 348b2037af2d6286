"""The JWT rules every Lianfang server applies (the hub and the key service alike): EdDSA under
the principal's registered key, the server's audience, a short life, a ``jti``. One place, so
the two servers cannot drift apart on what a valid token is."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.errors import Unauthenticated

MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 5


def unverified_subject(token: str) -> str:
    """The ``sub`` claim, read before verification to find the key that must have signed it."""
    try:
        subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        raise Unauthenticated("malformed token") from None
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("token has no subject")
    return subject


def verified_claims(token: str, key: Ed25519PublicKey, audience: str) -> dict[str, Any]:
    """The claims of a token signed by ``key`` for ``audience``: unexpired, at most
    ``MAX_LIFETIME_SECONDS`` long, with a ``jti`` of 8-128 characters."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME_SECONDS:
        raise Unauthenticated(f"token lifetime exceeds {MAX_LIFETIME_SECONDS} s")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise Unauthenticated("token 'jti' must be a string of 8 to 128 characters")
    return claims
