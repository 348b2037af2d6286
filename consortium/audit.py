"""The verifiable audit log: the consortium log as an RFC 6962 Merkle tree, with signed heads.

Every entry of the consortium log (each Check, outcome, marker change, admin action) is a leaf,
in log order, so every hub replica folds the same tree. The hub signs tree heads with its audit
key (Ed25519, deterministic: replicas sign the same head identically for the same timestamp);
``runtime.tree_head.verify_tree_head`` and ``runtime.merkle``'s verifiers are all a member needs to
check that a new head extends the last one it saw — the hub cannot rewrite or drop an entry
unnoticed (the member SDK imports them from runtime/, not from the hub).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import audit_pb2

from consortium.store.base import LogCursor
from runtime.config import setting_file
from runtime.merkle import MerkleTree
from runtime.tls import read_private_key
from runtime.tree_head import key_id, signed_tree_head_bytes


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """The hub's audit key from a PEM file (``lianfang keys new signing`` makes one). A file that
    is not one is a ConfigError naming ``audit_key_file``, the setting (one line at start-up)."""
    with setting_file("audit_key_file", path):
        return read_private_key(path, Ed25519PrivateKey, "Ed25519")


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
