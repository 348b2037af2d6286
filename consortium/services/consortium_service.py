"""ConsortiumService: Check, BatchCheck, ReportOutcome and the member's blacklist markers."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from consortium import wire
from consortium.aliases import AliasBook, alias_event, conflict_event, pairs_in
from consortium.auth import ADMIN_PREFIX
from consortium.disputes import DisputeBook, dispute_response
from consortium.key_book import KeyBook, KeyEpochs
from consortium.log_format import encode_event
from consortium.marker_log import publish_marker_state
from consortium.markers import NEGATIVE, MarkerPolicy, blacklist_answer, marker_message, validate_filing
from consortium.records import YEAR, ApplicationRecord, CheckSnapshot, Marker, token_key, token_type_of
from consortium.ring_messages import fill_ring, ring_reasons_wire
from consortium.rings import (
    RingTracker,
    RingView,
    application_event_body,
    marker_change_event,
    marker_event,
    outcome_event,
)
from consortium.services.watch_service import WatchRpcs
from consortium.stacking import SHAREABLE, stacking_wire
from consortium.stacking_index import TypeCounts
from consortium.store.base import LogCursor, Store
from consortium.usage import EntitlementRefused, UsageGuard
from consortium.validation import (
    batch_check_request,
    check_epoch,
    check_ref,
    check_request,
    check_timestamp,
    check_token,
)
from consortium.watch import WatchBook
from runtime.clock import Clock
from runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    LianfangError,
    NotFound,
    PermissionDenied,
)
from runtime.identifier_text import MAX_REASON_CHARS, check_free_text
from runtime.interceptors import current_call
from runtime.timestamps import from_timestamp, to_timestamp

log = logging.getLogger("lianfang.hub.check")

MAX_FUTURE_SKEW = 24 * 3600.0
MAX_OUTCOME_BEFORE_CHECK = 2 * YEAR
MAX_LINKS = 1000


@dataclass(slots=True)
class EpochLinks:
    """What a Check's tokens under two key epochs say (``consortium.aliases``)."""

    new: list[tuple[str, str]] = field(default_factory=list)
    """(newer, older) pairs to link."""
    contradicted: list[tuple[str, str, str]] = field(default_factory=list)
    """(newer, older, linked instead) pairs against links already made."""


def request_token_keys(request: consortium_pb2.CheckRequest) -> list[str]:
    """The request's token keys as given (before aliasing to canonical epochs)."""
    return [token_key(t.scheme, t.type, t.epoch, t.value) for t in request.tokens]


def application_record(
    caller: str, request: consortium_pb2.CheckRequest, now: float, token_keys: tuple[str, ...]
) -> ApplicationRecord:
    """The application a Check records: ``caller``'s request received at ``now``."""
    return ApplicationRecord(
        member_id=caller,
        application_ref=request.application_ref,
        received_at=now,
        token_keys=token_keys,
        applicant_kind=request.applicant_kind,
        product_category=request.product_category,
        consent_ref=request.consent_ref,
    )


def _require_consent(request: consortium_pb2.CheckRequest, now: float, where: str = "") -> None:
    """A query needs the borrower's authorisation in force (PIPL; DESIGN.md "Consent and purpose")."""
    ends = from_timestamp(request.consent_expires_at, now)
    if ends <= now:
        raise FailedPrecondition(f"{where}the borrower's authorisation has expired (consent_expires_at is past)")


LOG_FRESH_SECONDS = 1.0
"""A request's key epochs are judged by a fold of the log at most this old (``_validate``)."""

_REF = wire.key(1, 2)
_NEWLY_RECORDED = wire.key(2, 0) + b"\x01"
_BLACKLIST = wire.key(4, 2)
_CHECKED_AT = wire.key(6, 2)


def _answer(
    app: ApplicationRecord,
    snapshot: CheckSnapshot,
    stacking: list[TypeCounts],
    shared: set[int],
    view: RingView | None,
    *,
    checked_at: bytes,
    disputes: DisputeBook,
    now: float,
) -> bytes:
    """The ``CheckResponse`` but its ``ring`` as wire bytes (``consortium.wire``): stacking per
    token type, blacklist hits, and the reasons in this order: blacklist, stacking, shared
    identifiers, ring. A marker an open dispute suspends has no effect; one it only labels counts,
    as disputed. (The ring's own fields are
    set through the protobuf API, ``fill_ring``: as fast as Python writing their bytes.)"""
    stacking_entries, reasons = stacking_wire(stacking, shared)
    newly_recorded = _NEWLY_RECORDED if snapshot.newly_recorded else b""
    parts = [wire.text(_REF, app.application_ref), newly_recorded, stacking_entries]
    if snapshot.markers:
        live = (m for ms in snapshot.markers.values() for m in ms if not disputes.is_suspended(m.marker_id))
        hits, marker_reasons = blacklist_answer(live, now, disputes.is_disputed)
        parts.extend(wire.length_delimited(_BLACKLIST, hit.SerializeToString()) for hit in hits)
        parts.extend(wire.length_delimited(wire.REASONS, r.SerializeToString()) for r in marker_reasons)
    parts.extend(reasons)
    if view is not None:
        parts.extend(ring_reasons_wire(view))
    parts.append(checked_at)
    return b"".join(parts)


def _shared_types(app: ApplicationRecord, rings: RingTracker) -> set[int]:
    """The application's phone, device, e-mail and account types that several different
    applicants gave: shared, not stacked (``stacking.SHAREABLE``)."""
    window_of_type, window_token, at = rings.policy.window_of_type, rings.policy.window_token, app.received_at
    return {
        token_type
        for key in app.token_keys
        if (token_type := token_type_of(key)) in SHAREABLE
        and rings.shared_by_several(window_token(key, at, window_of_type(token_type)))
    }


REUSED_REFERENCE = common_pb2.Reason(
    code="REUSED_REFERENCE",
    detail="this application_ref was first checked with other identifiers: the answer is about those; "
    "a new application needs a new application_ref",
)
"""Said in the answer to a reference sent again with other tokens of the same key."""


def keyings(keys: list[str] | tuple[str, ...]) -> set[tuple[str, str]]:
    """The (scheme, epoch) of token keys (``scheme.type.epoch.value``): tokens made with one
    key are comparable, whatever their type."""
    return {(parts[0], parts[2]) for parts in (key.split(".", 3) for key in keys)}


class ConsortiumServicer(WatchRpcs, consortium_pb2_grpc.ConsortiumServiceServicer):
    def __init__(
        self,
        store: Store,
        clock: Clock,
        marker_policy: MarkerPolicy | None = None,
        rings: RingTracker | None = None,
        usage: UsageGuard | None = None,
        disputes: DisputeBook | None = None,
        keys: KeyBook | None = None,
        aliases: AliasBook | None = None,
        watches: WatchBook | None = None,
    ) -> None:
        self.watches = watches if watches is not None else WatchBook()
        self.keys = keys if keys is not None else KeyBook()
        self.aliases = aliases if aliases is not None else AliasBook()
        self.store = store
        self.clock = clock
        self.marker_policy = marker_policy or MarkerPolicy()
        self.rings = rings if rings is not None else RingTracker(store)
        self.usage = usage if usage is not None else UsageGuard()
        self.disputes = disputes if disputes is not None else DisputeBook()

    def _answer_in_log_order(
        self,
        apps: list[ApplicationRecord],
        snapshots: list[CheckSnapshot],
        responses: list[consortium_pb2.CheckResponse],
        events: list[str],
        bodies: list[list[Any]],
        entries: list[tuple[LogCursor, str]],
        now: float,
    ) -> None:
        """Folds the log entries the store returned and answers each application right after
        its own event is folded: its stacking and its ring count every application logged
        before it, so a batch is answered as if sent one Check at a time. (Concurrent Checks
        whose replies arrive out of log order may already have folded later entries: those
        count too, as for rings; stacking ignores applications received after ``now``.)

        A retried Check links and counts nothing new (the first recording stands, as in the
        store). An application that links to no other has no ring in its answer. ``bodies``:
        ``events`` decoded (``application_event_body``), folded without parsing their text."""
        rings, disputes = self.rings, self.disputes
        window_counts = rings.stacking.window_counts
        checked_at = wire.timestamp(_CHECKED_AT, now)
        pending: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            pending.setdefault(event, []).append(i)

        def answer(i: int) -> None:
            app = apps[i]
            stacking = window_counts(app.token_keys, app.member_id, now)
            view = rings.linked_view(app.member_id, app.application_ref)
            shared = _shared_types(app, rings)
            encoded = _answer(
                app, snapshots[i], stacking, shared, view, checked_at=checked_at, disputes=disputes, now=now
            )
            response = responses[i]
            response.MergeFromString(encoded)
            if view is not None:
                fill_ring(response.ring, view)

        decoded = dict(zip(events, bodies, strict=True))
        for entry in entries:
            rings.apply((entry,), decoded)
            for i in pending.pop(entry[1], ()):
                answer(i)
        for waiting in pending.values():  # never expected: the store returns every entry after ours
            for i in waiting:
                log.warning(
                    "a Check's own log entry was not returned by the store; answered from the folds as they are"
                )
                answer(i)

    async def _check(self, caller: str, request: consortium_pb2.CheckRequest) -> consortium_pb2.CheckResponse:
        now = self.clock()
        _require_consent(request, now)
        try:
            admission: AbstractContextManager[None] = self.usage.admitted(caller, 1, now)
        except EntitlementRefused as refused:
            admission = await self._retries_admitted(caller, [request.application_ref], now, refused)
        with admission:
            links = EpochLinks()
            app = self._application(caller, request, now, links)
            bodies = [application_event_body(app, self.rings.policy)]
            events = [encode_event(body) for body in bodies]
            logged = self._link_events(caller, links, now) + events
            read_at = time.monotonic()
            snapshots, entries = await self.store.record_logged([app], logged, self.rings.cursor)
            apps, reused = await self._as_first_recorded([app], snapshots)
            response = consortium_pb2.CheckResponse()
            self._answer_in_log_order(apps, snapshots, [response], events, bodies, entries, now)
            if reused:
                response.reasons.append(REUSED_REFERENCE)
            self.rings.read_at = max(self.rings.read_at, read_at)
        return response

    async def _retries_admitted(
        self, caller: str, refs: list[str], now: float, refused: LianfangError
    ) -> AbstractContextManager[None]:
        """The admission of Checks the daily quota or give-to-get ``refused``, counting only the
        new ones against them: a retry (its reference already recorded) counts nothing there, so
        a node whose reply was lost gets its answer after the quota is used. Every Check still
        counts against the rate limit. Read only when refused: the common path pays nothing."""
        new = [ref for ref in dict.fromkeys(refs) if await self.store.get_application(caller, ref) is None]
        if len(new) == len(refs):
            raise refused
        return self.usage.admitted(caller, len(refs), now, new=len(new))

    async def _as_first_recorded(
        self, apps: list[ApplicationRecord], snapshots: list[CheckSnapshot]
    ) -> tuple[list[ApplicationRecord], list[int]]:
        """The applications to answer for, and which of them reused their reference. A retry
        counts once in quotas, give-to-get and query transparency, so a reused
        ``application_ref`` must not look anyone else up: a retry carrying other tokens than the
        ones first recorded under its reference is answered for those first ones (``snapshots``
        get their markers). One whose tokens are of the keys it was first recorded under is a
        reused reference (the answer says so: ``REUSED_REFERENCE``); one whose tokens are all of
        other keys is a retry re-tokenised after a key rotation. (Refusing the reuse is not
        possible without a write: its Check was recorded and logged before it is known.)"""
        differing = [
            i
            for i, snapshot in enumerate(snapshots)
            if not snapshot.newly_recorded and set(snapshot.token_keys) != set(apps[i].token_keys)
        ]
        if not differing:
            return apps, []
        reused = [i for i in differing if keyings(snapshots[i].token_keys) & keyings(apps[i].token_keys)]
        markers = await self.store.markers_for_tokens([k for i in differing for k in snapshots[i].token_keys])
        apps = list(apps)
        for i in differing:
            first = snapshots[i].token_keys
            apps[i] = replace(apps[i], token_keys=first)
            snapshots[i] = replace(snapshots[i], markers={k: list(markers[k]) for k in first if k in markers})
        return apps, reused

    def _application(
        self, caller: str, request: consortium_pb2.CheckRequest, now: float, links: EpochLinks
    ) -> ApplicationRecord:
        """The application under canonical token keys (``consortium.aliases``); notes in
        ``links`` the epoch pairs this request teaches the hub, and those contradicting links."""
        keys = request_token_keys(request)
        pairs = pairs_in(keys)
        if pairs:  # a rotation's overlap
            links.new.extend(self.aliases.unknown(pairs))
            links.contradicted.extend(self.aliases.contradicted(pairs))
        return application_record(caller, request, now, self.aliases.canonical_keys(keys, pairs))

    def _link_events(self, caller: str, links: EpochLinks, now: float) -> list[str]:
        """The log entries a Check's epoch pairs make: the new links, and the pairings that
        contradict links already made (``aliases.conflict_event``), for the admins."""
        events = [alias_event(links.new)] if links.new else []
        if links.contradicted:
            log.warning(
                "a Check paired key epochs against links made before",
                extra={"fields": {"member": caller, "pairs": len(links.contradicted)}},
            )
            events.append(conflict_event(caller, links.contradicted, now))
        return events

    async def _validate(self, violations_of: Callable[[KeyEpochs | None], list[FieldViolation]]) -> None:
        """Raises the request's violations, ``violations_of(the hub's key epochs)``. A refused
        epoch is looked at again after catching up with the log: another replica may have
        created it since this one last folded."""
        known = self.keys.in_use
        if (known is not None and known.rekeying) or time.monotonic() - self.rings.read_at > LOG_FRESH_SECONDS:
            # key epochs change in other processes (an OPRF re-keying, another replica's admin): a
            # busy hub reads the log with every Check anyway; an idle one, or one mid re-keying,
            # reads it before judging a request's epochs
            await self.rings.catch_up()
            known = self.keys.in_use
        violations = violations_of(known)
        if known is not None and any(v.field.endswith(("epoch", "tokens")) for v in violations):
            await self.rings.catch_up()
            if self.keys.in_use is not known:  # a key epoch created or retired meanwhile: look again
                violations = violations_of(self.keys.in_use)
        if violations:
            raise InvalidArgument(violations)

    async def Check(
        self, request: consortium_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.CheckResponse:
        await self._validate(lambda epochs: check_request(request, epochs=epochs))
        return await self._check(current_call().principal, request)

    async def BatchCheck(
        self, request: consortium_pb2.BatchCheckRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.BatchCheckResponse:
        """The batch is received at one instant and answered as if its Checks had been sent one
        after the other in request order (``Store.record_logged``, then the log's folds)."""
        await self._validate(lambda epochs: batch_check_request(request, epochs=epochs))
        caller = current_call().principal
        now = self.clock()
        for i, check in enumerate(request.checks):
            _require_consent(check, now, f"checks[{i}]: ")
        try:
            admission: AbstractContextManager[None] = self.usage.admitted(caller, len(request.checks), now)
        except EntitlementRefused as refused:
            admission = await self._retries_admitted(caller, [c.application_ref for c in request.checks], now, refused)
        with admission:
            links = EpochLinks()
            apps = [self._application(caller, check, now, links) for check in request.checks]
            bodies = [application_event_body(app, self.rings.policy) for app in apps]
            events = [encode_event(body) for body in bodies]
            logged = self._link_events(caller, links, now) + events
            read_at = time.monotonic()
            snapshots, entries = await self.store.record_logged(apps, logged, self.rings.cursor)
            apps, reused = await self._as_first_recorded(apps, snapshots)
            batch = consortium_pb2.BatchCheckResponse()
            add = batch.results.add
            responses = [add() for _ in apps]
            self._answer_in_log_order(apps, snapshots, responses, events, bodies, entries, now)
            for i in reused:
                responses[i].reasons.append(REUSED_REFERENCE)
            self.rings.read_at = max(self.rings.read_at, read_at)
        return batch

    async def ReportOutcome(
        self, request: consortium_pb2.ReportOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ReportOutcomeResponse:
        violations: list[FieldViolation] = []
        check_ref(request.application_ref, "application_ref", violations)
        if request.outcome not in common_pb2.Outcome.values() or request.outcome == 0:
            violations.append(FieldViolation("outcome", "unknown or unspecified outcome"))
        check_timestamp(request.occurred_at, "occurred_at", violations)
        if violations:
            raise InvalidArgument(violations)
        now = self.clock()
        caller = current_call().principal
        occurred = from_timestamp(request.occurred_at, now)
        app = await self.store.get_application(caller, request.application_ref)
        if app is None:
            raise NotFound(f"application {request.application_ref!r} was never checked by this member")
        # A day of clock skew ahead; behind, two years: a node's outbox may deliver the Check
        # itself long after the decision it reports (a dead letter retried by hand), and
        # received_at is the hub's. What is refused is a wrong clock (1970) or a bug.
        if not app.received_at - MAX_OUTCOME_BEFORE_CHECK <= occurred <= now + MAX_FUTURE_SKEW:
            when = "is in the future" if occurred > now else "is over two years before the application was checked"
            raise InvalidArgument.one("occurred_at", when)
        await self.store.set_outcome(caller, request.application_ref, request.outcome, occurred)
        # Every outcome is logged: a contribution (give-to-get) and, for defaults and confirmed
        # fraud, a ring fact.
        await self.rings.publish([outcome_event(caller, request.application_ref, request.outcome, now)])
        return consortium_pb2.ReportOutcomeResponse()

    async def FileMarker(
        self, request: consortium_pb2.FileMarkerRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.FileMarkerResponse:
        violations = validate_filing(request)
        if not request.HasField("token"):
            violations.append(FieldViolation("token", "is required"))
        else:
            check_token(request.token, "token", violations)
        now = self.clock()
        check_timestamp(request.event_ended_at, "event_ended_at", violations)
        check_ref(request.application_ref, "application_ref", violations, required=False)
        ended = from_timestamp(request.event_ended_at, now)
        expires = self.marker_policy.expires_at(request.marker_type, ended)
        if ended > now + MAX_FUTURE_SKEW:
            violations.append(FieldViolation("event_ended_at", "is in the future"))
        elif expires is not None and expires <= now:
            violations.append(FieldViolation("event_ended_at", "the marker would already have expired"))
        if violations:
            raise InvalidArgument(violations)
        await self.rings.catch_up()  # links learned on other replicas decide the canonical key
        epoch_refused: list[FieldViolation] = []
        check_epoch(request.token, self.keys.in_use, "token", epoch_refused)
        if epoch_refused:
            raise InvalidArgument(epoch_refused)
        t = request.token
        marker = Marker(
            marker_id="mk_" + secrets.token_hex(10),
            filer_member_id=current_call().principal,
            token_key=self.aliases.resolve(token_key(t.scheme, t.type, t.epoch, t.value)),  # caught up above
            marker_type=request.marker_type,
            reason_code=request.reason_code,
            evidence_level=request.evidence_level,
            filed_at=now,
            event_ended_at=ended,
            expires_at=expires,
            case_ref=request.case_ref,
        )
        counts = await self._filed_from_own_application(marker, request.application_ref)
        source = request.application_ref if counts else ""
        # The marker and its log entry in one step: a crash cannot keep one without the other.
        events = (
            [marker_event(marker.token_key, True, marker.filer_member_id, now, from_application=source)]
            if marker.marker_type in NEGATIVE
            else [marker_change_event("file", marker, now, from_application=source)]  # protective: audited
        )
        self.rings.apply(await self.store.add_marker_logged(marker, events, self.rings.cursor))
        return consortium_pb2.FileMarkerResponse(marker=marker_message(marker, now), counts_as_contribution=counts)

    async def _filed_from_own_application(self, marker: Marker, application_ref: str) -> bool:
        """Whether the filer's application ``application_ref`` carried the marker's token: only
        then is the filing a contribution (give-to-get), not a marker on any token at all; and
        an application's filings count once, however many (``UsageGuard``)."""
        if not application_ref:
            return False
        app = await self.store.get_application(marker.filer_member_id, application_ref)
        return app is not None and marker.token_key in {self.aliases.resolve(k) for k in app.token_keys}

    async def WithdrawMarker(
        self, request: consortium_pb2.WithdrawMarkerRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.WithdrawMarkerResponse:
        if not request.marker_id:
            raise InvalidArgument.one("marker_id", "is required")
        violations: list[FieldViolation] = []  # the reason is kept with the marker for audit
        check_free_text(request.reason, "reason", violations, max_chars=MAX_REASON_CHARS)
        if violations:
            raise InvalidArgument(violations)
        marker = await self.store.get_marker(request.marker_id)
        if marker is None:
            raise NotFound(f"marker {request.marker_id!r} not found")
        if marker.filer_member_id != current_call().principal:
            raise PermissionDenied("only the filing member may withdraw a marker")
        now = self.clock()
        withdrawn = await self.store.withdraw_marker(request.marker_id, now, request.reason)
        # Audited, and the filing stops counting as a contribution: logged unless it is already
        # (a retry after the log refused the first attempt's append logs it then).
        at = withdrawn.withdrawn_at if withdrawn.withdrawn_at is not None else now
        also = [] if self.usage.withdrawal_logged(withdrawn) else [marker_change_event("withdraw", withdrawn, at)]
        # the token's state, always: a disputed marker left on it does not count
        tokens = [withdrawn.token_key] if withdrawn.marker_type in NEGATIVE else []
        await publish_marker_state(self.rings, self.store, self.disputes, tokens, now, also)
        return consortium_pb2.WithdrawMarkerResponse(marker=marker_message(withdrawn, now))

    async def ListMyMarkers(
        self, request: consortium_pb2.ListMyMarkersRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListMyMarkersResponse:
        now = self.clock()
        markers = await self.store.markers_by_filer(current_call().principal)
        disputed = self.disputes.is_disputed
        return consortium_pb2.ListMyMarkersResponse(
            markers=[
                marker_message(m, now, disputed(m.marker_id))
                for m in markers
                if request.include_inactive or m.is_active(now)
            ]
        )

    async def RaiseDispute(
        self, request: consortium_pb2.RaiseDisputeRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.DisputeResponse:
        by = current_call().principal
        return await dispute_response(self.store, self.rings, self.disputes, request, by, self.clock())

    async def ListMyDisputes(
        self, request: consortium_pb2.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListDisputesResponse:
        await self.rings.catch_up()
        me, now = current_call().principal, self.clock()
        answer = consortium_pb2.ListDisputesResponse()
        for d in self.disputes.listed(request.include_resolved):
            filer = d.filer or await self._filer_of(d.marker_id)  # logged with the dispute since it was added
            if d.raised_by == me or filer == me:
                message = answer.disputes.add()
                message.CopyFrom(d.message(now))
                if d.raised_by not in (me, "") and not d.raised_by.startswith(ADMIN_PREFIX):
                    message.raised_by = ""  # which other lender the person went to is theirs to know
        return answer

    async def _filer_of(self, marker_id: str) -> str:
        """The filer of a marker an older dispute entry names without it ("" once purged)."""
        marker = await self.store.get_marker(marker_id)
        return "" if marker is None else marker.filer_member_id

    async def GetMyKeyEpochs(
        self, request: consortium_pb2.GetMyKeyEpochsRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.GetMyKeyEpochsResponse:
        await self.rings.catch_up()
        me = current_call().principal
        response = consortium_pb2.GetMyKeyEpochsResponse()
        for epoch in self.keys.ordered():
            if me in epoch.wrapped:
                item = response.epochs.add(
                    epoch=epoch.epoch,
                    wrapped_key=epoch.wrapped[me],
                    created_at=to_timestamp(epoch.created_at),
                    key_check=epoch.key_check,
                )
                if epoch.retired_at is not None:
                    item.retired_at.CopyFrom(to_timestamp(epoch.retired_at))
        return response

    async def LinkTokens(
        self, request: consortium_pb2.LinkTokensRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.LinkTokensResponse:
        violations: list[FieldViolation] = []
        if not 1 <= len(request.pairs) <= MAX_LINKS:
            violations.append(FieldViolation("pairs", f"1..{MAX_LINKS} pairs"))
        pairs = []
        for i, pair in enumerate(request.pairs):
            check_token(pair.older, f"pairs[{i}].older", violations)
            check_token(pair.newer, f"pairs[{i}].newer", violations)
            o, n = pair.older, pair.newer
            if (o.scheme, o.type) != (n.scheme, n.type) or n.epoch <= o.epoch:
                violations.append(FieldViolation(f"pairs[{i}]", "same scheme and type, the newer of a later epoch"))
            pairs.append((token_key(n.scheme, n.type, n.epoch, n.value), token_key(o.scheme, o.type, o.epoch, o.value)))
        if violations:
            raise InvalidArgument(violations)
        await self.rings.catch_up()
        caller = current_call().principal
        olders = [self.aliases.resolve(o) for _, o in pairs]
        filed = await self.store.markers_for_tokens(olders)
        for i, older in enumerate(olders):  # carry over only the subjects of one's own markers
            if not any(m.filer_member_id == caller for m in filed.get(older, [])):
                raise PermissionDenied(f"pairs[{i}]: only the tokens of your own markers can be carried over")
        links = EpochLinks(self.aliases.unknown(pairs), self.aliases.contradicted(pairs))
        fresh = links.new
        if fresh or links.contradicted:
            await self.rings.publish(self._link_events(caller, links, self.clock()))
        return consortium_pb2.LinkTokensResponse(linked=len(fresh))
