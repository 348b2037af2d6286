"""The verifiable audit log: the consortium log as an RFC 6962 Merkle tree, with signed heads.

Every entry of the consortium log (each Check, outcome, marker change, admin action) is a leaf,
in log order, so every hub replica folds the same tree. The hub signs tree heads with its audit
key (Ed25519, deterministic: replicas sign the same head identically for the same timestamp);
``verify_tree_head`` and ``consortium.merkle``'s verifiers are all a member needs to check that a
new head extends the last one it saw — the hub cannot rewrite or drop an entry unnoticed.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import audit_pb2

from consortium.merkle import MerkleTree
from consortium.store.base import LogCursor
from runtime.config import setting_file
from runtime.tls import read_private_key

STH_CONTEXT = b"lianfang-signed-tree-head-v1\x00"


def signed_tree_head_bytes(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """What a tree head's signature covers: context, size and time (big-endian u64), root."""
    return STH_CONTEXT + struct.pack(">QQ", tree_size, timestamp_ms) + root


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """The hub's audit key from a PEM file (``lianfang keys new signing`` makes one). A file that
    is not one is a ConfigError naming ``audit_key_file``, the setting (one line at start-up)."""
    with setting_file("audit_key_file", path):
        return read_private_key(path, Ed25519PrivateKey, "Ed25519")


def ring_id_key(signing_key: Ed25519PrivateKey | None) -> bytes:
    """The secret ring ids are keyed with: derived from the audit key, which every replica holds
    (empty without one: ids are then plain hashes)."""
    if signing_key is None:
        return b""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hashlib.sha256(b"lianfang-ring-ids\x00" + raw).digest()


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


class AuditLog:
    """This process's Merkle tree over the consortium log (fed by ``RingTracker`` observers)."""

    def __init__(self, signing_key: Ed25519PrivateKey | None) -> None:
        self.signing_key = signing_key
        self.tree = MerkleTree()
        self.cursors: list[LogCursor] = []  # log position of every leaf, to fetch its entry

    def observe(self, cursor: LogCursor, event: str, decoded: object = None) -> None:
        self.tree.append(event.encode())
        self.cursors.append(cursor)

    def __len__(self) -> int:
        return len(self.tree)

    def head(self, tree_size: int, now: float) -> audit_pb2.SignedTreeHead:
        """The signed head of the first ``tree_size`` leaves, timestamped ``now`` (ms)."""
        if self.signing_key is None:
            raise RuntimeError("no audit signing key")
        root = self.tree.root(tree_size)
        millis = int(now * 1000)
        stamp = Timestamp(seconds=millis // 1000, nanos=(millis % 1000) * 1_000_000)
        return audit_pb2.SignedTreeHead(
            tree_size=tree_size,
            root_hash=root,
            timestamp=stamp,
            signature=self.signing_key.sign(signed_tree_head_bytes(tree_size, millis, root)),
            key_id=key_id(self.signing_key.public_key()),
        )
