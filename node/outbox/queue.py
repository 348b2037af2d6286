"""The ``outbox`` table of the node's SQLite: one row per hub submission, written in the same
transaction as the state change that caused it (a decision, an outcome), so a crash can never
keep one without the other (the table is created with the node's others, ``node.origination.store``).

A row is ``pending`` until the hub acknowledges it (then ``sent``), or ``dead`` when the hub
refused it for good (the error is kept; ``retry`` puts it back). Rows are delivered in id
order per application: a row waits while an earlier row of its application is not sent, so an
outcome never overtakes its application's Check. The idempotency key is UNIQUE: enqueueing the
same submission twice (a second drawdown's FUNDED) keeps the first.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass

from node.origination.store import NodeStore
from runtime.errors import FailedPrecondition, NotFound

CHECK, OUTCOME = "check", "outcome"
UNTOKENISED_CHECK = "check_untokenised"  # OPRF mode: a Check the key service gave no tokens for yet
PENDING, SENT, DEAD = "pending", "sent", "dead"
STATES = (PENDING, SENT, DEAD)

_COLUMNS = (
    "id, kind, idempotency_key, application_id, request, created_at, attempts, next_attempt_at, last_error, state"
)


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


class Outbox:
    """The queue over the node's store; ``notify()`` wakes the drainer after an enqueue."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store
        self.wakeup = asyncio.Event()

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

    def notify(self) -> None:
        self.wakeup.set()

    def due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        """Pending rows whose time has come and that no earlier unsent row of theirs blocks."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM outbox o WHERE state = 'pending' AND next_attempt_at <= ? AND NOT EXISTS"
            " (SELECT 1 FROM outbox p WHERE p.application_id = o.application_id AND p.id < o.id"
            " AND p.state != 'sent') ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [OutboxRow(*r) for r in rows]

    def mark_sent_in(self, db: sqlite3.Connection, row_id: int, now: float) -> None:
        db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
            (now, row_id),
        )

    def tokenised(self, row_id: int, request: bytes) -> OutboxRow:
        """An untokenised Check becomes a plain one: its tokenised bytes replace the identifiers."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET kind = ?, request = ? WHERE id = ? AND kind = ?",
                (CHECK, request, row_id, UNTOKENISED_CHECK),
            )
        return self.get(row_id)

    def mark_retry(self, row_id: int, next_attempt_at: float, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (next_attempt_at, error, row_id),
            )

    def mark_dead(self, row_id: int, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, row_id),
            )

    def retry(self, row_id: int, now: float) -> OutboxRow:
        """Puts a dead row back in the queue (due now, its place in its application's order kept)."""
        row = self.get(row_id)
        if row.state != DEAD:
            raise FailedPrecondition(f"outbox item {row_id} is {row.state}; only dead items are retried")
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE id = ?", (now, row_id))
        self.notify()
        return self.get(row_id)

    def get(self, row_id: int) -> OutboxRow:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (row_id,))
        if not rows:
            raise NotFound(f"outbox item {row_id} not found")
        return OutboxRow(*rows[0])

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
