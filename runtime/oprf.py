"""RFC 9497 OPRF and VOPRF over ristretto255-SHA512, and the key rotation factor Δ = k₂·k₁⁻¹.

Why here: the node (blind, verify, unblind), the key service (evaluate, prove) and the hub
(re-key stored elements with Δ) all need the same group arithmetic; every scalar operation of the
project lives in this one module, so there is one place to review for scalar handling. Scalars
are 32-byte little-endian values reduced mod the group order; no function here logs anything.

The group operations come from libsodium (``rbcl`` bundles it); the protocol — hash-to-group via
expand_message_xmd(SHA-512), HashToScalar, DeriveKeyPair, DLEQ proofs with batched composites,
Finalize — follows RFC 9497 byte for byte (its test vectors pass, ``tests/unit/test_oprf.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import rbcl

MODE_OPRF = 0x00
MODE_VOPRF = 0x01
SUITE = b"ristretto255-SHA512"
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
PROOF_BYTES = 64
OUTPUT_BYTES = 64
IDENTITY = bytes(ELEMENT_BYTES)


class OprfError(ValueError):
    """An input the protocol must refuse (malformed element, invalid proof, zero scalar)."""


def context_string(mode: int) -> bytes:
    return b"OPRFV1-" + bytes([mode]) + b"-" + SUITE


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def _lp(data: bytes) -> bytes:
    """A length-prefixed field of the RFC's transcripts."""
    return _i2osp(len(data), 2) + data


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    if len(dst) > 255:
        raise OprfError("DST too long")
    ell = -(-length // 64)
    if ell > 255:
        raise OprfError("requested too many bytes")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(128) + msg + _i2osp(length, 2) + b"\x00" + dst_prime).digest()
    b = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = b
    for i in range(2, ell + 1):
        b = hashlib.sha512(bytes(x ^ y for x, y in zip(b0, b, strict=True)) + _i2osp(i, 1) + dst_prime).digest()
        out += b
    return out[:length]


def hash_to_group(data: bytes, mode: int) -> bytes:
    return rbcl.crypto_core_ristretto255_from_hash(expand_message_xmd(data, b"HashToGroup-" + context_string(mode), 64))


def hash_to_scalar(data: bytes, mode: int, dst: bytes | None = None) -> bytes:
    dst = dst if dst is not None else b"HashToScalar-" + context_string(mode)
    return rbcl.crypto_core_ristretto255_scalar_reduce(expand_message_xmd(data, dst, 64))


def check_element(element: bytes) -> bytes:
    """A canonical, non-identity ristretto255 encoding, or OprfError (DeserializeElement)."""
    if (
        not isinstance(element, bytes)
        or len(element) != ELEMENT_BYTES
        or element == IDENTITY
        or not rbcl.crypto_core_ristretto255_is_valid_point(element)
    ):
        raise OprfError("not a valid ristretto255 element")
    return element


def check_scalar(scalar: bytes) -> bytes:
    """A canonical non-zero scalar, or OprfError."""
    if len(scalar) != SCALAR_BYTES or scalar == bytes(SCALAR_BYTES):
        raise OprfError("not a non-zero scalar")
    if rbcl.crypto_core_ristretto255_scalar_reduce(scalar + bytes(32)) != scalar:
        raise OprfError("not a canonical scalar")
    return scalar


def mul(scalar: bytes, element: bytes) -> bytes:
    try:
        return rbcl.crypto_scalarmult_ristretto255(scalar, element)
    except Exception as exc:  # libsodium refuses an identity result
        raise OprfError("scalar multiplication gave the identity") from exc


def _base(scalar: bytes) -> bytes:
    return rbcl.crypto_scalarmult_ristretto255_base(scalar)


def _add(p: bytes, q: bytes) -> bytes:
    return q if p == IDENTITY else rbcl.crypto_core_ristretto255_add(p, q)


def random_scalar() -> bytes:
    return rbcl.crypto_core_ristretto255_scalar_random()


def invert(scalar: bytes) -> bytes:
    return rbcl.crypto_core_ristretto255_scalar_invert(check_scalar(scalar))


@dataclass(frozen=True)
class KeyPair:
    """One epoch's OPRF key. ``secret`` is kept out of ``repr`` so it never reaches a log."""

    secret: bytes
    public: bytes

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"


def derive_key_pair(seed: bytes, info: bytes, mode: int = MODE_VOPRF) -> KeyPair:
    """RFC 9497 §3.2.1 DeriveKeyPair."""
    derive_input = seed + _lp(info)
    dst = b"DeriveKeyPair" + context_string(mode)
    for counter in range(256):
        secret = hash_to_scalar(derive_input + _i2osp(counter, 1), mode, dst)
        if secret != bytes(SCALAR_BYTES):
            return KeyPair(secret, _base(secret))
    raise OprfError("DeriveKeyPair failed")  # pragma: no cover - probability 2^-2000


def generate_key_pair() -> KeyPair:
    secret = random_scalar()
    return KeyPair(secret, _base(secret))


def public_key(secret: bytes) -> bytes:
    return _base(check_scalar(secret))


# -- client ------------------------------------------------------------------------------------
def blind(data: bytes, mode: int = MODE_VOPRF, blind_scalar: bytes | None = None) -> tuple[bytes, bytes]:
    """(blind, blindedElement) of ``data``; ``blind_scalar`` fixed only by tests."""
    r = blind_scalar if blind_scalar is not None else random_scalar()
    element = hash_to_group(data, mode)
    if element == IDENTITY:
        raise OprfError("input hashes to the identity")  # pragma: no cover
    return r, mul(r, element)


def unblind(blind_scalar: bytes, evaluated: bytes) -> bytes:
    """N = blind⁻¹ · evaluatedElement = k · H(input): the element the hub stores."""
    return mul(invert(blind_scalar), check_element(evaluated))


def finalize_element(data: bytes, element: bytes) -> bytes:
    """The RFC's Finalize hash over the input and its unblinded element (64 bytes)."""
    return hashlib.sha512(_lp(data) + _lp(element) + b"Finalize").digest()


def finalize(data: bytes, blind_scalar: bytes, evaluated: bytes) -> bytes:
    """RFC 9497 Finalize (OPRF and VOPRF modes: the proof is checked separately)."""
    return finalize_element(data, unblind(blind_scalar, evaluated))


# -- server ------------------------------------------------------------------------------------
def blind_evaluate(secret: bytes, blinded: bytes) -> bytes:
    return mul(secret, check_element(blinded))


def _composites(
    mode: int, b: bytes, cs: Sequence[bytes], ds: Sequence[bytes], secret: bytes | None
) -> tuple[bytes, bytes]:
    seed_dst = b"Seed-" + context_string(mode)
    seed = hashlib.sha512(_lp(b) + _lp(seed_dst)).digest()
    m, z = IDENTITY, IDENTITY
    for i, (c, d) in enumerate(zip(cs, ds, strict=True)):
        di = hash_to_scalar(_lp(seed) + _i2osp(i, 2) + _lp(c) + _lp(d) + b"Composite", mode)
        m = _add(m, mul(di, c))
        if secret is None:
            z = _add(z, mul(di, d))
    if secret is not None:
        z = mul(secret, m)  # ComputeCompositesFast
    return m, z


def _challenge(mode: int, b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> bytes:
    return hash_to_scalar(_lp(b) + _lp(m) + _lp(z) + _lp(t2) + _lp(t3) + b"Challenge", mode)


def generate_proof(
    secret: bytes,
    public: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    mode: int = MODE_VOPRF,
    nonce: bytes | None = None,
) -> bytes:
    """A batched DLEQ proof that every evaluated = secret·blinded, against ``public``."""
    m, z = _composites(mode, public, blinded, evaluated, secret)
    r = nonce if nonce is not None else random_scalar()
    t2, t3 = _base(r), mul(r, m)
    c = _challenge(mode, public, m, z, t2, t3)
    s = rbcl.crypto_core_ristretto255_scalar_sub(r, rbcl.crypto_core_ristretto255_scalar_mul(c, secret))
    return c + s


def verify_proof(
    public: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], proof: bytes, mode: int = MODE_VOPRF
) -> bool:
    """Whether ``proof`` shows every evaluated element is public's key times its blinded one."""
    if len(proof) != PROOF_BYTES or not blinded or len(blinded) != len(evaluated):
        return False
    try:
        for element in (public, *blinded, *evaluated):
            check_element(element)
        c, s = proof[:32], proof[32:]
        reduce = rbcl.crypto_core_ristretto255_scalar_reduce
        if reduce(c + bytes(32)) != c or reduce(s + bytes(32)) != s:
            return False
        m, z = _composites(mode, public, blinded, evaluated, None)
        t2 = _add(_base_or_identity(s), mul(c, public))
        t3 = _add(_mul_or_identity(s, m), mul(c, z))
    except OprfError:
        return False
    return hmac.compare_digest(_challenge(mode, public, m, z, t2, t3), c)


def _base_or_identity(scalar: bytes) -> bytes:
    return IDENTITY if scalar == bytes(SCALAR_BYTES) else _base(scalar)


def _mul_or_identity(scalar: bytes, element: bytes) -> bytes:
    return IDENTITY if scalar == bytes(SCALAR_BYTES) else mul(scalar, element)


# -- rotation ----------------------------------------------------------------------------------
def rotation_delta(old_secret: bytes, new_secret: bytes) -> bytes:
    """Δ = k₂·k₁⁻¹: Δ·(k₁·H(x)) = k₂·H(x), so the hub re-keys stored elements without inputs."""
    return rbcl.crypto_core_ristretto255_scalar_mul(check_scalar(new_secret), invert(old_secret))


def rekey(delta: bytes, element: bytes) -> bytes:
    """An element of the old epoch carried into the new one."""
    return mul(delta, check_element(element))
