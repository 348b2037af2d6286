"""This member's blacklist markers at the hub, managed by its staff through the node
(``MarkerService``): the node holds the member key, so a risk manager withdraws a marker filed in
error, or a customer manager answers a borrower's access request, passes on their dispute and
follows it, without ever holding that key.

The node remembers which application each marker it filed belongs to (a ``filed_marker``
record, written with the application's list of filed markers) and which member of staff
withdrew it, so a listing names both beside the hub's record (whose reason is the first
withdrawal's). Free text is checked here before it leaves for the hub, whose log keeps it for
good: for what identifiers look like, and for a marker filed here, for the applicant's own.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from lianfang.v1 import audit_pb2, common_pb2, consortium_pb2, node_pb2

from clients.audit import AuditClient
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.hub_errors import answered_by_hub, hub_error
from node.identity.applicant import tokenise
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers
from node.identity.own_identifiers import OwnIdentifiers, stored_identifiers
from node.keyed_locks import KeyedLocks
from node.origination.consortium_check import consent_digest
from node.origination.store import NodeStore, new_id
from runtime.clock import Clock
from runtime.errors import FieldViolation, InvalidArgument, NotFound
from runtime.identifier_text import MAX_REASON_CHARS, MAX_STATEMENT_CHARS, check_free_text

log = logging.getLogger("lianfang.node.markers")

FILED_MARKER = "filed_marker"
"""Record kind: one per marker this node filed (id = the hub's marker id)."""

MAX_MARKER_ID_CHARS = 64
"""Longer is no marker id (the hub's are 23 characters): refused here, not sent."""

BORROWER_RECORDS = "borrower_records"
"""Record kind: one per access request answered (the reference, who asked, when)."""

MAX_REQUEST_REF_CHARS = 128
"""A borrower's access request reference, as the lender writes it."""

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
        marker=marker, application_id=record.get("application_id", ""), withdrawn_by=record.get("withdrawn_by", "")
    )


class MarkerDesk:
    """This member's markers at the hub (list, withdraw), borrowers' disputes (raise, follow),
    and a borrower's access request (the markers and queries on their identifiers)."""

    def __init__(
        self,
        store: NodeStore,
        hub: HubClient,
        audit: AuditClient,
        tokeniser: KeyRing,
        clock: Clock,
        *,
        consent_key: bytes,
    ) -> None:
        """``consent_key``: this member's key of reference digests (``consent_key``)."""
        self.store, self.hub, self.audit, self.tokeniser, self.clock = store, hub, audit, tokeniser, clock
        self.consent_key = consent_key
        self._locks = KeyedLocks()  # one withdrawal of a marker at a time: the record names who did it

    async def markers(self, include_inactive: bool) -> list[node_pb2.FiledMarker]:
        with answered_by_hub():
            found = await self.hub.list_my_markers(include_inactive=include_inactive, timeout=HUB_TIMEOUT)
        records = {r["marker_id"]: r for r in self.store.records_of_kind(FILED_MARKER)}
        return [_view(m, records.get(m.marker_id, {})) for m in found]

    def _check_text(self, marker_id: str, text: str, field: str, max_chars: int) -> None:
        """``text`` (bound for the hub's log) is free of identifiers: by their shapes, and, for a
        marker filed here, the applicant's own in any spelling."""
        violations: list[FieldViolation] = []
        check_free_text(marker_id, "marker_id", violations, max_chars=MAX_MARKER_ID_CHARS, required=True)
        check_free_text(text, field, violations, max_chars=max_chars, required=True)
        record = _record(self.store, marker_id) if not violations else {}
        if record.get("application_id"):
            app = self.store.get_application(record["application_id"])
            own = OwnIdentifiers(stored_identifiers(app.identifiers), app.applicant_name)
            violations += own.violations([(field, text)])
        if violations:
            raise InvalidArgument(violations)

    async def withdraw(self, marker_id: str, reason: str, actor: str) -> node_pb2.FiledMarker:
        """Withdraws at the hub, then records who did it: the caller whose reason the hub kept
        (its first withdrawal's), else nobody here (a dispute resolution withdrew it, say)."""
        self._check_text(marker_id, reason, "reason", MAX_REASON_CHARS)
        async with self._locks.hold(marker_id):
            with answered_by_hub():
                marker = await self.hub.withdraw_marker(marker_id, reason, timeout=HUB_TIMEOUT)
            with self.store.transaction() as db:
                record = _record(self.store, marker_id) or {"marker_id": marker_id, "application_id": ""}
                if not record.get("withdrawn_by") and marker.withdraw_reason == reason:
                    record.update(withdrawn_by=actor, withdrawn_at=self.clock())
                    self.store.put_record_in(db, FILED_MARKER, marker_id, record["application_id"], record)
        fields = {"marker": marker_id, "application": record["application_id"], "by": actor}
        log.info("marker withdrawn", extra={"fields": fields})  # the reason stays in the stores
        return _view(marker, record)

    async def dispute(self, marker_id: str, statement: str, actor: str) -> common_pb2.Dispute:
        self._check_text(marker_id, statement, "subject_statement", MAX_STATEMENT_CHARS)
        with answered_by_hub():
            dispute = await self.hub.raise_dispute(marker_id, statement, timeout=HUB_TIMEOUT)
        fields = {"marker": marker_id, "dispute": dispute.dispute_id, "by": actor}
        log.info("marker disputed", extra={"fields": fields})
        return dispute

    async def disputes(self, include_resolved: bool) -> list[common_pb2.Dispute]:
        with answered_by_hub():
            return await self.hub.my_disputes(include_resolved=include_resolved, timeout=HUB_TIMEOUT)

    async def borrower_records(
        self, identifiers: node_pb2.Identifiers, request_ref: str, actor: str
    ) -> audit_pb2.SubjectAccessResponse:
        """The hub's markers and queries on the borrower's tokens (the identifiers stay here),
        under the reference of the borrower's own request, kept here with who asked."""
        violations: list[FieldViolation] = []
        check_free_text(request_ref, "request_ref", violations, max_chars=MAX_REQUEST_REF_CHARS, required=True)
        tokens: list[common_pb2.Token] = []
        try:
            tokens = await tokenise(identifiers, self.tokeniser)  # OPRF: KeyServiceUnavailable
        except InvalidIdentifiers as exc:  # none given is one of them
            violations += exc.violations()
        else:  # valid identifiers: look for them in the reference too, in any spelling
            if not violations:
                violations += OwnIdentifiers(identifiers).violations([("request_ref", request_ref)], "borrower")
        if violations:
            raise InvalidArgument(violations)
        at = self.clock()
        with self.store.transaction() as db:  # who read whose records, and under which request
            record = {"request_ref": request_ref, "by": actor, "at": at, "tokens": len(tokens)}
            self.store.put_record_in(db, BORROWER_RECORDS, new_id("sar"), "", record)
        log.info("borrower records read", extra={"fields": {"by": actor, "tokens": len(tokens)}})
        try:
            digest = consent_digest(self.consent_key, request_ref)
            return await self.audit.subject_access(tokens, request_ref=digest, timeout=HUB_TIMEOUT)
        except LianfangRpcError as error:
            if any(v.field == "tokens" for v in error.violations):  # the caller sent identifiers, not tokens
                limit = next(v.description for v in error.violations if v.field == "tokens")
                raise InvalidArgument.one(
                    "identifiers", f"too many at once: {len(tokens)} tokens, the hub takes {limit}"
                ) from error
            raise hub_error(error) from error
