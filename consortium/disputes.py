"""Data subjects' disputes of markers: a fold of the consortium log, and the rules around it.

A dispute is raised through any member or an admin; while it is open the marker is DISPUTED and
has no effect (Check leaves it out, rings stop counting it). The verification deadline is 20 days
(China's credit-reporting regulation); open disputes past it are flagged *overdue* to admins. An
admin resolves it: WITHDRAW the marker, CORRECT it (a replacement marker of another type or
reason, filed for the same filer), or UPHOLD it. Opening and resolving are log events, so every
replica knows which markers are disputed and the audit log holds every step. A resolution that
changes the blacklist logs its intent first (``resolving``), then writes the store, then logs
the resolution: if the last step is lost, the dispute is still open and a retry finds the intent,
so it files the corrected marker once and cannot be turned into another resolution once the
first one has changed the store.

Events: ``["d", id, "open", marker_id, raised_by, opened_at, deadline, statement]``,
``["d", id, "resolving", resolution, by, at, corrected_marker_id, corrected_type, corrected_reason]``
and ``["d", id, "resolve", resolution, resolved_by, resolved_at, note, corrected_marker_id]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, consortium_pb2

from consortium.marker_log import publish_marker_state
from consortium.markers import NEGATIVE, PROTECTIVE, REASON_CODE, MarkerPolicy
from consortium.records import Marker
from consortium.rings import RingTracker
from consortium.store.base import Store
from runtime.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from runtime.timestamps import to_timestamp

DEADLINE_SECONDS = 20 * 86_400.0


@dataclass(frozen=True, slots=True)
class ResolutionIntent:
    """What a resolution that changes the blacklist set out to do, logged before it did it."""

    resolution: int
    corrected_marker_id: str  # CORRECT: the replacement's id, chosen up front; else ""
    corrected_type: int
    corrected_reason: str


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: str
    marker_id: str
    raised_by: str
    statement: str
    opened_at: float
    deadline: float
    resolution: int = 0  # lianfang.v1.DisputeResolution; 0 while open
    resolved_by: str = ""
    resolved_at: float | None = None
    note: str = ""
    corrected_marker_id: str = ""
    intent: ResolutionIntent | None = None  # the latest resolution begun while open

    @property
    def is_open(self) -> bool:
        return self.resolution == 0

    def message(self, now: float) -> common_pb2.Dispute:
        stamp: Timestamp | None = None if self.resolved_at is None else to_timestamp(self.resolved_at)
        return common_pb2.Dispute(
            dispute_id=self.dispute_id,
            marker_id=self.marker_id,
            raised_by=self.raised_by,
            subject_statement=self.statement,
            opened_at=to_timestamp(self.opened_at),
            deadline=to_timestamp(self.deadline),
            overdue=self.is_open and now > self.deadline,
            resolution=self.resolution,
            resolved_at=stamp,
            resolution_note=self.note,
            corrected_marker_id=self.corrected_marker_id,
        )


def open_event(dispute_id: str, marker_id: str, raised_by: str, at: float, statement: str) -> str:
    body = ["d", dispute_id, "open", marker_id, raised_by, at, at + DEADLINE_SECONDS, statement]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def resolving_event(dispute_id: str, intent: ResolutionIntent, by: str, at: float) -> str:
    body = [
        "d",
        dispute_id,
        "resolving",
        intent.resolution,
        by,
        at,
        intent.corrected_marker_id,
        intent.corrected_type,
        intent.corrected_reason,
    ]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def resolve_event(dispute_id: str, resolution: int, by: str, at: float, note: str, corrected: str = "") -> str:
    body = ["d", dispute_id, "resolve", resolution, by, at, note, corrected]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class DisputeBook:
    """Every dispute, and which markers are disputed now (a ``RingTracker`` observer)."""

    def __init__(self) -> None:
        self.disputes: dict[str, Dispute] = {}
        self.open_by_marker: dict[str, str] = {}  # marker id -> its open dispute

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded or decoded[0] != "d":
            return
        dispute_id, action = str(decoded[1]), decoded[2]
        if action == "open" and dispute_id not in self.disputes:
            _, _, _, marker_id, raised_by, at, deadline, statement = decoded
            self.disputes[dispute_id] = Dispute(dispute_id, marker_id, raised_by, statement, at, deadline)
            self.open_by_marker.setdefault(marker_id, dispute_id)
        elif action == "resolving" and dispute_id in self.disputes and self.disputes[dispute_id].is_open:
            _, _, _, resolution, _, _, corrected, corrected_type, corrected_reason = decoded
            intent = ResolutionIntent(int(resolution), str(corrected), int(corrected_type), str(corrected_reason))
            self.disputes[dispute_id] = replace(self.disputes[dispute_id], intent=intent)
        elif action == "resolve" and dispute_id in self.disputes and self.disputes[dispute_id].is_open:
            _, _, _, resolution, by, at, note, corrected = decoded
            d = replace(
                self.disputes[dispute_id],
                resolution=int(resolution),
                resolved_by=by,
                resolved_at=float(at),
                note=note,
                corrected_marker_id=corrected,
            )
            self.disputes[dispute_id] = d
            if self.open_by_marker.get(d.marker_id) == dispute_id:
                del self.open_by_marker[d.marker_id]

    def is_disputed(self, marker_id: str) -> bool:
        return marker_id in self.open_by_marker

    def listed(self, include_resolved: bool) -> list[Dispute]:
        found = [d for d in self.disputes.values() if include_resolved or d.is_open]
        return sorted(found, key=lambda d: (d.opened_at, d.dispute_id))


# -- the actions (shared by ConsortiumService.RaiseDispute and the AdminService) -------------
def _statement(text: str, field: str) -> None:
    if not 1 <= len(text) <= 2000:
        raise InvalidArgument.one(field, "1..2000 characters")


async def raise_dispute(
    store: Store, log: RingTracker, book: DisputeBook, marker_id: str, statement: str, by: str, now: float
) -> Dispute:
    _statement(statement, "subject_statement")
    if not marker_id:
        raise InvalidArgument.one("marker_id", "is required")
    await log.catch_up()
    marker = await store.get_marker(marker_id)
    if marker is None:
        raise NotFound(f"marker {marker_id!r} not found")
    if not marker.is_active(now):
        raise FailedPrecondition("only a marker in force can be disputed (it is withdrawn or expired)")
    if book.is_disputed(marker_id):
        raise FailedPrecondition(f"the marker is already disputed ({book.open_by_marker[marker_id]})")
    dispute_id = "dp_" + secrets.token_hex(10)
    await log.publish([open_event(dispute_id, marker_id, by, now, statement)])
    await publish_marker_state(log, store, book, [marker.token_key], now)
    return book.disputes[dispute_id]


async def dispute_response(
    store: Store, log: RingTracker, book: DisputeBook, request: consortium_pb2.RaiseDisputeRequest, by: str, now: float
) -> consortium_pb2.DisputeResponse:
    """``raise_dispute`` as both RaiseDispute (members) and OpenDispute (admins) answer it."""
    dispute = await raise_dispute(store, log, book, request.marker_id, request.subject_statement, by, now)
    return consortium_pb2.DisputeResponse(dispute=dispute.message(now))


async def _begun(store: Store, dispute: Dispute, marker: Marker) -> ResolutionIntent | None:
    """The dispute's logged intent if the store shows its effect (the disputed marker withdrawn
    by this dispute, or the replacement filed), else None: an intent that changed nothing
    binds no one."""
    intent = dispute.intent
    if intent is None:
        return None
    withdrawn_here = marker.withdrawn_at is not None and marker.withdraw_reason.startswith(
        f"dispute {dispute.dispute_id}:"
    )
    filed = bool(intent.corrected_marker_id) and await store.get_marker(intent.corrected_marker_id) is not None
    return intent if withdrawn_here or filed else None


async def resolve_dispute(
    store: Store,
    log: RingTracker,
    book: DisputeBook,
    request: consortium_pb2.ResolveDisputeRequest,
    by: str,
    now: float,
    marker_policy: MarkerPolicy,
) -> Dispute:
    _statement(request.note, "note")
    resolutions = {
        common_pb2.DISPUTE_RESOLUTION_WITHDRAW,
        common_pb2.DISPUTE_RESOLUTION_CORRECT,
        common_pb2.DISPUTE_RESOLUTION_UPHOLD,
    }
    if request.resolution not in resolutions:
        raise InvalidArgument.one("resolution", "WITHDRAW, CORRECT or UPHOLD")
    correct = request.resolution == common_pb2.DISPUTE_RESOLUTION_CORRECT
    if correct:
        violations = []
        if request.corrected_marker_type not in NEGATIVE | PROTECTIVE:
            violations.append(FieldViolation("corrected_marker_type", "a marker type is required for CORRECT"))
        if not REASON_CODE.match(request.corrected_reason_code):
            violations.append(FieldViolation("corrected_reason_code", "upper-case [A-Z0-9_], 2..40"))
        if violations:
            raise InvalidArgument(violations)
    await log.catch_up()
    dispute = book.disputes.get(request.dispute_id)
    if dispute is None:
        raise NotFound(f"dispute {request.dispute_id!r} not found")
    if not dispute.is_open:
        raise FailedPrecondition("the dispute is already resolved")
    marker = await store.get_marker(dispute.marker_id)
    if marker is None:  # purged meanwhile (it expired): nothing left to withdraw or correct
        if correct:
            raise FailedPrecondition("the disputed marker has expired and been purged: nothing to correct")
        await log.publish([resolve_event(dispute.dispute_id, request.resolution, by, now, request.note)])
        return book.disputes[dispute.dispute_id]
    if (
        correct
        and request.corrected_marker_type == common_pb2.MARKER_TYPE_CONFIRMED_FRAUD
        and not marker.evidence_level
    ):
        raise FailedPrecondition("confirmed fraud needs evidence, which the disputed marker did not have")
    reason = f"dispute {dispute.dispute_id}: {request.note}"[:500]
    takes_it_down = request.resolution in (
        common_pb2.DISPUTE_RESOLUTION_WITHDRAW,
        common_pb2.DISPUTE_RESOLUTION_CORRECT,
    )
    wanted = ResolutionIntent(
        request.resolution,
        "",
        request.corrected_marker_type if correct else 0,
        request.corrected_reason_code if correct else "",
    )
    begun = await _begun(store, dispute, marker)
    if begun is not None and replace(begun, corrected_marker_id="") != wanted:
        name = common_pb2.DisputeResolution.Name(begun.resolution).removeprefix("DISPUTE_RESOLUTION_")
        raise FailedPrecondition(
            f"an earlier {name} of this dispute changed the blacklist before its resolution was logged: "
            "resolve it the same way to finish it"
        )
    intent = begun
    if takes_it_down and intent is None:  # logged before the store is written: a retry finds it
        intent = replace(wanted, corrected_marker_id="mk_" + secrets.token_hex(10) if correct else "")
        await log.publish([resolving_event(dispute.dispute_id, intent, by, now)])
    corrected = intent.corrected_marker_id if intent is not None else ""
    if takes_it_down and marker.withdrawn_at is None:
        await store.withdraw_marker(marker.marker_id, now, reason)
    if corrected:
        replacement = dataclasses.replace(
            marker,
            marker_id=corrected,
            marker_type=request.corrected_marker_type,
            reason_code=request.corrected_reason_code,
            filed_at=now,
            expires_at=marker_policy.expires_at(request.corrected_marker_type, marker.event_ended_at),
            case_ref=marker.case_ref,
            withdrawn_at=None,
            withdraw_reason="",
        )
        with contextlib.suppress(AlreadyExists):  # filed by the attempt that logged the intent
            await store.add_marker(replacement)
    await log.publish([resolve_event(dispute.dispute_id, request.resolution, by, now, request.note, corrected)])
    await publish_marker_state(log, store, book, [marker.token_key], now)
    return book.disputes[dispute.dispute_id]
