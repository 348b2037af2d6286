"""RFC 6962 Merkle tree: the Certificate Transparency reference vectors, and every proof of
every shape verifies while any change to it, the leaf or the root makes verification fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, verify_consistency, verify_inclusion

LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path), from certificate-transparency's test data (1-based there).
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
]


def tree_of(leaves: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


def test_reference_roots_and_paths() -> None:
    tree = tree_of(LEAVES)
    assert tree.root(0) == EMPTY_ROOT
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS
    for index, size, path in INCLUSION:
        assert [p.hex() for p in tree.inclusion_proof(index, size)] == path
        assert verify_inclusion(
            leaf_hash(LEAVES[index]), index, size, [bytes.fromhex(p) for p in path], bytes.fromhex(ROOTS[size - 1])
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_every_proof_verifies_and_every_change_breaks_it(leaves: list[bytes], data: st.DataObject) -> None:
    tree = tree_of(leaves)
    n = data.draw(st.integers(1, len(leaves)))
    i = data.draw(st.integers(0, n - 1))
    root, proof = tree.root(n), tree.inclusion_proof(i, n)
    assert verify_inclusion(leaf_hash(leaves[i]), i, n, proof, root)
    assert not verify_inclusion(leaf_hash(leaves[i] + b"x"), i, n, proof, root)  # another leaf
    assert not verify_inclusion(leaf_hash(leaves[i]), i, n, proof, leaf_hash(b"not the root"))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bent = [*proof[:k], leaf_hash(proof[k]), *proof[k + 1 :]]
        assert not verify_inclusion(leaf_hash(leaves[i]), i, n, bent, root)
        assert not verify_inclusion(leaf_hash(leaves[i]), i, n, proof[:-1], root)
    if n > 1 and leaves[i] != leaves[(i + 1) % n]:
        assert not verify_inclusion(leaf_hash(leaves[i]), (i + 1) % n, n, proof, root)  # wrong index

    m = data.draw(st.integers(1, n))
    consistency = tree.consistency_proof(m, n)
    assert verify_consistency(m, n, consistency, tree.root(m), root)
    if m < n:
        assert not verify_consistency(m, n, consistency, leaf_hash(b"forged old root"), root)
        forked = tree_of([*leaves[: m - 1], leaves[m - 1] + b"!", *leaves[m:n]])  # history rewritten
        assert not verify_consistency(m, n, forked.consistency_proof(m, n), tree.root(m), forked.root(n))


def test_proofs_of_sizes_outside_the_tree_are_refused() -> None:
    tree = tree_of(LEAVES[:3])
    for call in (
        lambda: tree.root(4),
        lambda: tree.inclusion_proof(3, 3),
        lambda: tree.consistency_proof(0, 3),
        lambda: tree.consistency_proof(2, 4),
    ):
        with pytest.raises(ValueError):
            call()
    assert not verify_inclusion(leaf_hash(b""), 5, 3, [], tree.root())
    assert not verify_consistency(3, 2, [], tree.root(3), tree.root(2))
