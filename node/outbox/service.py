"""OutboxService: what waits for the hub, what it refused for good, and retrying or discarding
a dead letter (``lianfang node outbox list|retry|discard``; system admins, risk managers may look)."""

from __future__ import annotations

import logging

import grpc
from lianfang.v1 import node_pb2, node_pb2_grpc

from clients.circuit import CircuitBreaker
from node.outbox.late_answer import give_up_check_in
from node.outbox.queue import CHECKS, DEAD, PENDING, STATES, Outbox, OutboxRow
from runtime.clock import Clock
from runtime.errors import FieldViolation, InvalidArgument
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp

log = logging.getLogger("lianfang.node.outbox")

MAX_LIMIT = 1000
MAX_REASON = 500


def _item_id(value: int, violations: list[FieldViolation], what: str = "a dead outbox item") -> None:
    if value == 0 or value >= 2**63:
        violations.append(FieldViolation("id", f"the id of {what} is required"))


def item_view(row: OutboxRow) -> node_pb2.OutboxItem:
    item = node_pb2.OutboxItem(
        id=row.id,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        application_id=row.application_id,
        state=row.state,
        attempts=row.attempts,
        created_at=to_timestamp(row.created_at),
        next_attempt_at=to_timestamp(row.next_attempt_at),
        last_error=row.last_error,
    )
    if row.settled_at is not None:
        item.settled_at.CopyFrom(to_timestamp(row.settled_at))
    return item


class OutboxServicer(node_pb2_grpc.OutboxServiceServicer):
    def __init__(self, outbox: Outbox, breaker: CircuitBreaker, clock: Clock) -> None:
        self.outbox, self.breaker, self.clock = outbox, breaker, clock

    async def ListOutbox(
        self, request: node_pb2.ListOutboxRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListOutboxResponse:
        if request.state and request.state not in STATES:
            raise InvalidArgument.one("state", f"one of {', '.join(STATES)} (or unset: all)")
        if request.limit > MAX_LIMIT:
            raise InvalidArgument.one("limit", f"at most {MAX_LIMIT}")
        rows = self.outbox.rows(request.state, request.limit or 100)
        return node_pb2.ListOutboxResponse(
            items=[item_view(r) for r in rows],
            pending=self.outbox.count(PENDING),
            dead=self.outbox.count(DEAD),
            circuit=self.breaker.state,
        )

    async def RetryOutbox(
        self, request: node_pb2.RetryOutboxRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.OutboxItem:
        violations: list[FieldViolation] = []
        _item_id(request.id, violations, "a dead or pending outbox item")
        if violations:
            raise InvalidArgument(violations)
        return item_view(self.outbox.retry(request.id, self.clock()))

    async def DiscardOutbox(
        self, request: node_pb2.DiscardOutboxRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.OutboxItem:
        violations: list[FieldViolation] = []
        _item_id(request.id, violations)
        reason = request.reason.strip()
        if not reason:
            violations.append(FieldViolation("reason", "is required: why the submission is given up"))
        elif len(reason) > MAX_REASON:
            violations.append(FieldViolation("reason", f"at most {MAX_REASON} characters"))
        if violations:
            raise InvalidArgument(violations)
        actor, now = current_call().principal, self.clock()
        store = self.outbox.store
        with store.transaction() as db:
            row = self.outbox.discard_in(db, request.id, now, actor, reason)
            if row.kind in CHECKS:  # no answer will come: the application stops waiting for one
                give_up_check_in(store, db, row.application_id, actor, reason, now)
        store.scrub_wal()  # the dropped payload leaves the -wal file too
        self.outbox.notify()  # its application's later rows may be due now
        fields = {"id": row.id, "kind": row.kind, "application": row.application_id, "by": actor}
        log.warning("outbox item discarded", extra={"fields": fields})  # the reason stays in the node's store
        return item_view(row)
