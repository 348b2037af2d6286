"""Consortium token keys wrapped to one member: X25519 + HKDF-SHA256 + AES-256-GCM.

The admin generates an epoch's key and wraps it to each member's X25519 public key; the hub
keeps only the wrapped blobs and hands each member its own; only that member's private key
unwraps it. The AEAD's associated data binds the blob to its epoch and member, so a blob cannot
be replayed as another epoch's key or passed to another member.

Blob = ephemeral X25519 public key (32) || nonce (12) || AES-GCM ciphertext of the key + tag.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from clients.credentials import write_private_key
from runtime.contract_limits import KEY_CHECK_BYTES
from runtime.tls import read_private_key

INFO = b"lianfang-key-epoch-v1"
KEY_CHECK_INFO = b"lianfang key check v1"


def _context(epoch: int, member_id: str) -> bytes:
    return INFO + b"|" + str(epoch).encode() + b"|" + member_id.encode()


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=context).derive(shared)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class WrongEpochKey(ValueError):
    """A key that fails its epoch's key check: another epoch's, another consortium's, a typo."""


class NothingToGrant(ValueError):
    """Every member with an encryption key holds the epoch already: a rerun of a grant."""


def key_check(key: bytes) -> bytes:
    """What tells an epoch's key from another without revealing it (``KeyEpochInfo.key_check``):
    the admin checks a kept key file against it before wrapping it to more members, and a node
    checks what it unwraps."""
    return hmac.new(key, KEY_CHECK_INFO, hashlib.sha256).digest()[:KEY_CHECK_BYTES]


def wrap_key(key: bytes, epoch: int, member_id: str, recipient: bytes) -> bytes:
    """``key`` wrapped to the member whose raw X25519 public key is ``recipient``."""
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    ephemeral_raw = _raw(ephemeral.public_key())
    context = _context(epoch, member_id)
    nonce = os.urandom(12)
    sealed = AESGCM(_kek(shared, ephemeral_raw, recipient, context)).encrypt(nonce, key, context)
    return ephemeral_raw + nonce + sealed


def unwrap_key(blob: bytes, epoch: int, member_id: str, private: X25519PrivateKey) -> bytes:
    """The key, or ``cryptography.exceptions.InvalidTag`` if the blob is not this member's."""
    if len(blob) < 32 + 12 + 16:
        raise ValueError("wrapped key too short")
    ephemeral_raw, nonce, sealed = blob[:32], blob[32:44], blob[44:]
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
    context = _context(epoch, member_id)
    kek = _kek(shared, ephemeral_raw, _raw(private.public_key()), context)
    return AESGCM(kek).decrypt(nonce, sealed, context)


def generate_encryption_key_file(path: str | Path) -> bytes:
    """A member's X25519 private key (PEM, 0600); returns the raw public key to give the admin."""
    key = X25519PrivateKey.generate()
    write_private_key(path, key)
    return _raw(key.public_key())


def load_encryption_key(path: str | Path) -> X25519PrivateKey:
    key: X25519PrivateKey = read_private_key(path, X25519PrivateKey, "X25519")
    return key
