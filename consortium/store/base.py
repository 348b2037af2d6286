"""The storage contract: small role interfaces, and the Store that combines them.

Every backend implements all roles and passes one conformance suite
(tests/integration/test_store_conformance.py). ``Store.check`` composes the roles and
``Store.check_many`` composes ``check``; a backend may override either with a fused version (one
round trip, one transaction) as long as the suite, which compares the two, still passes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from consortium.records import (
    LONGEST_WINDOW,
    WINDOWS,
    ApplicationRecord,
    CheckSnapshot,
    Marker,
    Member,
    TokenActivity,
)


class MemberStore(abc.ABC):
    @abc.abstractmethod
    async def add_member(self, member: Member) -> None:
        """Raises AlreadyExists if the member id is taken."""

    @abc.abstractmethod
    async def get_member(self, member_id: str) -> Member | None: ...

    @abc.abstractmethod
    async def set_member_status(
        self, member_id: str, expected: frozenset[int], status: int, reason: str, at: float
    ) -> Member:
        """Compare-and-set of the status. NotFound / FailedPrecondition (status not in expected)."""

    @abc.abstractmethod
    async def list_members(self) -> list[Member]: ...


class ApplicationIndex(abc.ABC):
    @abc.abstractmethod
    async def record_application(self, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        """Stores the application unless (member_id, application_ref) exists.

        Returns the stored record (the original one on a retry) and whether it was new.
        Re-recording an existing application must still complete its token indexing, so that a
        retry after a crash repairs a half-written record without double counting.
        """

    @abc.abstractmethod
    async def token_activity(self, token_keys: Sequence[str], caller: str, now: float) -> dict[str, TokenActivity]:
        """Per token: other members' application counts per window and members' last-seen."""

    @abc.abstractmethod
    async def get_application(self, member_id: str, application_ref: str) -> ApplicationRecord | None: ...

    @abc.abstractmethod
    async def set_outcome(self, member_id: str, application_ref: str, outcome: int, at: float) -> None:
        """Raises NotFound if the member never checked that application."""

    @abc.abstractmethod
    async def purge_applications(self, before: float) -> int:
        """Deletes applications received before ``before``; returns how many."""


class MarkerStore(abc.ABC):
    @abc.abstractmethod
    async def add_marker(self, marker: Marker) -> None: ...

    @abc.abstractmethod
    async def get_marker(self, marker_id: str) -> Marker | None: ...

    @abc.abstractmethod
    async def withdraw_marker(self, marker_id: str, at: float, reason: str) -> Marker:
        """Marks the marker withdrawn (kept for audit). NotFound if unknown."""

    @abc.abstractmethod
    async def markers_for_tokens(self, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        """All markers (any status) on these tokens; tokens without markers may be absent."""

    @abc.abstractmethod
    async def markers_by_filer(self, member_id: str) -> list[Marker]: ...

    @abc.abstractmethod
    async def purge_markers(self, now: float) -> int:
        """Deletes markers whose ``expires_at`` has passed (withdrawn ones included: they were
        kept for audit until then); returns how many. Markers that never expire stay."""


LogCursor = tuple[int, int]
"""Position in the consortium log; entries are totally ordered by it. ``(0, 0)`` is before the first."""

LOG_START: LogCursor = (0, 0)


class ConsortiumLog(abc.ABC):
    """The append-only log of what happened in the consortium: every Check, outcome, marker
    change and admin action, in one total order.

    Two deterministic folds of it run in every hub process: the ring index (``consortium.rings``)
    and the audit Merkle tree (``consortium.audit``). Each process replays the log into memory and
    tails it before answering, so replicas on one store agree, and a restarted hub rebuilds
    exactly what it had. Events are opaque strings to the store.
    """

    @abc.abstractmethod
    async def append_log_events(self, events: Sequence[str], after: LogCursor) -> list[tuple[LogCursor, str]]:
        """Appends ``events`` (in order) and returns every entry after ``after``, the new ones
        included, in log order: one round trip appends and catches the caller up."""

    @abc.abstractmethod
    async def log_events(self, after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        """Up to ``limit`` entries after ``after``, in log order."""


class ReplayGuard(abc.ABC):
    """One-time tokens: the ``jti`` of every single-use JWT, until it expires, on every replica."""

    @abc.abstractmethod
    async def claim_token_id(self, jti: str, expires_at: float, now: float) -> bool:
        """True the first time ``jti`` is claimed; False while an earlier claim stands.
        Claims end at ``expires_at`` (the token's ``exp``); ``now`` lets a backend drop them."""


class Store(MemberStore, ApplicationIndex, MarkerStore, ConsortiumLog, ReplayGuard):
    """A complete hub store. Stateless hub replicas may share one."""

    name: str = "abstract"

    async def check(self, app: ApplicationRecord, now: float) -> CheckSnapshot:
        """Records the application and reads what Check answers from, in one logical step."""
        stored, new = await self.record_application(app)
        activity = await self.token_activity(app.token_keys, app.member_id, now)
        markers = await self.markers_for_tokens(app.token_keys)
        return CheckSnapshot(new, stored.received_at, activity, markers)

    async def check_many(self, apps: Sequence[ApplicationRecord], now: float) -> list[CheckSnapshot]:
        """``check`` of each application in turn, all at ``now`` (a BatchCheck).

        The contract is sequential equivalence: the snapshots, and the state left behind, are
        those of ``[await self.check(app, now) for app in apps]`` (a later application sees the
        earlier ones, e.g. a shared token or a repeated reference). A backend may fuse the batch
        into fewer round trips or one transaction as long as the conformance suite, which holds
        it to this composition, still passes.
        """
        return [await self.check(app, now) for app in apps]

    async def check_logged(
        self, app: ApplicationRecord, now: float, events: Sequence[str], after: LogCursor | None
    ) -> tuple[CheckSnapshot, list[tuple[LogCursor, str]]]:
        """``check``, then ``append_log_events(events, after)`` — the hub's Check in one step,
        which a backend fuses into one round trip or transaction. ``after=None``: no log."""
        snapshot = await self.check(app, now)
        entries = [] if after is None else await self.append_log_events(events, after)
        return snapshot, entries

    async def check_many_logged(
        self, apps: Sequence[ApplicationRecord], now: float, events: Sequence[str], after: LogCursor | None
    ) -> tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]:
        """``check_many`` then the log, as ``check_logged`` (a BatchCheck)."""
        snapshots = await self.check_many(apps, now)
        entries = [] if after is None else await self.append_log_events(events, after)
        return snapshots, entries

    @abc.abstractmethod
    async def token_keys_page(self, prefix: str, after: str, limit: int) -> list[str]:
        """Up to ``limit`` distinct token keys held (by applications or markers) that start with
        ``prefix`` and sort after ``after``, ascending: a resumable walk over the stored tokens
        (OPRF re-keying, ``consortium.rekey``)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raises Unavailable when the backing service cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None: ...


def empty_activity() -> TokenActivity:
    return TokenActivity((0,) * len(WINDOWS), {})


def count_activity(rows: Sequence[tuple[str, float]], caller: str, now: float) -> TokenActivity:
    """TokenActivity of one token from its (member_id, received_at) application rows.

    Shared by backends that fetch rows rather than counting server-side.
    """
    cutoffs = [now - w.seconds for w in WINDOWS]
    counts = [0] * len(WINDOWS)
    last_seen: dict[str, float] = {}
    oldest = now - LONGEST_WINDOW
    for member_id, at in rows:
        if at < oldest or at > now:
            continue
        if last_seen.get(member_id, -1.0) < at:
            last_seen[member_id] = at
        if member_id != caller:
            for i, cutoff in enumerate(cutoffs):
                if at >= cutoff:
                    counts[i] += 1
    return TokenActivity(tuple(counts), last_seen)
