"""The post-loan RPCs of ConsortiumService: RegisterWatch, UnregisterWatch, Watch, AckAlerts.

Alerts come from the ``WatchBook`` fold of the consortium log (``consortium.watch``). A Watch
stream wakes when this process folds an alert for its member (a Check on this replica: at once)
and otherwise folds the log's tail into the book every ``watch_poll_seconds`` (what other
replicas wrote) — into the book only: folding the ring index between a Check's append and its
answer would change that answer. All open streams share one read of the tail per round
(``WatchBook.refresh``).

A stream is authenticated once, so on every wake it re-checks its grant: it ends with
PERMISSION_DENIED once its member is no longer ACTIVE (within the member cache's life), with
UNAVAILABLE when its token expires or the hub begins a graceful shutdown — the node reconnects,
with a fresh token, to whichever replica serves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from lianfang.v1 import consortium_pb2

from consortium.aliases import AliasBook
from consortium.auth import current_stream_grant
from consortium.records import token_type_of
from consortium.rings import RingTracker
from consortium.store.base import LOG_START, Store
from consortium.validation import check_ref
from consortium.watch import WATCHED_TYPES, WatchBook, ack_event, format_cursor, parse_cursor, watch_event
from runtime.clock import Clock
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unavailable
from runtime.interceptors import current_call

WATCH_POLL_SECONDS = 0.5
SHUTTING_DOWN = "hub shutting down: reconnect"


def _ref(value: str) -> str:
    violations: list[FieldViolation] = []
    check_ref(value, "application_ref", violations)
    if violations:
        raise InvalidArgument(violations)
    return value


class WatchRpcs:
    """Mixed into ``ConsortiumServicer``, which provides the attributes below."""

    store: Store
    clock: Clock
    rings: RingTracker
    aliases: AliasBook
    watches: WatchBook
    watch_poll_seconds: float = WATCH_POLL_SECONDS

    async def RegisterWatch(
        self, request: consortium_pb2.RegisterWatchRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.RegisterWatchResponse:
        """Only the borrower of one's own checked application may be watched: no member can
        follow a person it never had a permissible purpose to look up."""
        ref = _ref(request.application_ref)
        caller = current_call().principal
        app = await self.store.get_application(caller, ref)
        if app is None:
            raise NotFound(f"application {ref!r} was never checked by this member")
        await self.rings.catch_up()  # links learned elsewhere decide the canonical keys (and folds the book)
        tokens = sorted({self.aliases.resolve(k) for k in app.token_keys if token_type_of(k) in WATCHED_TYPES})
        if not tokens:
            raise FailedPrecondition("the application carries no resident ID, USCC, legal representative or phone")
        current = self.watches.watches.get((caller, ref))
        if current is None or current.tokens != frozenset(tokens):  # a repeated call must not grow the log
            await self.rings.publish([watch_event(caller, ref, tokens, True, self.clock())])
        return consortium_pb2.RegisterWatchResponse(token_types=sorted({token_type_of(t) for t in tokens}))

    async def UnregisterWatch(
        self, request: consortium_pb2.UnregisterWatchRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.UnregisterWatchResponse:
        ref = _ref(request.application_ref)
        caller = current_call().principal
        await self.watches.catch_up(self.store)
        watching = self.watches.is_watching(caller, ref)
        if watching:
            await self.rings.publish([watch_event(caller, ref, (), False, self.clock())])
        return consortium_pb2.UnregisterWatchResponse(was_watching=watching)

    async def AckAlerts(
        self, request: consortium_pb2.AckAlertsRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.AckAlertsResponse:
        violations: list[FieldViolation] = []
        cursor = parse_cursor(request.up_to, "up_to", violations)
        if cursor is None and not violations:
            violations.append(FieldViolation("up_to", "is required"))
        if violations or cursor is None:
            raise InvalidArgument(violations)
        caller = current_call().principal
        await self.watches.catch_up(self.store)
        if cursor > self.watches.cursor:
            raise InvalidArgument.one("up_to", "is beyond the consortium log: not a cursor this hub sent")
        last = self.watches.last_pending(caller, cursor)  # acknowledges only alerts it has: the log grows per alert
        if last is not None:
            await self.rings.publish([ack_event(caller, last)])
        return consortium_pb2.AckAlertsResponse(acknowledged=format_cursor(self.watches.acked.get(caller, LOG_START)))

    async def Watch(
        self, request: consortium_pb2.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[consortium_pb2.WatchResponse]:
        violations: list[FieldViolation] = []
        after = parse_cursor(request.after, "after", violations)
        if violations:
            raise InvalidArgument(violations)
        member = current_call().principal
        grant = current_stream_grant()
        book = self.watches
        if book.closed:
            raise Unavailable(SHUTTING_DOWN)
        wake = book.listen(member)

        def dropped(member: str) -> dict[str, Any]:
            last = book.last_dropped.get(member)
            return {"alerts_dropped": book.dropped.get(member, 0), "last_dropped": format_cursor(last) if last else ""}

        try:
            await book.refresh(self.store)
            sent = max(after or LOG_START, book.acked.get(member, LOG_START))
            backlog = book.after(member, sent)
            yield consortium_pb2.WatchResponse(alerts=[a.message() for a in backlog], caught_up=True, **dropped(member))
            sent = backlog[-1].cursor if backlog else sent
            while True:
                poll = self.watch_poll_seconds
                timeout = poll - book.monotonic() % poll  # every stream wakes on the same ticks: one read serves all
                if grant is not None:
                    timeout = max(0.0, min(timeout, grant.seconds_left()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
                wake.clear()
                if book.closed:
                    raise Unavailable(SHUTTING_DOWN)
                if grant is not None:
                    await grant.check()  # suspended or revoked since: PERMISSION_DENIED; token expired: UNAVAILABLE
                await book.refresh(self.store, max_age=poll / 2)
                fresh = book.after(member, max(sent, book.acked.get(member, LOG_START)))
                if fresh:
                    yield consortium_pb2.WatchResponse(alerts=[a.message() for a in fresh], **dropped(member))
                    sent = fresh[-1].cursor
        finally:
            book.unlisten(member, wake)
