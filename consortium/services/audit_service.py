"""AuditService: signed tree heads and proofs over the consortium log (see consortium/audit.py).

Heads and proofs are for every principal with the ``audit`` scope; the entries themselves name
members, references and tokens, so only admins read them. Every call first catches up with the
log, so a head from any replica covers everything appended before the call. A subject access
request answers the queries on the subject's tokens with their proofs, and the markers standing
on them without their filers (the ids a dispute names).
"""

from __future__ import annotations

import json
from collections import Counter

import grpc
from lianfang.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from consortium.aliases import AliasBook
from consortium.audit import AuditLog
from consortium.disputes import DisputeBook
from consortium.log_format import encode_event
from consortium.markers import marker_status, polarity
from consortium.records import token_key, token_type_of
from consortium.rings import RingTracker, looked_up
from consortium.store.base import MarkerStore, MemberStore
from consortium.transparency import QueryCounts
from consortium.usage import UsageGuard
from consortium.validation import check_token
from runtime.clock import Clock
from runtime.contract_limits import MAX_CHECK_TOKENS
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from runtime.identifier_text import check_free_text
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp

MAX_ENTRIES = 1000
MAX_SUBJECT_TOKENS = MAX_CHECK_TOKENS


MAX_REQUEST_REF_CHARS = 64
"""A subject access request's reference: a digest, not the member's own text."""


def subject_access_event(member: str, token_keys: list[str], at: float, request_ref: str = "") -> str:
    """A subject access request, for the audit log: counted in quotas like a Check, seen by the
    canaries, and shown in the subject's later access requests, as a Check is."""
    return encode_event(["sa", member, len(token_keys), at, token_keys, request_ref])


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(
        self,
        log: RingTracker,
        audit: AuditLog,
        clock: Clock,
        queries: QueryCounts,
        members: MemberStore,
        usage: UsageGuard,
        aliases: AliasBook,
        markers: MarkerStore,
        disputes: DisputeBook,
    ) -> None:
        self.markers, self.disputes = markers, disputes
        self.usage = usage
        self.aliases = aliases
        self.log = log
        self.audit = audit
        self.clock = clock
        self.queries = queries
        self.members = members

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

    async def _categories(self) -> dict[str, str]:
        return {m.member_id: m.category for m in await self.members.list_members()}

    async def ListQueriesOnMyData(
        self, request: audit_pb2.ListQueriesOnMyDataRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListQueriesOnMyDataResponse:
        await self.log.catch_up()
        categories = await self._categories()
        totals: Counter[str] = Counter()
        for member, checks in self.queries.of(current_call().principal).items():
            totals[categories.get(member, "unknown")] += checks
        return audit_pb2.ListQueriesOnMyDataResponse(
            by_category=[
                audit_pb2.CategoryCount(member_category=c, checks=n)
                for c, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
            ],
            total=sum(totals.values()),
        )

    async def SubjectAccess(
        self, request: audit_pb2.SubjectAccessRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.SubjectAccessResponse:
        """Scans the log for the subject's tokens: rare requests, so no index is kept for them."""
        violations: list[FieldViolation] = []
        if not 1 <= len(request.tokens) <= MAX_SUBJECT_TOKENS:
            violations.append(FieldViolation("tokens", f"1..{MAX_SUBJECT_TOKENS} tokens"))
        for i, t in enumerate(request.tokens):
            check_token(t, f"tokens[{i}]", violations)
        check_free_text(  # permissible purpose: the borrower's own request, which the member answers
            request.request_ref, "request_ref", violations, max_chars=MAX_REQUEST_REF_CHARS, required=True
        )
        if violations:
            raise InvalidArgument(violations)
        member = current_call().principal
        with self.usage.admitted(member, 1, self.clock()):  # counted like a Check: no free enumeration
            size = await self._size(0, "tree_size")
            # the subject's tokens under their canonical (oldest-epoch) keys, as the log holds them
            given = {token_key(t.scheme, t.type, t.epoch, t.value) for t in request.tokens}
            wanted = {self.aliases.resolve(key) for key in given}
            event = subject_access_event(member, sorted(wanted), self.clock(), request.request_ref)
            await self.log.publish([event])  # audited, counted
        categories = await self._categories()
        found: list[audit_pb2.SubjectQuery] = []
        index, after = 0, (0, 0)
        while index < size:
            page = await self.log.store.log_events(after, min(5_000, size - index))
            if not page:
                break
            for cursor, event in page:
                if event.startswith(('["a"', '["sa"')) and any(key in event for key in wanted):
                    decoded = json.loads(event)
                    if wanted.intersection(looked_up(decoded)):
                        found.append(
                            audit_pb2.SubjectQuery(
                                leaf_index=index,
                                leaf_hash=self.audit.tree.leaf_hash_at(index),
                                member_category=categories.get(str(decoded[1]), "unknown"),
                                at=to_timestamp(float(decoded[3])),
                                inclusion_proof=self.audit.tree.inclusion_proof(index, size),
                            )
                        )
                index += 1
                after = cursor
                if index >= size:
                    break
        return audit_pb2.SubjectAccessResponse(
            queries=found, tree_head=self.audit.head(size, self.clock()), markers=await self._standing(given | wanted)
        )

    async def _standing(self, token_keys: set[str]) -> list[audit_pb2.SubjectMarker]:
        """The markers in force on these tokens (disputed ones too), without their filers."""
        now, shown = self.clock(), []
        for markers in (await self.markers.markers_for_tokens(sorted(token_keys))).values():
            for m in markers:
                status = marker_status(m, now, self.disputes.is_disputed(m.marker_id))
                if status in (common_pb2.MARKER_STATUS_ACTIVE, common_pb2.MARKER_STATUS_DISPUTED):
                    shown.append((m, status))
        return [
            audit_pb2.SubjectMarker(
                marker_id=m.marker_id,
                token_type=token_type_of(m.token_key),
                marker_type=m.marker_type,
                polarity=polarity(m.marker_type),
                reason_code=m.reason_code,
                evidence_level=m.evidence_level,
                status=status,
                filed_at=to_timestamp(m.filed_at),
                expires_at=None if m.expires_at is None else to_timestamp(m.expires_at),
            )
            for m, status in sorted(shown, key=lambda shown_one: (shown_one[0].filed_at, shown_one[0].marker_id))
        ]
