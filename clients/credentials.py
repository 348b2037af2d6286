"""Ed25519 signing keys and the short-lived EdDSA JWTs every hub call carries."""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from runtime.tls import read_private_key

HUB_AUDIENCE = "lianfang-hub"
KEYS_AUDIENCE = "lianfang-keys"
REUSABLE_SCOPES = frozenset({"query", "evaluate"})  # the hot paths: reused until near expiry


def write_secret(path: str | Path, data: bytes) -> None:
    """Writes a secret readable by its owner only: the file is created with mode 0600 (never
    world-readable, not even for a moment under a permissive umask) and truncated if it exists."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


def write_private_key(path: str | Path, key: Ed25519PrivateKey | X25519PrivateKey) -> None:
    """A private key as unencrypted PKCS#8 PEM, readable by its owner only (mode 0600)."""
    write_secret(
        path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def generate_key_file(path: str | Path) -> bytes:
    """Writes a new Ed25519 private key (PEM, mode 0600); returns the raw 32-byte public key."""
    key = Ed25519PrivateKey.generate()
    write_private_key(path, key)
    return public_key_bytes(key)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 signing key from a PEM file; a file that is none is a ValueError naming it
    (``runtime.tls.read_private_key``: a server wraps it as a ConfigError naming the setting)."""
    return read_private_key(path, Ed25519PrivateKey, "Ed25519")


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(public_key_bytes(key)).decode()


def public_key_arg(value: str, what: str) -> bytes:
    """A raw 32-byte public key (Ed25519 or X25519) as a command line names it: base64, a file
    holding that, or a PEM key file — a public key, or a private one whose public half is meant
    (``lianfang keys new`` writes those). ``what`` names the argument in the ValueError."""
    path = Path(value)
    if not path.is_file():
        try:
            return _raw_key(value, what)
        except ValueError:
            if path.suffix or path.parent != Path("."):  # meant as a file: say that it is not there
                raise ValueError(f"{what}: {value}: no such file") from None
            raise
    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        return _raw_key(data.decode("ascii", errors="replace").strip(), f"{what} ({value})")
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(private, Ed25519PrivateKey | X25519PrivateKey):
                raise ValueError
            public = private.public_key()
        else:
            public = serialization.load_pem_public_key(data)  # type: ignore[assignment]
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"{what}: {value} is not an Ed25519 or X25519 PEM key") from None


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{what}: expected a raw 32-byte key in base64, a file holding that, or a PEM key file")
    return raw


def default_hub_scopes(subject: str) -> tuple[str, ...]:
    """What a hub principal may hold, by the kind its subject names (consortium/policy.py)."""
    if subject.startswith("admin/"):
        return ("admin", "audit")
    if subject.startswith("analyst/"):
        return ("analyst",)
    return ("query", "contribute", "audit")


class JwtSigner:
    """Mints bearer tokens for one principal.

    Hub tokens carry a ``scope`` claim (default: all its kind may hold). A token whose scopes are
    all ``query`` is reused until shortly before it expires (the Check hot path); any other is
    single-use at the hub, so a fresh one is minted for every call. ``scoped`` derives a signer
    for fewer scopes from the same key.
    """

    def __init__(
        self,
        subject: str,
        key: Ed25519PrivateKey,
        *,
        lifetime_seconds: int = 60,
        audience: str = HUB_AUDIENCE,
        claims: Mapping[str, Any] | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> None:
        self.subject = subject
        self._claims = dict(claims or {})
        self._key = key
        self._lifetime = lifetime_seconds
        self._audience = audience
        self.scopes: tuple[str, ...] = ()
        if audience == HUB_AUDIENCE:
            self.scopes = scopes if scopes is not None else default_hub_scopes(subject)
        elif scopes is not None:  # e.g. the key service (audience lianfang-keys)
            self.scopes = scopes
        if self.scopes:
            self._claims["scope"] = " ".join(self.scopes)
        self.single_use = bool(self.scopes) and not set(self.scopes) <= REUSABLE_SCOPES
        self._token = ""
        self._renew_at = 0.0

    def scoped(self, *scopes: str) -> JwtSigner:
        """A signer of the same principal and key for just these scopes."""
        claims = {k: v for k, v in self._claims.items() if k != "scope"}
        return JwtSigner(
            self.subject,
            self._key,
            lifetime_seconds=self._lifetime,
            audience=self._audience,
            claims=claims,
            scopes=scopes,
        )

    def for_audience(self, audience: str, *scopes: str) -> JwtSigner:
        """A signer of the same principal and key for another service (e.g. the key service)."""
        return JwtSigner(self.subject, self._key, lifetime_seconds=self._lifetime, audience=audience, scopes=scopes)

    def token(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if now >= self._renew_at or self.single_use:
            iat = int(now)
            self._token = jwt.encode(
                {
                    "iss": self.subject,
                    "sub": self.subject,
                    "aud": self._audience,
                    "iat": iat,
                    "exp": iat + self._lifetime,
                    "jti": secrets.token_hex(12),
                    **self._claims,
                },
                self._key,
                algorithm="EdDSA",
            )
            self._renew_at = iat + self._lifetime * 0.5
        return self._token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer " + self.token()),)
