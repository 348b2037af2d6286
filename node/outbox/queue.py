"""The ``outbox`` table of the node's SQLite: one row per hub submission, written in the same
transaction as the state change that caused it (a decision, an outcome), so a crash can never
keep one without the other (the table is created with the node's others, ``node.origination.store``).

A row is ``pending`` until the hub acknowledges it (then ``sent``), or ``dead`` when the hub
refused it for good (the error is kept; ``retry`` puts it back, ``discard`` gives it up with a
person's reason: ``discarded``). Rows are delivered in id order per application: a row waits
while an earlier row of its application is still pending or dead, so an outcome never overtakes
its application's Check. Once a Check is discarded its application's later rows go out: the hub
may have recorded the application all the same (a Check it recorded, whose answer was lost,
then refused on a resend once the consent had expired), and an outcome it does not know it
refuses with NOT_FOUND, which settles that row (``settle_unknown``) rather than dead-letter it.
The idempotency key is UNIQUE: enqueueing the same submission twice (a second drawdown's FUNDED)
keeps the first, so settled rows stay; only their payload is dropped once it is no longer
needed (``drop_settled_payloads``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any

from node.origination.store import NodeStore
from runtime.errors import FailedPrecondition, NotFound

CHECK, OUTCOME = "check", "outcome"
UNTOKENISED_CHECK = "check_untokenised"  # OPRF mode: a Check the key service gave no tokens for yet
CHECKS = (CHECK, UNTOKENISED_CHECK)
PENDING, SENT, DEAD, DISCARDED = "pending", "sent", "dead", "discarded"
STATES = (PENDING, SENT, DEAD, DISCARDED)
SETTLED = (SENT, DISCARDED)  # out of the queue for good, since ``settled_at``

# ``sent_at`` (the column) is when a row settled: sent, or discarded.
_COLUMNS = (
    "id, kind, idempotency_key, application_id, request, created_at, attempts, next_attempt_at, last_error, state,"
    " sent_at"
)
_BY_ID = f"SELECT {_COLUMNS} FROM outbox WHERE id = ?"
PAYLOAD_BATCH = 1000  # rows per transaction when dropping payloads


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    idempotency_key: str
    application_id: str
    request: bytes
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str
    state: str
    settled_at: float | None
    """When it was sent or discarded (None before)."""


class Outbox:
    """The queue over the node's store; ``notify()`` wakes the drainer after an enqueue."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store
        self.wakeup = asyncio.Event()
        self.keys_held_until = 0.0
        """No untokenised Check goes to the key service before this (its back-off after the key
        service was away or refused this member's quota; ``Drainer``); lifted by ``lift_key_hold``."""

    def lift_key_hold(self, now: float) -> None:
        """The key service answers again (a stage-1 evaluation, a person's retry): untokenised
        Checks need not wait out the back-off any longer (a raised quota, not midnight), neither
        the hold nor the row that met the refusal and was put off to its retry time."""
        held, self.keys_held_until = self.keys_held_until, 0.0
        with self.store.transaction() as db:  # put off before a restart too: the retry times are stored
            freed = db.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND kind = ? AND next_attempt_at > ?",
                (now, UNTOKENISED_CHECK, now),
            ).rowcount
        if held or freed:
            self.notify()

    def enqueue_in(
        self, db: sqlite3.Connection, kind: str, key: str, application_id: str, request: bytes, now: float
    ) -> bool:
        """Adds a row inside the caller's transaction; False when the key was already queued."""
        cursor = db.execute(
            "INSERT OR IGNORE INTO outbox (kind, idempotency_key, application_id, request, created_at, next_attempt_at)"
            " VALUES (?,?,?,?,?,?)",
            (kind, key, application_id, request, now, now),
        )
        return cursor.rowcount == 1

    def enqueue_dead_in(
        self, db: sqlite3.Connection, kind: str, key: str, application_id: str, request: bytes, now: float, error: str
    ) -> bool:
        """Adds a row already dead (the hub refused it once, e.g. a suspended member's Check),
        inside the caller's transaction: a person retries or discards it, and it holds its
        application's later rows back meanwhile. False when the key was already queued."""
        cursor = db.execute(
            "INSERT OR IGNORE INTO outbox (kind, idempotency_key, application_id, request, created_at,"
            " next_attempt_at, state, attempts, last_error) VALUES (?,?,?,?,?,?,?,?,?)",
            (kind, key, application_id, request, now, now, DEAD, 1, error[:500]),
        )
        return cursor.rowcount == 1

    def notify(self) -> None:
        self.wakeup.set()

    def due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        """Pending rows whose time has come and that no earlier pending or dead row of their
        application holds back."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM outbox o WHERE state = 'pending' AND next_attempt_at <= ? AND NOT EXISTS"
            " (SELECT 1 FROM outbox p WHERE p.application_id = o.application_id AND p.id < o.id"
            " AND p.state IN ('pending', 'dead')) ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [OutboxRow(*r) for r in rows]

    # The drainer's writes apply to pending rows only, and retry/discard to dead ones: a row a
    # person settled is never overwritten by a delivery, nor the other way round.
    def mark_sent_in(self, db: sqlite3.Connection, row_id: int, now: float) -> bool:
        """False when the row was no longer pending (nothing changed)."""
        cursor = db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = ''"
            " WHERE id = ? AND state = 'pending'",
            (now, row_id),
        )
        return cursor.rowcount == 1

    def tokenised(self, row_id: int, request: bytes) -> OutboxRow:
        """An untokenised Check becomes a plain one: its tokenised bytes replace the identifiers."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET kind = ?, request = ? WHERE id = ? AND kind = ? AND state = 'pending'",
                (CHECK, request, row_id, UNTOKENISED_CHECK),
            )
        return self.get(row_id)

    def retokenised(self, row_id: int, request: bytes) -> OutboxRow:
        """A pending Check's request with tokens made again (its keys went stale in the queue)."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET request = ? WHERE id = ? AND kind = ? AND state = 'pending'",
                (request, row_id, CHECK),
            )
        return self.get(row_id)

    def mark_retry(self, row_id: int, next_attempt_at: float, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (next_attempt_at, error, row_id),
            )

    def mark_dead(self, row_id: int, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (error, row_id),
            )

    def retry(self, row_id: int, now: float) -> OutboxRow:
        """Puts a dead row back in the queue, or makes a pending one due now instead of at the end
        of its back-off (a quota that was raised before the hub's day ends, a hub back sooner);
        its place in its application's order kept."""
        with self.store.transaction() as db:
            state = self._get(db, row_id).state
            if state not in (PENDING, DEAD):
                raise FailedPrecondition(f"outbox item {row_id} is {state}; only dead or pending items are retried")
            db.execute("UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE id = ?", (now, row_id))
        self.lift_key_hold(now)  # a person says: try now
        self.notify()
        return self.get(row_id)

    def discard_in(self, db: sqlite3.Connection, row_id: int, now: float, actor: str, reason: str) -> OutboxRow:
        """Gives a dead row up for good, inside the caller's transaction: it leaves the dead count
        and stops holding its application's later rows back, and its payload (an untokenised
        Check's identifiers) is dropped; who and why go before the hub's last refusal in
        ``last_error``, when in ``settled_at``."""
        row = self._require_dead(db, row_id, "discarded")
        note = f"discarded by {actor}: {reason} (the hub's last refusal: {row.last_error})"
        db.execute(
            "UPDATE outbox SET state = ?, sent_at = ?, request = x'', last_error = ? WHERE id = ?",
            (DISCARDED, now, note, row_id),
        )
        return self._get(db, row_id)

    def check_discarded(self, application_id: str) -> bool:
        """Whether a person gave this application's Check up."""
        return bool(
            self.store.query(
                "SELECT 1 FROM outbox WHERE application_id = ? AND state = ? AND kind IN (?, ?) LIMIT 1",
                (application_id, DISCARDED, *CHECKS),
            )
        )

    def settle_unknown(self, row_id: int, now: float, error: str) -> None:
        """An outcome the hub refused with NOT_FOUND after its application's Check was given up:
        the hub does not know the application, so the row is settled, not dead-lettered."""
        note = f"discarded: the hub does not know the application, whose Check was discarded ({error})"
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, sent_at = ?, request = x'', attempts = attempts + 1, last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (DISCARDED, now, note, row_id),
            )

    def _require_dead(self, db: sqlite3.Connection, row_id: int, what: str) -> OutboxRow:
        row = self._get(db, row_id)
        if row.state != DEAD:
            raise FailedPrecondition(f"outbox item {row_id} is {row.state}; only dead items are {what}")
        return row

    def drop_settled_payloads(self, before: float) -> int:
        """Empties the request bytes of up to ``PAYLOAD_BATCH`` rows settled before ``before``
        (found through the ``outbox_payloads`` index of rows that still have one): nothing reads
        them again, and the row itself stays to keep its idempotency key taken. How many (call
        again while it returns a full batch)."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET request = x'' WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_payloads"
                " WHERE length(request) > 0 AND sent_at < ? AND state IN (?, ?) LIMIT ?)",
                (before, *SETTLED, PAYLOAD_BATCH),
            )
        return cursor.rowcount

    def get(self, row_id: int) -> OutboxRow:
        return _one(self.store.query(_BY_ID, (row_id,)), row_id)

    @staticmethod
    def _get(db: sqlite3.Connection, row_id: int) -> OutboxRow:
        """``get`` inside a transaction."""
        return _one(db.execute(_BY_ID, (row_id,)).fetchall(), row_id)

    def rows(self, state: str = "", limit: int = 100) -> list[OutboxRow]:
        """The newest rows first (all states, or one)."""
        where, params = ("WHERE state = ?", (state, limit)) if state else ("", (limit,))
        rows = self.store.query(f"SELECT {_COLUMNS} FROM outbox {where} ORDER BY id DESC LIMIT ?", params)
        return [OutboxRow(*r) for r in rows]

    def count(self, state: str = PENDING) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,))[0][0])

    def depth(self) -> float:
        """Rows waiting for the hub (the metrics gauge)."""
        return float(self.count(PENDING))

    def dead(self) -> float:
        """Rows the hub refused for good, waiting for a person (the metrics gauge)."""
        return float(self.count(DEAD))


def _one(rows: list[tuple[Any, ...]], row_id: int) -> OutboxRow:
    if not rows:
        raise NotFound(f"outbox item {row_id} not found")
    return OutboxRow(*rows[0])
