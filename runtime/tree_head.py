"""Signed tree heads of the audit log: what the hub's signature covers, and how a member checks
one. Shared by the hub (``consortium.audit`` signs) and the member SDK (``clients.audit``
verifies), so neither depends on the other."""

from __future__ import annotations

import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import audit_pb2

STH_CONTEXT = b"lianfang-signed-tree-head-v1\x00"


def signed_tree_head_bytes(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """What a tree head's signature covers: context, size and time (big-endian u64), root."""
    return STH_CONTEXT + struct.pack(">QQ", tree_size, timestamp_ms) + root


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _millis(stamp: Timestamp) -> int:
    return stamp.seconds * 1000 + stamp.nanos // 1_000_000


def verify_tree_head(head: audit_pb2.SignedTreeHead, public_key: Ed25519PublicKey) -> bool:
    message = signed_tree_head_bytes(head.tree_size, _millis(head.timestamp), head.root_hash)
    try:
        public_key.verify(head.signature, message)
    except InvalidSignature:
        return False
    return head.key_id == key_id(public_key)
