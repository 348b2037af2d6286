"""This member's blacklist markers at the hub, managed by its staff through the node
(``MarkerService``): the node holds the member key, so a risk manager withdraws a marker filed in
error, or a customer manager passes on a borrower's dispute, without ever holding that key.

The node remembers which application each marker it filed belongs to (a ``filed_marker``
record, written with the application's list of filed markers) and who withdrew it, so a
listing names the application and the node keeps its own audit of the withdrawal beside the
hub's. Free text is checked here for personal data before it leaves for the hub, whose log
keeps it for good.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import grpc
from lianfang.v1 import common_pb2, consortium_pb2, node_pb2, node_pb2_grpc

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.hub_errors import hub_error
from node.origination.store import NodeStore
from runtime.clock import Clock
from runtime.errors import FieldViolation, InvalidArgument, NotFound
from runtime.identifier_text import MAX_REASON_CHARS, MAX_STATEMENT_CHARS, check_free_text
from runtime.interceptors import current_call

log = logging.getLogger("lianfang.node.markers")

FILED_MARKER = "filed_marker"
"""Record kind: one per marker this node filed (id = the hub's marker id)."""

HUB_TIMEOUT = 4.0
"""Seconds a staff member's marker call waits for the hub: not on an applicant's path, and
within a node client's default deadline (5 s), so the node answers first."""


def record_filed_marker_in(
    store: NodeStore, db: sqlite3.Connection, marker_id: str, application_id: str, actor: str, at: float
) -> None:
    """Remembers, in the caller's transaction, that ``marker_id`` was filed for ``application_id``."""
    body = {"marker_id": marker_id, "application_id": application_id, "filed_by": actor, "filed_at": at}
    store.put_record_in(db, FILED_MARKER, marker_id, application_id, body)


def _record(store: NodeStore, marker_id: str) -> dict[str, Any]:
    try:
        return store.get_record(FILED_MARKER, marker_id)
    except NotFound:
        return {}  # filed some other way (another tool holding the member key)


def _view(marker: consortium_pb2.Marker, record: dict[str, Any]) -> node_pb2.FiledMarker:
    return node_pb2.FiledMarker(
        marker=marker,
        application_id=record.get("application_id", ""),
        withdrawn_by=record.get("withdrawn_by", ""),
        withdraw_reason=record.get("withdraw_reason", ""),
    )


def _marker_id(value: str, violations: list[FieldViolation]) -> None:
    if not value.strip():
        violations.append(FieldViolation("marker_id", "is required"))


class MarkerDesk:
    """Lists, withdraws and disputes this member's markers at the hub."""

    def __init__(self, store: NodeStore, hub: HubClient, clock: Clock) -> None:
        self.store, self.hub, self.clock = store, hub, clock

    async def markers(self, include_inactive: bool) -> list[node_pb2.FiledMarker]:
        try:
            found = await self.hub.list_my_markers(include_inactive=include_inactive, timeout=HUB_TIMEOUT)
        except LianfangRpcError as error:
            raise hub_error(error) from error
        records = {r["marker_id"]: r for r in self.store.records_of_kind(FILED_MARKER)}
        return [_view(m, records.get(m.marker_id, {})) for m in found]

    async def withdraw(self, marker_id: str, reason: str, actor: str) -> node_pb2.FiledMarker:
        """Withdraws at the hub, then records who did it and why (the first withdrawal's, as the hub)."""
        violations: list[FieldViolation] = []
        _marker_id(marker_id, violations)
        check_free_text(reason, "reason", violations, max_chars=MAX_REASON_CHARS, required=True)
        if violations:
            raise InvalidArgument(violations)
        try:
            marker = await self.hub.withdraw_marker(marker_id, reason, timeout=HUB_TIMEOUT)
        except LianfangRpcError as error:
            raise hub_error(error) from error
        with self.store.transaction() as db:
            record = _record(self.store, marker_id) or {"marker_id": marker_id, "application_id": ""}
            if not record.get("withdrawn_by"):
                record.update(withdrawn_by=actor, withdraw_reason=reason, withdrawn_at=self.clock())
                self.store.put_record_in(db, FILED_MARKER, marker_id, record["application_id"], record)
        fields = {"marker": marker_id, "application": record["application_id"], "by": actor}
        log.info("marker withdrawn", extra={"fields": fields})  # the reason stays in the stores
        return _view(marker, record)

    async def dispute(self, marker_id: str, statement: str, actor: str) -> common_pb2.Dispute:
        violations: list[FieldViolation] = []
        _marker_id(marker_id, violations)
        check_free_text(statement, "subject_statement", violations, max_chars=MAX_STATEMENT_CHARS, required=True)
        if violations:
            raise InvalidArgument(violations)
        try:
            dispute = await self.hub.raise_dispute(marker_id, statement, timeout=HUB_TIMEOUT)
        except LianfangRpcError as error:
            raise hub_error(error) from error
        fields = {"marker": marker_id, "dispute": dispute.dispute_id, "by": actor}
        log.info("marker disputed", extra={"fields": fields})
        return dispute


class MarkerServicer(node_pb2_grpc.MarkerServiceServicer):
    def __init__(self, desk: MarkerDesk) -> None:
        self.desk = desk

    async def ListMarkers(
        self, request: node_pb2.ListMarkersRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListMarkersResponse:
        return node_pb2.ListMarkersResponse(markers=await self.desk.markers(request.include_inactive))

    async def WithdrawMarker(
        self, request: node_pb2.WithdrawFiledMarkerRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.FiledMarker:
        return await self.desk.withdraw(request.marker_id, request.reason, current_call().principal)

    async def DisputeMarker(
        self, request: node_pb2.DisputeMarkerRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Dispute:
        return await self.desk.dispute(request.marker_id, request.subject_statement, current_call().principal)
