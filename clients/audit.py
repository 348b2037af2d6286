"""Typed client of the hub's AuditService, and the member-side verification of what it says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from lianfang.v1 import audit_pb2, audit_pb2_grpc

from clients.credentials import JwtSigner, public_key_arg
from clients.rpc import Metadata, RpcClient
from runtime.merkle import MerkleTree, verify_consistency
from runtime.tree_head import verify_tree_head


class AuditClient(RpcClient):
    """Tree heads and proofs (members and admins); entries (admins)."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 10.0) -> None:
        super().__init__(channel, signer.scoped("audit"), default_timeout=default_timeout)
        self._entries_signer = signer.scoped("admin")  # the entries are for admins only
        self._stub = audit_pb2_grpc.AuditServiceStub(channel)

    async def tree_head(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> audit_pb2.SignedTreeHead:
        return await self._call(
            self._stub.GetTreeHead, audit_pb2.GetTreeHeadRequest(), timeout=timeout, metadata=metadata, idempotent=True
        )

    async def consistency(
        self, old_size: int, tree_size: int = 0, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> audit_pb2.GetConsistencyProofResponse:
        request = audit_pb2.GetConsistencyProofRequest(old_size=old_size, tree_size=tree_size)
        return await self._call(
            self._stub.GetConsistencyProof, request, timeout=timeout, metadata=metadata, idempotent=True
        )

    async def inclusion(
        self, leaf_index: int, tree_size: int = 0, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> audit_pb2.GetInclusionProofResponse:
        request = audit_pb2.GetInclusionProofRequest(leaf_index=leaf_index, tree_size=tree_size)
        return await self._call(
            self._stub.GetInclusionProof, request, timeout=timeout, metadata=metadata, idempotent=True
        )

    async def entries(
        self, start: int, count: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[bytes]:
        request = audit_pb2.GetEntriesRequest(start=start, count=count)
        response = await self._call(
            self._stub.GetEntries,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._entries_signer,
            idempotent=True,
        )
        return list(response.entries)

    async def queries_on_my_data(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> audit_pb2.ListQueriesOnMyDataResponse:
        """How often other members, by category, queried identifiers this member contributed."""
        request = audit_pb2.ListQueriesOnMyDataRequest()
        return await self._call(
            self._stub.ListQueriesOnMyData, request, timeout=timeout, metadata=metadata, idempotent=True
        )

    async def subject_access(
        self,
        tokens: list[Any],
        *,
        request_ref: str,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> audit_pb2.SubjectAccessResponse:
        """A data subject's access export (the member computes the subject's tokens);
        ``request_ref``: a digest of the member's reference of the subject's request (required:
        the hub answers only a subject's own request). Not resent to another hub replica: the hub
        logs each export (and counts it against quota) before it reads the answer."""
        request = audit_pb2.SubjectAccessRequest(tokens=tokens, request_ref=request_ref)
        return await self._call(self._stub.SubjectAccess, request, timeout=timeout, metadata=metadata)


class AuditFailure(Exception):
    """The hub's audit log did not verify: a forged head, or history rewritten."""


@dataclass
class Verified:
    head: audit_pb2.SignedTreeHead
    checked_against: int  # the size of the earlier head it was proven to extend (0: none)
    entries_checked: int  # entries downloaded and re-hashed (0: not asked)


def save_head(head: audit_pb2.SignedTreeHead, path: str | Path) -> None:
    Path(path).write_text(json_format.MessageToJson(head))


def load_head(path: str | Path) -> audit_pb2.SignedTreeHead | None:
    p = Path(path)
    return json_format.Parse(p.read_text(), audit_pb2.SignedTreeHead()) if p.exists() else None


def public_key_of(encoded: str) -> Ed25519PublicKey:
    """The hub's audit public key, as ``clients.credentials.public_key_arg`` reads one."""
    return Ed25519PublicKey.from_public_bytes(public_key_arg(encoded, "--hub-audit-key"))


async def verify_log(
    client: AuditClient, public_key: Ed25519PublicKey, previous: audit_pb2.SignedTreeHead | None, *, entries: bool
) -> Verified:
    """Checks the current signed head; that it extends ``previous`` (a head saved earlier); and,
    with ``entries`` (admins), that the downloaded entries hash to its root."""
    head = await client.tree_head()
    if not verify_tree_head(head, public_key):
        raise AuditFailure("the tree head's signature does not verify with the hub's audit key")
    checked = 0
    if previous is not None:
        if not verify_tree_head(previous, public_key):
            raise AuditFailure("the saved tree head's signature does not verify")
        if previous.tree_size > head.tree_size:
            raise AuditFailure(f"the log shrank from {previous.tree_size} to {head.tree_size} entries")
        if previous.tree_size:
            proof = await client.consistency(previous.tree_size, head.tree_size)
            ok = verify_consistency(
                previous.tree_size, head.tree_size, list(proof.proof), previous.root_hash, head.root_hash
            )
            if not ok:
                raise AuditFailure(
                    f"the log of {head.tree_size} entries does not extend the one of {previous.tree_size} "
                    "entries signed earlier: history was rewritten"
                )
            checked = previous.tree_size
    downloaded = 0
    if entries:
        tree = MerkleTree()
        while downloaded < head.tree_size:
            batch = await client.entries(downloaded, min(1000, head.tree_size - downloaded))
            for entry in batch:
                tree.append(entry)
            downloaded += len(batch)
        if tree.root(head.tree_size) != head.root_hash:
            raise AuditFailure("the entries do not hash to the signed root")
    return Verified(head, checked, downloaded)


def describe(head: audit_pb2.SignedTreeHead) -> str:
    return json.dumps({"tree_size": head.tree_size, "root_hash": head.root_hash.hex(), "key_id": head.key_id})
