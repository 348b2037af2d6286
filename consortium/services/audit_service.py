"""AuditService: signed tree heads and proofs over the consortium log (see consortium/audit.py).

Heads and proofs are for every principal with the ``audit`` scope; the entries themselves name
members, references and tokens, so only admins read them. Every call first catches up with the
log, so a head from any replica covers everything appended before the call.
"""

from __future__ import annotations

import grpc
from lianfang.v1 import audit_pb2, audit_pb2_grpc

from consortium.audit import AuditLog
from consortium.rings import RingTracker
from runtime.clock import Clock
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

MAX_ENTRIES = 1000


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, log: RingTracker, audit: AuditLog, clock: Clock) -> None:
        self.log = log
        self.audit = audit
        self.clock = clock

    async def _size(self, requested: int, field: str) -> int:
        if self.audit.signing_key is None:
            raise FailedPrecondition("the hub has no audit signing key (hub setting audit_key_file)")
        await self.log.catch_up()
        size = len(self.audit)
        if requested > size:
            raise InvalidArgument.one(field, f"the log has {size} entries")
        return requested or size

    async def GetTreeHead(
        self, request: audit_pb2.GetTreeHeadRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.SignedTreeHead:
        size = await self._size(0, "tree_size")
        return self.audit.head(size, self.clock())

    async def GetConsistencyProof(
        self, request: audit_pb2.GetConsistencyProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetConsistencyProofResponse:
        size = await self._size(request.tree_size, "tree_size")
        if not 0 < request.old_size <= size:
            raise InvalidArgument.one("old_size", f"between 1 and the tree size ({size})")
        return audit_pb2.GetConsistencyProofResponse(
            proof=self.audit.tree.consistency_proof(request.old_size, size),
            tree_head=self.audit.head(size, self.clock()),
        )

    async def GetInclusionProof(
        self, request: audit_pb2.GetInclusionProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetInclusionProofResponse:
        size = await self._size(request.tree_size, "tree_size")
        if request.leaf_index >= size:
            raise InvalidArgument.one("leaf_index", f"below the tree size ({size})")
        return audit_pb2.GetInclusionProofResponse(
            leaf_hash=self.audit.tree.leaf_hash_at(request.leaf_index),
            proof=self.audit.tree.inclusion_proof(request.leaf_index, size),
            tree_head=self.audit.head(size, self.clock()),
        )

    async def GetEntries(
        self, request: audit_pb2.GetEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetEntriesResponse:
        violations = []
        if not 1 <= request.count <= MAX_ENTRIES:
            violations.append(FieldViolation("count", f"1..{MAX_ENTRIES}"))
        await self.log.catch_up()
        if request.start >= len(self.audit):
            violations.append(FieldViolation("start", f"below the log size ({len(self.audit)})"))
        if violations:
            raise InvalidArgument(violations)
        cursors = self.audit.cursors
        after = cursors[request.start - 1] if request.start else (0, 0)
        count = min(request.count, len(cursors) - request.start)
        entries = await self.log.store.log_events(after, count)
        return audit_pb2.GetEntriesResponse(entries=[event.encode() for _, event in entries])
