"""Data subjects' disputes of markers: a fold of the consortium log, and the rules around it.

A dispute is raised through any member or an admin; while it is open the marker is DISPUTED.
Raised by an admin or by the marker's filer it *suspends* the marker (Check leaves it out,
rings stop counting it); raised by another member it only labels it (Check counts the hit as
disputed), or any lender could switch off any marker; an admin or the filer disputing it then
suspends the open dispute instead of opening another. The verification deadline is 20 days
(China's credit-reporting regulation); open disputes past it are flagged *overdue* to admins. An
admin resolves it: WITHDRAW the marker, CORRECT it (a replacement marker of another type or
reason, filed for the same filer), or UPHOLD it. Opening and resolving are log events, so every
replica knows which markers are disputed and the audit log holds every step.

A resolution logs its intent first (``resolving``), then writes the store, then logs itself. The
log orders intents: within ``INTENT_LEASE_SECONDS`` of one, a concurrent resolution's intent
is ignored by every replica's fold and that call is refused (ABORTED) before it touches the
store, so two admins cannot both withdraw or correct. If the last step is lost, the dispute is
still open and a retry finds the intent: it files the corrected marker once, and once the store
shows the intent's effect only the same resolution can finish it.

Events: ``["d", id, "open", marker_id, raised_by, opened_at, deadline, statement, suspends,
filer]`` (older entries have no ``suspends``: they suspend; nor ``filer``: looked up in the
store), ``["d", id, "suspend", by, at, statement]``,
``["d", id, "resolving", intent_id, resolution, by, at, corrected_marker_id, corrected_type,
corrected_reason]`` and ``["d", id, "resolve", resolution, resolved_by, resolved_at, note,
corrected_marker_id]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, consortium_pb2

from consortium.auth import ADMIN_PREFIX
from consortium.log_format import encode_event
from consortium.marker_log import publish_marker_state
from consortium.markers import NEGATIVE, PROTECTIVE, MarkerPolicy
from consortium.records import Marker
from consortium.rings import RingTracker, marker_change_event
from consortium.store.base import Store
from runtime.errors import Aborted, AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from runtime.identifier_text import MAX_REASON_CHARS, MAX_STATEMENT_CHARS, check_free_text, check_reason_code
from runtime.timestamps import to_timestamp

DEADLINE_SECONDS = 20 * 86_400.0


INTENT_LEASE_SECONDS = 30.0
"""How long a logged intent holds its dispute: longer than an admin call takes."""


@dataclass(frozen=True, slots=True)
class ResolutionIntent:
    """What a resolution set out to do, logged before it did it."""

    intent_id: str
    resolution: int
    by: str
    at: float
    corrected_marker_id: str  # CORRECT: the replacement's id, chosen up front; else ""
    corrected_type: int
    corrected_reason: str

    def same_resolution(self, other: ResolutionIntent) -> bool:
        return (self.resolution, self.corrected_type, self.corrected_reason) == (
            other.resolution,
            other.corrected_type,
            other.corrected_reason,
        )


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
    intent: ResolutionIntent | None = None  # the resolution that holds (or last held) the dispute
    filer: str = ""  # the disputed marker's filer ("" in entries from before it was logged)
    suspends: bool = True
    """While open, the marker has no effect in Check and rings: raised by an admin or by the
    marker's filer. Raised by another member it labels the marker DISPUTED and goes to the
    admin, but the marker keeps its effect (any lender could otherwise switch off any marker)."""

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
            suspends_marker=self.suspends,
        )


def suspend_event(dispute_id: str, by: str, at: float, statement: str) -> str:
    """An admin or the filer suspends the marker of a dispute another member raised."""
    return encode_event(["d", dispute_id, "suspend", by, at, statement])


def open_event(
    dispute_id: str, marker_id: str, raised_by: str, at: float, statement: str, suspends: bool, filer: str
) -> str:
    body = ["d", dispute_id, "open", marker_id, raised_by, at, at + DEADLINE_SECONDS, statement, suspends, filer]
    return encode_event(body)


def resolving_event(dispute_id: str, intent: ResolutionIntent) -> str:
    i = intent
    body = ["d", dispute_id, "resolving", i.intent_id, i.resolution, i.by, i.at]
    body += [i.corrected_marker_id, i.corrected_type, i.corrected_reason]
    return encode_event(body)


def resolve_event(dispute_id: str, resolution: int, by: str, at: float, note: str, corrected: str = "") -> str:
    body = ["d", dispute_id, "resolve", resolution, by, at, note, corrected]
    return encode_event(body)


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
            _, _, _, marker_id, raised_by, at, deadline, statement, *rest = decoded
            suspends = bool(rest[0]) if rest else True  # entries from before every dispute suspended
            filer = str(rest[1]) if len(rest) > 1 else ""
            d = Dispute(dispute_id, marker_id, raised_by, statement, at, deadline, suspends=suspends, filer=filer)
            self.disputes[dispute_id] = d
            self.open_by_marker.setdefault(marker_id, dispute_id)
        elif action == "suspend" and dispute_id in self.disputes and self.disputes[dispute_id].is_open:
            self.disputes[dispute_id] = replace(self.disputes[dispute_id], suspends=True)
        elif action == "resolving" and dispute_id in self.disputes and self.disputes[dispute_id].is_open:
            _, _, _, intent_id, resolution, by, at, corrected, corrected_type, corrected_reason = decoded
            intent = ResolutionIntent(
                str(intent_id),
                int(resolution),
                str(by),
                float(at),
                str(corrected),
                int(corrected_type),
                str(corrected_reason),
            )
            held = self.disputes[dispute_id].intent
            if held is None or intent.at >= held.at + INTENT_LEASE_SECONDS:  # else: a concurrent one lost
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
        """Labelled DISPUTED: a dispute of it is open."""
        return marker_id in self.open_by_marker

    def is_suspended(self, marker_id: str) -> bool:
        """Without effect in Check and rings meanwhile: its open dispute suspends it."""
        open_id = self.open_by_marker.get(marker_id)
        return open_id is not None and self.disputes[open_id].suspends

    def listed(self, include_resolved: bool) -> list[Dispute]:
        found = [d for d in self.disputes.values() if include_resolved or d.is_open]
        return sorted(found, key=lambda d: (d.opened_at, d.dispute_id))


# -- the actions (shared by ConsortiumService.RaiseDispute and the AdminService) -------------
def _statement(text: str, field: str) -> None:
    """A statement or note goes into the append-only consortium log, for good: never an identifier."""
    violations: list[FieldViolation] = []
    check_free_text(text, field, violations, max_chars=MAX_STATEMENT_CHARS, required=True)
    if violations:
        raise InvalidArgument(violations)


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
    suspends = by.startswith(ADMIN_PREFIX) or by == marker.filer_member_id
    if book.is_disputed(marker_id):
        open_id = book.open_by_marker[marker_id]
        if not suspends or book.is_suspended(marker_id):
            raise FailedPrecondition(f"the marker is already disputed ({open_id})")
        # another member's dispute labels it; the admin or the filer suspends it meanwhile
        await log.publish([suspend_event(open_id, by, now, statement)])
        await publish_marker_state(log, store, book, [marker.token_key], now)
        return book.disputes[open_id]
    dispute_id = "dp_" + secrets.token_hex(10)
    await log.publish([open_event(dispute_id, marker_id, by, now, statement, suspends, marker.filer_member_id)])
    if suspends:
        await publish_marker_state(log, store, book, [marker.token_key], now)
    return book.disputes[dispute_id]


async def dispute_response(
    store: Store, log: RingTracker, book: DisputeBook, request: consortium_pb2.RaiseDisputeRequest, by: str, now: float
) -> consortium_pb2.DisputeResponse:
    """``raise_dispute`` as both RaiseDispute (members) and OpenDispute (admins) answer it."""
    dispute = await raise_dispute(store, log, book, request.marker_id, request.subject_statement, by, now)
    return consortium_pb2.DisputeResponse(dispute=dispute.message(now))


def _withdrawal_tag(dispute_id: str, intent: ResolutionIntent) -> str:
    """How a resolution's withdrawal reason of the disputed marker begins: it names the intent,
    so a retry can tell this intent's withdrawal from any other."""
    return f"dispute {dispute_id} ({intent.intent_id}):"


async def _begun(store: Store, dispute: Dispute, marker: Marker | None) -> ResolutionIntent | None:
    """The dispute's intent if the store shows its effect (the disputed marker withdrawn by it,
    or its replacement filed), else None: an intent that changed nothing binds no one once its
    lease is over."""
    intent = dispute.intent
    if intent is None:
        return None
    tag = _withdrawal_tag(dispute.dispute_id, intent)
    withdrawn_by_it = marker is not None and marker.withdrawn_at is not None and marker.withdraw_reason.startswith(tag)
    filed = bool(intent.corrected_marker_id) and await store.get_marker(intent.corrected_marker_id) is not None
    return intent if withdrawn_by_it or filed else None


async def _hold(log: RingTracker, book: DisputeBook, dispute_id: str, intent: ResolutionIntent) -> None:
    """Logs ``intent`` and checks that it holds the dispute: the log's order decides between
    concurrent resolutions, on every replica alike."""
    await log.publish([resolving_event(dispute_id, intent)])
    now_held = book.disputes[dispute_id]
    if not now_held.is_open:
        raise FailedPrecondition("the dispute was resolved meanwhile")
    held = now_held.intent
    if held is None or held.intent_id != intent.intent_id:
        by = held.by if held is not None else "another admin"
        raise Aborted(f"{by} is resolving this dispute; look again once that resolution is logged")


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
        check_reason_code(request.corrected_reason_code, "corrected_reason_code", violations)
        if violations:
            raise InvalidArgument(violations)
    await log.catch_up()
    dispute = book.disputes.get(request.dispute_id)
    if dispute is None:
        raise NotFound(f"dispute {request.dispute_id!r} not found")
    if not dispute.is_open:
        raise FailedPrecondition("the dispute is already resolved")
    wanted = ResolutionIntent(
        "i_" + secrets.token_hex(8),
        request.resolution,
        by,
        now,
        "mk_" + secrets.token_hex(10) if correct else "",
        request.corrected_marker_type if correct else 0,
        request.corrected_reason_code if correct else "",
    )
    marker = await store.get_marker(dispute.marker_id)
    begun = await _begun(store, dispute, marker)
    if begun is not None and not begun.same_resolution(wanted):
        name = common_pb2.DisputeResolution.Name(begun.resolution).removeprefix("DISPUTE_RESOLUTION_")
        raise FailedPrecondition(
            f"an earlier {name} of this dispute changed the blacklist before its resolution was logged: "
            "resolve it the same way to finish it"
        )
    if begun is None:
        if marker is None and correct:  # purged meanwhile (it expired): nothing left to correct
            raise FailedPrecondition("the disputed marker has expired and been purged: nothing to correct")
        if (
            marker is not None
            and correct
            and request.corrected_marker_type == common_pb2.MARKER_TYPE_CONFIRMED_FRAUD
            and not marker.evidence_level
        ):
            raise FailedPrecondition("confirmed fraud needs evidence, which the disputed marker did not have")
        await _hold(log, book, dispute.dispute_id, wanted)  # logged before the store is written
    # else: a retry, after an attempt whose resolution the log lost: finish what it began
    intent = begun or wanted
    if marker is not None:
        if intent.resolution != common_pb2.DISPUTE_RESOLUTION_UPHOLD and marker.withdrawn_at is None:
            reason = f"{_withdrawal_tag(dispute.dispute_id, intent)} {request.note}"[:MAX_REASON_CHARS]
            await store.withdraw_marker(marker.marker_id, now, reason)
        if intent.corrected_marker_id:
            replacement = dataclasses.replace(
                marker,
                marker_id=intent.corrected_marker_id,
                marker_type=intent.corrected_type,
                reason_code=intent.corrected_reason,
                filed_at=now,
                expires_at=marker_policy.expires_at(intent.corrected_type, marker.event_ended_at),
                case_ref=marker.case_ref,
                withdrawn_at=None,
                withdraw_reason="",
            )
            with contextlib.suppress(AlreadyExists):  # filed by the attempt that logged the intent
                await store.add_marker(replacement)
    corrected = intent.corrected_marker_id
    resolved = [resolve_event(dispute.dispute_id, request.resolution, by, now, request.note, corrected)]
    if marker is not None and intent.resolution == common_pb2.DISPUTE_RESOLUTION_WITHDRAW:
        # withdrawn as wrong: audited as a withdrawal, and no longer the filer's contribution
        withdrawn = await store.get_marker(marker.marker_id) or marker
        resolved.append(marker_change_event("withdraw", withdrawn, now))
    await log.publish(resolved)
    subjects = [m.token_key for m in (marker, await store.get_marker(corrected) if corrected else None) if m]
    await publish_marker_state(log, store, book, list(dict.fromkeys(subjects)), now)
    return book.disputes[dispute.dispute_id]
