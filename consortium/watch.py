"""Post-loan watches and the alerts they raise (共债预警): a fold of the consortium log.

A member watches the borrower of one of its applications (``RegisterWatch``); from then on
another member's application on one of the borrower's identity tokens, that application being
funded, or a negative marker filed on one of them raises an alert for the watcher. Alerts are
*derived* from the log, not stored beside it, so every replica derives the same ones, a
restarted hub derives them again, and an alert's cursor is the cursor of the log entry that
raised it. Acknowledgements are log events too, so what was acknowledged survives restarts and
holds on every replica; only unacknowledged alerts are kept in memory.

Events (only member ids, references, token keys and times, as everywhere in the log):

- ``["w", member, ref, [token keys], 1, at]``: watch the borrower of ``member``/``ref``;
  ``["w", member, ref, [], 0, at]``: stop (the loan was repaid).
- ``["wk", member, a, b]``: ``member`` acknowledged every alert up to cursor ``(a, b)``.

The fold costs one dictionary lookup per token of an application event, and is idempotent: a
retried Check, a repeated outcome or a repeated marker filing raises nothing twice. Its memory is
bounded by what is watched (state on other members' applications leaves with the last watch
they hit and with retention, ``["r", before]``) and by ``max_pending`` alerts per member. The
book keeps its own cursor and skips what it has seen, so Watch streams fold the log's tail into
it directly (``refresh``: one shared read) without touching the ring index, whose folding Check
times itself.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lianfang.v1 import common_pb2, consortium_pb2

from consortium.log_format import encode_event
from consortium.records import token_type_of
from consortium.rings import application_tokens
from consortium.store.base import LOG_START, ConsortiumLog, LogCursor
from runtime.errors import FieldViolation
from runtime.timestamps import to_timestamp

WATCHED_TYPES = frozenset(
    {
        common_pb2.TOKEN_TYPE_RESIDENT_ID,
        common_pb2.TOKEN_TYPE_USCC,
        common_pb2.TOKEN_TYPE_LEGAL_REP,
        common_pb2.TOKEN_TYPE_PHONE,
    }
)
"""The borrower's identity: a shared Wi-Fi address or office building is not co-debt."""

log = logging.getLogger("lianfang.hub.watch")

Loan = tuple[str, str]  # (member, application ref) of a watched application


def watch_event(member: str, ref: str, tokens: Iterable[str], on: bool, at: float) -> str:
    return encode_event(["w", member, ref, sorted(tokens) if on else [], int(on), at])


def ack_event(member: str, cursor: LogCursor) -> str:
    return encode_event(["wk", member, cursor[0], cursor[1]])


def format_cursor(cursor: LogCursor) -> str:
    return f"{cursor[0]}-{cursor[1]}"


_CURSOR = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
"""ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` then refuses."""


def parse_cursor(text: str, field_name: str, out: list[FieldViolation]) -> LogCursor | None:
    """The cursor of ``text`` ("<a>-<b>"); None (and a violation) when malformed, None when empty."""
    if not text:
        return None
    match = _CURSOR.fullmatch(text)
    if match is not None:
        return int(match[1]), int(match[2])
    out.append(FieldViolation(field_name, "a cursor of an earlier alert, '<digits>-<digits>'"))
    return None


@dataclass
class Watched:
    """One watched application: its tokens and what other members did on them since."""

    tokens: frozenset[str]
    others: set[str] = field(default_factory=set)
    applications: int = 0


@dataclass(frozen=True, slots=True)
class AlertRecord:
    cursor: LogCursor
    kind: int
    refs: tuple[str, ...]
    token_types: tuple[int, ...]
    other_members: int
    other_applications: int
    occurred_at: float | None

    def message(self) -> consortium_pb2.Alert:
        alert = consortium_pb2.Alert(
            cursor=format_cursor(self.cursor),
            kind=self.kind,
            application_refs=self.refs,
            token_types=self.token_types,
            other_members=self.other_members,
            other_applications=self.other_applications,
        )
        if self.occurred_at is not None:
            alert.occurred_at.CopyFrom(to_timestamp(self.occurred_at))
        return alert


@dataclass
class _Hit:
    refs: set[str] = field(default_factory=set)
    types: set[int] = field(default_factory=set)


@dataclass
class _CoDebt:
    """Another member's application that hit watches: kept while one of them still watches and
    until retention removes the application, so a retried Check or a repeated outcome raises
    nothing twice."""

    received_at: float
    watchers: dict[str, _Hit] = field(default_factory=dict)
    funded: bool = False


MAX_PENDING = 10_000
"""Unacknowledged alerts kept per member; beyond it the oldest go (a member that never acks
must not grow the hub's memory without bound)."""


class WatchBook:
    """Watches, pending alerts and acknowledgements per member (a ``RingTracker`` observer).

    Memory is bounded by what is watched: state about other members' applications and markers
    goes with the last watch it concerns (and with retention), pending alerts are capped per
    member (``max_pending``; ``dropped`` counts what the cap discarded, ``last_dropped`` is the
    newest of them: a member holding that alert already lost nothing)."""

    def __init__(self, *, max_pending: int = MAX_PENDING, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.watches: dict[Loan, Watched] = {}
        self.by_token: dict[str, set[Loan]] = {}
        self.pending: dict[str, list[AlertRecord]] = {}
        self.acked: dict[str, LogCursor] = {}
        self.dropped: dict[str, int] = {}
        self.last_dropped: dict[str, LogCursor] = {}  # the newest alert the cap discarded, per member
        self.max_pending = max_pending
        self.cursor: LogCursor = LOG_START
        self.closed = False
        self._co_debt: dict[Loan, _CoDebt] = {}  # another member's application -> watchers hit
        self._hits_of: dict[Loan, set[Loan]] = {}  # a watched loan -> the applications in _co_debt that hit it
        self._markers: dict[str, set[str]] = {}  # a watched token -> members with a marker active on it
        self._listeners: dict[str, set[asyncio.Event]] = {}
        self._refreshing: asyncio.Future[None] | None = None
        self._refresh_started = 0.0
        self.monotonic = monotonic

    async def catch_up(self, log: ConsortiumLog, page: int = 1_000) -> None:
        """Folds what the log holds beyond this book's cursor (entries other replicas wrote)."""
        while True:
            entries = await log.log_events(self.cursor, page)
            for cursor, event in entries:
                try:
                    decoded = json.loads(event)
                except ValueError:
                    decoded = None
                self.observe(cursor, event, decoded if isinstance(decoded, list) else None)
            if len(entries) < page:
                return

    async def refresh(self, log: ConsortiumLog, *, max_age: float = 0.0) -> None:
        """``catch_up`` shared by every caller: one read of the log's tail is in flight at a
        time and serves everyone waiting, and one that began at most ``max_age`` seconds ago
        counts as fresh. So K open Watch streams polling together cost one read per round,
        not K. (Shielded: one stream going away does not cancel the read others wait on.)"""
        now = self.monotonic()
        task = self._refreshing
        stale = max_age <= 0 or now - self._refresh_started > max_age
        if task is None or (task.done() and (stale or _failed(task))):
            task = self._refreshing = asyncio.ensure_future(self.catch_up(log))
            task.add_done_callback(_retrieve)
            self._refresh_started = now
        await asyncio.shield(task)

    def close(self) -> None:
        """The hub is shutting down: wakes every Watch stream so it ends now (UNAVAILABLE)
        instead of holding the server's stop for its whole grace period."""
        self.closed = True
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.set()

    # -- the fold -----------------------------------------------------------------------------
    def observe(self, cursor: LogCursor, event: str, decoded: list[Any] | None) -> None:
        """Folds one entry, once: entries at or before the book's cursor are skipped."""
        if cursor <= self.cursor:
            return
        self.cursor = cursor
        if not decoded:
            return
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):  # malformed: the ring fold logs it
            self._fold(cursor, decoded)  # a watch never stops a Check

    def _fold(self, cursor: LogCursor, decoded: list[Any]) -> None:
        kind = decoded[0]
        if kind == "a":
            tokens = application_tokens(decoded) + ([decoded[5]] if decoded[5] is not None else [])
            self._application(cursor, str(decoded[1]), str(decoded[2]), float(decoded[3]), tokens)
        elif kind == "o" and decoded[3] == common_pb2.OUTCOME_FUNDED:
            self._funded_outcome(cursor, (str(decoded[1]), str(decoded[2])), _at(decoded, 4))
        elif kind == "m":
            if not decoded[2]:
                self._markers.pop(str(decoded[1]), None)  # no marker left on the token
            elif len(decoded) > 3 and decoded[3]:
                self._marker(cursor, str(decoded[1]), str(decoded[3]), _at(decoded, 4))
        elif kind == "w":
            self._watch((str(decoded[1]), str(decoded[2])), [str(t) for t in decoded[3]], bool(decoded[4]))
        elif kind == "wk":
            self._ack(str(decoded[1]), (int(decoded[2]), int(decoded[3])))
        elif kind == "r":
            self._retention(float(decoded[1]))

    def _watch(self, loan: Loan, tokens: list[str], on: bool) -> None:
        old = self.watches.pop(loan, None)
        for token in old.tokens if old else ():
            holders = self.by_token.get(token)
            if holders is not None:
                holders.discard(loan)
                if not holders:
                    del self.by_token[token]
                    self._markers.pop(token, None)
        if on:
            kept = old if old is not None and old.tokens == frozenset(tokens) else Watched(frozenset(tokens))
            self.watches[loan] = kept
            for token in kept.tokens:
                self.by_token.setdefault(token, set()).add(loan)
        else:
            self._forget_hits(loan)

    def _forget_hits(self, loan: Loan) -> None:
        """The watch of ``loan`` ended: other applications that only it cared about go."""
        watcher, ref = loan
        for app in self._hits_of.pop(loan, ()):
            entry = self._co_debt.get(app)
            if entry is None:
                continue
            hit = entry.watchers.get(watcher)
            if hit is not None:
                hit.refs.discard(ref)
                if not hit.refs:
                    del entry.watchers[watcher]
            if not entry.watchers:
                del self._co_debt[app]

    def _retention(self, before: float) -> None:
        """Applications received before ``before`` left the consortium: so does what we kept on them."""
        expired = [app for app, entry in self._co_debt.items() if entry.received_at < before]
        for app in expired:
            for watcher, hit in self._co_debt.pop(app).watchers.items():
                for ref in hit.refs:
                    apps = self._hits_of.get((watcher, ref))
                    if apps is not None:
                        apps.discard(app)
                        if not apps:
                            del self._hits_of[(watcher, ref)]

    def _application(self, cursor: LogCursor, member: str, ref: str, at: float, tokens: list[str]) -> None:
        hits: dict[str, _Hit] = {}
        for token in tokens:
            for loan in self.by_token.get(token, ()):
                if loan[0] != member:
                    hit = hits.setdefault(loan[0], _Hit())
                    hit.refs.add(loan[1])
                    hit.types.add(token_type_of(token))
        if not hits:
            return
        app = (member, ref)
        entry = self._co_debt.get(app)
        if entry is None:
            entry = self._co_debt[app] = _CoDebt(at)
        for watcher, hit in hits.items():
            if watcher in entry.watchers:
                continue  # a retried Check of the same application
            entry.watchers[watcher] = hit
            for loan_ref in hit.refs:
                self._hits_of.setdefault((watcher, loan_ref), set()).add(app)
                watched = self.watches[(watcher, loan_ref)]
                watched.others.add(member)
                watched.applications += 1
            self._raise(cursor, watcher, consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION, hit, at)

    def _funded_outcome(self, cursor: LogCursor, app: Loan, at: float | None) -> None:
        entry = self._co_debt.get(app)
        if entry is None or entry.funded:
            return
        entry.funded = True
        for watcher, hit in entry.watchers.items():
            live = _Hit({r for r in hit.refs if (watcher, r) in self.watches}, hit.types)
            if live.refs:
                self._raise(cursor, watcher, consortium_pb2.ALERT_KIND_CO_DEBT_FUNDED, live, at)

    def _marker(self, cursor: LogCursor, token: str, filer: str, at: float | None) -> None:
        """Raises on a filer's marker becoming active on a watched token, once: the log may hold
        a filing twice (an append retried after a lost connection)."""
        holders = self.by_token.get(token)
        if not holders:
            return
        filers = self._markers.setdefault(token, set())
        if filer in filers:
            return  # already active: a repeated event, or a second filing of the same news
        filers.add(filer)
        hits: dict[str, _Hit] = {}
        for watcher, ref in holders:
            if watcher != filer:  # a member's own filing is no news to it
                hits.setdefault(watcher, _Hit(types={token_type_of(token)})).refs.add(ref)
        for watcher, hit in hits.items():
            self._raise(cursor, watcher, consortium_pb2.ALERT_KIND_MARKER_FILED, hit, at)

    def _raise(self, cursor: LogCursor, watcher: str, kind: int, hit: _Hit, at: float | None) -> None:
        if cursor <= self.acked.get(watcher, LOG_START):
            return
        others: set[str] = set()
        applications = 0
        for ref in hit.refs:
            watched = self.watches[(watcher, ref)]
            others |= watched.others
            applications += watched.applications
        record = AlertRecord(
            cursor, kind, tuple(sorted(hit.refs)), tuple(sorted(hit.types)), len(others), applications, at
        )
        queue = self.pending.setdefault(watcher, [])
        queue.append(record)
        if len(queue) > self.max_pending:
            self.last_dropped[watcher] = queue[0].cursor
            del queue[0]
            dropped = self.dropped[watcher] = self.dropped.get(watcher, 0) + 1
            if dropped % 1_000 == 1:
                log.warning(
                    "unacknowledged alerts dropped",
                    extra={"fields": {"member": watcher, "dropped": dropped, "max_pending": self.max_pending}},
                )
        for listener in self._listeners.get(watcher, ()):
            listener.set()

    def _ack(self, member: str, cursor: LogCursor) -> None:
        if cursor <= self.acked.get(member, LOG_START):
            return
        self.acked[member] = cursor
        left = self.after(member, cursor)
        if left:
            self.pending[member] = left
        else:
            self.pending.pop(member, None)

    # -- what the Watch stream reads ---------------------------------------------------------------
    def after(self, member: str, cursor: LogCursor) -> list[AlertRecord]:
        """The member's unacknowledged alerts after ``cursor``, oldest first."""
        queue = self.pending.get(member, [])
        return queue[bisect.bisect_right(queue, cursor, key=_cursor_of) :]

    def last_pending(self, member: str, up_to: LogCursor) -> LogCursor | None:
        """The cursor of the member's newest unacknowledged alert at or before ``up_to``: what
        an acknowledgement up to ``up_to`` actually acknowledges (None: nothing)."""
        queue = self.pending.get(member, [])
        i = bisect.bisect_right(queue, up_to, key=_cursor_of)
        return queue[i - 1].cursor if i else None

    def is_watching(self, member: str, ref: str) -> bool:
        return (member, ref) in self.watches

    def listen(self, member: str) -> asyncio.Event:
        """An event set whenever an alert for ``member`` is folded (``unlisten`` when done)."""
        event = asyncio.Event()
        self._listeners.setdefault(member, set()).add(event)
        return event

    def unlisten(self, member: str, event: asyncio.Event) -> None:
        listeners = self._listeners.get(member)
        if listeners is not None:
            listeners.discard(event)
            if not listeners:
                del self._listeners[member]


def _cursor_of(alert: AlertRecord) -> LogCursor:
    return alert.cursor


def _failed(task: asyncio.Future[None]) -> bool:
    return task.cancelled() or task.exception() is not None


def _retrieve(task: asyncio.Future[None]) -> None:
    """Marks a shared catch-up's failure as seen (its waiters got it, or were all cancelled)."""
    if not task.cancelled():
        task.exception()


def _at(decoded: list[Any], i: int) -> float | None:
    return float(decoded[i]) if len(decoded) > i and decoded[i] is not None else None
