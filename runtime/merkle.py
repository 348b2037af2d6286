"""An append-only Merkle tree with RFC 6962 / RFC 9162 hashing, proofs and their verification.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``; the tree of
``n`` leaves splits at the largest power of two below ``n`` (RFC 6962 §2.1). The tree keeps every
complete subtree's hash (level ``k`` holds the hashes of aligned runs of ``2**k`` leaves), so
appending is amortised O(1), a root of any earlier size is O(log n), and proofs O(log² n) at worst.
Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) and needs no tree:
it is what a member (``lianfang audit verify``) runs against the hub's signed tree heads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """The tree over leaves appended in order (only their hashes are kept)."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    def __len__(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Adds a leaf; returns its index."""
        return self.append_hash(leaf_hash(leaf))

    def append_hash(self, hashed: bytes) -> int:
        levels = self._levels
        index = len(levels[0])
        levels[0].append(hashed)
        level, position = 0, index
        while position & 1:  # completes a pair: the parent subtree is complete too
            left, right = levels[level][position - 1], levels[level][position]
            level += 1
            if len(levels) == level:
                levels.append([])
            levels[level].append(node_hash(left, right))
            position >>= 1
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        return self._levels[0][index]

    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) for the ranges the RFC's recursion produces."""
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:  # a complete, aligned subtree: stored
            return self._levels[size.bit_length() - 1][start // size]
        k = _split(size)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all)."""
        n = len(self) if size is None else size
        if not 0 <= n <= len(self):
            raise ValueError(f"tree size {n} outside 0..{len(self)}")
        return EMPTY_ROOT if n == 0 else self._hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size])."""
        n = len(self) if size is None else size
        if not 0 <= index < n <= len(self):
            raise ValueError(f"no leaf {index} in a tree of {n}")
        proof: list[bytes] = []
        start, end = 0, n
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[0:size])."""
        n = len(self) if size is None else size
        if not 0 < old_size <= n <= len(self):
            raise ValueError(f"no consistency proof from {old_size} to {n}")
        proof: list[bytes] = []
        start, end, m, complete = 0, n, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._hash(start, end))
        proof.reverse()
        return proof


def verify_inclusion(leaf_digest: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show leaf ``index`` (hash ``leaf_digest``) in ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_digest
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, size: int, proof: Sequence[bytes], old_root: bytes, root: bytes) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``size`` leaves (``root``) an extension of the one of
    ``old_size`` leaves (``old_root``)?"""
    if old_size == size:
        return not proof and old_root == root
    if not 0 < old_size < size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == root
