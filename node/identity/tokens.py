"""Keyed identifier tokens (DESIGN.md, Mode 1: HMAC-SHA-256 under an epoch key).

Why keyed: an unkeyed hash of a phone number is no protection at all. There are only ~10^10
mainland mobile numbers, so one GPU hashes every one of them with SHA-256 in about a second (and
every plausible resident ID in under ten), turning a dump of plain hashes back into raw numbers.
With HMAC, nobody without the consortium key can compute or test a token; the hub never holds it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from lianfang.v1 import common_pb2

from node.identity.normalise import TYPE_NAMES

KEY_BYTES = 32
TOKEN_BYTES = 16  # 128 bits: collisions are negligible across any realistic token population


def new_consortium_key() -> bytes:
    """A fresh 256-bit consortium key for one epoch."""
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True)
class HmacTokeniser:
    """Turns canonical identifiers into HMAC-SHA-256-128 tokens under one key epoch.

    The key is kept out of ``repr`` so a logged tokeniser never leaks it.
    """

    key: bytes = field(repr=False)
    epoch: int

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) < KEY_BYTES:
            raise ValueError(f"consortium key must be at least {KEY_BYTES} bytes")
        if not 0 <= self.epoch < 2**32:
            raise ValueError("epoch must fit in uint32")

    def digest(self, token_type: int, canonical: str) -> bytes:
        """First 16 bytes of HMAC-SHA-256(key, "type|canonical"); the type separates domains,
        so equal strings of different types never share a token. ``canonical`` must already be
        normalised (see ``node.identity.normalise``)."""
        try:
            name = TYPE_NAMES[token_type]
        except KeyError:
            raise ValueError(f"unsupported token type {token_type}") from None
        return hmac.digest(self.key, f"{name}|{canonical}".encode(), "sha256")[:TOKEN_BYTES]

    def token(self, token_type: int, canonical: str) -> common_pb2.Token:
        """The tagged token (scheme, type, epoch, value) sent to the hub."""
        return common_pb2.Token(
            scheme=common_pb2.TOKEN_SCHEME_HMAC_SHA256_128,
            type=token_type,  # type: ignore[arg-type]
            epoch=self.epoch,
            value=self.digest(token_type, canonical),
        )
