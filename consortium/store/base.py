"""The storage contract: small role interfaces, and the Store that combines them.

Every backend implements all roles and passes one conformance suite
(tests/integration/test_store_conformance.py). ``Store.record_logged``, the hub's Check, composes
the roles; a backend overrides it with a fused version (one round trip, one transaction) as long
as the suite, which compares the two, still passes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from consortium.records import ApplicationRecord, CheckSnapshot, Marker, Member


class MemberStore(abc.ABC):
    @abc.abstractmethod
    async def add_member(self, member: Member) -> None:
        """Raises AlreadyExists if the member id is taken (by anything but this very write,
        which a transport may re-send after losing its reply: that finds its own fields)."""

    @abc.abstractmethod
    async def get_member(self, member_id: str) -> Member | None: ...

    @abc.abstractmethod
    async def set_member_status(
        self,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        *,
        public_key: bytes | None = None,
    ) -> Member:
        """Compare-and-set of the status (and, given ``public_key``, the member's signing key:
        a rotation). NotFound / FailedPrecondition (status not in expected)."""

    @abc.abstractmethod
    async def list_members(self) -> list[Member]: ...


class ApplicationIndex(abc.ABC):
    @abc.abstractmethod
    async def record_application(self, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        """Stores the application unless (member_id, application_ref) exists.

        Returns the stored record (the original one on a retry) and whether it was new. The
        record keeps its token keys (``token_keys_page`` walks them); counting them is the
        consortium log's business, not the store's.
        """

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
        """Marks the marker withdrawn (kept for audit) and returns it. A marker withdrawn already
        keeps its first withdrawal's time and reason (a dispute resolution's names its intent).
        NotFound if unknown."""

    @abc.abstractmethod
    async def markers_for_tokens(self, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        """All markers (any status) on these tokens; tokens without markers may be absent."""

    @abc.abstractmethod
    async def markers_by_filer(self, member_id: str) -> list[Marker]: ...

    @abc.abstractmethod
    async def purge_markers(self, now: float) -> list[Marker]:
        """Deletes markers whose ``expires_at`` has passed (withdrawn ones included: they were
        kept for audit until then) and returns them, for the retention report; the rings learn
        of the ends from the marker reconciliation that follows (``consortium.marker_log``).
        Markers that never expire stay."""


LogCursor = tuple[int, int]
"""Position in the consortium log; entries are totally ordered by it. ``(0, 0)`` is before the first."""

LOG_START: LogCursor = (0, 0)


@dataclass(frozen=True)
class UnloggedEvents:
    """Log entries written down beside a member change, for a backend that cannot write the
    change and its log entries in one step: kept until they are logged, so a crash or a failed
    append delays an admin action's audit entry instead of losing it (``consortium.admin_log``).
    Each change keeps its own: a later change to the member never replaces an earlier one's."""

    member_id: str
    """The member whose record holds them."""

    events: tuple[str, ...]
    """The log events, in order."""

    at: float
    """When the change was made (the hub's clock)."""

    claimed_at: float | None
    """When a hub took them on to log them (None: nobody yet). A claim older than the grace is
    taken over: that hub stopped before it finished."""

    handle: str
    """The backend's own handle on them (where they are kept, as they were read)."""


class ConsortiumLog(abc.ABC):
    """The append-only log of what happened in the consortium: every Check, outcome, marker
    change and admin action, in one total order.

    Deterministic folds of it run in every hub process: the ring index (``consortium.rings``),
    every token's application history that stacking is counted from
    (``consortium.stacking_index``) and the audit Merkle tree (``consortium.audit``). Each
    process replays the log into memory and tails it before answering, so replicas on one store
    agree, and a restarted hub rebuilds exactly what it had. Events are opaque strings to the store.
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


class KeyClaims(abc.ABC):
    """Members' signing keys, each claimed for good by the first member to take it: the one
    atomic step (hub replicas race) that keeps two members from sharing a key, and a member from
    rotating back to a key it gave up. Keyed by the public key's SHA-256."""

    @abc.abstractmethod
    async def claim_public_key(self, public_key: bytes, member_id: str) -> tuple[str, bool]:
        """Claims ``public_key`` for ``member_id`` unless it is claimed already: the member
        holding the claim now, and whether this call made it."""

    @abc.abstractmethod
    async def release_public_key(self, public_key: bytes, member_id: str) -> None:
        """Drops ``member_id``'s claim on ``public_key`` (the change that made it failed); a
        claim another member holds stays."""


class Store(MemberStore, ApplicationIndex, MarkerStore, ConsortiumLog, ReplayGuard, KeyClaims):
    """A complete hub store. Stateless hub replicas may share one."""

    name: str = "abstract"

    async def record_logged(
        self, apps: Sequence[ApplicationRecord], events: Sequence[str], after: LogCursor
    ) -> tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]:
        """The hub's Check (a BatchCheck: many applications) in one step: ``record_application``
        of each application in turn, the markers on their tokens, then
        ``append_log_events(events, after)``. Stacking and rings are not read here: the hub
        folds them from the log entries this returns (``consortium.stacking_index``).

        A backend fuses this into one round trip or transaction; the conformance suite holds
        the fused version to this composition (snapshots, log entries and the state left behind).
        """
        markers = await self.markers_for_tokens(list(dict.fromkeys(k for app in apps for k in app.token_keys)))
        snapshots = []
        for app in apps:
            stored, new = await self.record_application(app)
            found = {k: markers[k] for k in dict.fromkeys(app.token_keys) if k in markers}
            snapshots.append(CheckSnapshot(new, stored.received_at, found, stored.token_keys))
        return snapshots, await self.append_log_events(events, after)

    async def add_marker_logged(
        self, marker: Marker, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """FileMarker in one step: ``add_marker`` then ``append_log_events(events, after)``. A
        backend fuses them (SQLite: one transaction; Redis: one round trip) so that a hub crashing
        in between cannot keep a marker the log (the rings, the audit tree, give-to-get) never
        heard of."""
        await self.add_marker(marker)
        return await self.append_log_events(events, after)

    async def add_member_logged(
        self, member: Member, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """RegisterMember and its audit entry: ``add_member`` then ``append_log_events(events,
        after)``. This composition is not crash-safe; a backend overrides it so that every admin
        action reaches the audit log (SQLite: one transaction; Redis: the events are kept on the
        member record until logged, ``unlogged_member_events``), and the conformance suite holds
        the override to the composition. Once the change is stored, a failed append does not
        fail the call there: the entries wait, and the result holds what was logged (maybe
        nothing)."""
        await self.add_member(member)
        return await self.append_log_events(events, after)

    async def set_member_status_logged(
        self,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        events: Sequence[str],
        after: LogCursor,
        *,
        public_key: bytes | None = None,
    ) -> tuple[Member, list[tuple[LogCursor, str]]]:
        """A member's status change (approve, suspend, …; a key rotation) and its audit entry, as
        ``add_member_logged``: ``set_member_status`` then ``append_log_events(events, after)``."""
        member = await self.set_member_status(member_id, expected, status, reason, at, public_key=public_key)
        return member, await self.append_log_events(events, after)

    async def unlogged_member_events(self) -> list[UnloggedEvents]:
        """Member changes whose log entries may not have been appended yet: in flight on some
        hub, or left behind by a crash or a failed append. None on a backend that writes both
        in one transaction."""
        return []

    async def log_member_events(
        self, unlogged: UnloggedEvents, now: float, after: LogCursor
    ) -> list[tuple[LogCursor, str]] | None:
        """Claims ``unlogged`` (as read: None when another hub claimed it, or it was logged,
        meanwhile), appends its events and stops keeping them; the log since ``after``. A hub
        stopping between the append and the end logs them again once its claim is stale."""
        return await self.append_log_events(unlogged.events, after)

    @abc.abstractmethod
    async def token_keys_page(self, prefix: str, cursor: str, limit: int) -> tuple[list[str], str]:
        """A page of the distinct token keys held (by applications or markers) that start with
        ``prefix``, and the cursor that resumes the walk after it: a resumable walk over the
        stored tokens (OPRF re-keying, ``consortium.rekey``). ``cursor`` ``""`` starts a walk;
        a returned ``""`` means it is done (an empty page does not).

        About ``limit`` keys a page (a hint, like SCAN's COUNT: a page may hold more). A walk
        costs O(stored keys) in all; every key held throughout it comes at least once, a key may
        come again on a later page (a backend walking a hash table), and one first stored during
        the walk may be missed. A cursor the backend does not recognise starts the walk over."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raises Unavailable when the backing service cannot be reached, or (where it can tell
        cheaply) cannot take writes now: the hub's readiness follows it."""

    @abc.abstractmethod
    async def close(self) -> None: ...
