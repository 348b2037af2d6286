"""The node's own records in SQLite: applications, their transitions, tasks, contracts,
drawdowns and loans, and the outbox of hub submissions (``node.outbox``). Raw applicant data
stays here, inside the lender; only tokens leave."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from node.origination.states import check_transition
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from runtime.sqlite_writes import open_sqlite, write_transaction

log = logging.getLogger("lianfang.node.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
  application_id TEXT PRIMARY KEY, application_ref TEXT UNIQUE NOT NULL, state TEXT NOT NULL,
  body TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
  application_id TEXT NOT NULL, seq INTEGER NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
  actor TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (application_id, seq)
);
CREATE TABLE IF NOT EXISTS tasks (
  task_id TEXT PRIMARY KEY, kind TEXT NOT NULL, application_id TEXT NOT NULL, assignee TEXT NOT NULL,
  state TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_assignee ON tasks (assignee, state);
CREATE TABLE IF NOT EXISTS records (
  kind TEXT NOT NULL, record_id TEXT NOT NULL, application_id TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, record_id)
);
CREATE INDEX IF NOT EXISTS records_by_application ON records (application_id, kind);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, idempotency_key TEXT UNIQUE NOT NULL,
  application_id TEXT NOT NULL, request BLOB NOT NULL, created_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending', sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_application ON outbox (application_id, id);
CREATE INDEX IF NOT EXISTS outbox_payloads ON outbox (sent_at) WHERE length(request) > 0;
"""


@dataclass
class Application:
    """An application and everything decided about it (stored as one JSON body)."""

    application_id: str
    application_ref: str
    state: str
    product_code: str
    applicant_kind: str
    applicant_name: str
    identifiers: dict[str, Any]
    industry: str
    locality: str
    amount_fen: int
    term_months: int
    repayment_method: str
    consent_ref: str
    features: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    final_limit_fen: int = 0
    final_rate: float = 0.0
    drawn_fen: int = 0
    assigned_to: str = ""
    limit_frozen: bool = False  # post-loan monitoring froze the unused limit (no drawdowns)
    owner: str = ""
    """The customer (JWT subject) whose application it is: who submitted it, or, for one staff
    submitted on a borrower's behalf, the first customer to reach it by its (unguessable) id."""
    unfreeze_on_flow: bool = False  # a disposition: unfreeze once the account's flows resume
    collateral_value_fen: int = 0  # the pledged asset's value (products lending against collateral)


@dataclass(frozen=True)
class TransitionRecord:
    from_state: str
    to_state: str
    actor: str
    reason: str
    at: float


@dataclass
class Task:
    task_id: str
    kind: str
    application_id: str
    assignee: str
    state: str = "open"
    checklist: list[str] = field(default_factory=list)
    reason: str = ""


def new_id(prefix: str) -> str:
    """``<prefix>_`` and 80 random bits in lower-case base32 (a-z, 2-7). Ids travel to the hub as
    references (a task id is a marker's case reference), whose free text is refused when it holds
    11 digits in a row (``runtime.identifier_text``): hex ids would, about once in 30."""
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"


MIGRATIONS = (
    # 1: a ``filed_marker`` record per marker ConfirmFraud filed before they were recorded
    # (``node.markers``), from the application's list of them (``decision.fraud_filed``)
    """INSERT OR IGNORE INTO records (kind, record_id, application_id, body)
    SELECT 'filed_marker', j.value, a.application_id,
           json_object('marker_id', j.value, 'application_id', a.application_id)
    FROM applications a, json_each(a.body, '$.decision.fraud_filed') j
    WHERE instr(a.body, '"fraud_filed"') > 0""",
)
"""Steps from an older database to this version, in order; append only."""

BUSY_TIMEOUT_MS = 5_000
"""How long a write waits for another connection's lock (sqlite3's default, made explicit)."""


def _migrate(db: sqlite3.Connection) -> None:
    """Brings a database written by an earlier version up to this one, each step once and
    whole (``PRAGMA user_version`` counts the steps done, in the step's own transaction, so
    a process opening the file at the same moment finds it done and skips it)."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
        return  # up to date: no write lock taken
    for version, sql in enumerate(MIGRATIONS, start=1):
        with write_transaction(db, log, "node database"):
            (done,) = db.execute("PRAGMA user_version").fetchone()
            if done < version:
                db.execute(sql)
                db.execute(f"PRAGMA user_version = {version}")


class NodeStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = open_sqlite(  # a read-only file refused here, not at the first write
            path,
            SCHEMA,
            [
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                # Deleted or overwritten bytes are zeroed, not left in free pages (with ``scrub_wal``:
                # a dropped outbox payload leaves the files; space freed before this was set waits
                # for a VACUUM).
                "PRAGMA secure_delete = ON",
            ],
            timeout=BUSY_TIMEOUT_MS / 1000,
            prepare=_migrate,
        )

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """All writes of one business step commit together or not at all; a database that
        cannot be written now (disk full, read-only, locked) is UNAVAILABLE, its cause logged
        (``runtime.sqlite_writes``)."""
        return write_transaction(self._db, log, "node database")

    def scrub_wal(self) -> bool:
        """Checkpoints the write-ahead log and truncates it: bytes just overwritten (a dropped
        outbox payload) no longer linger in the ``-wal`` file. False (and a warning) when another
        connection's reader kept it from finishing, or it failed.

        It does not wait for that reader: the node's one connection serves the event loop, and
        waiting out the busy timeout (``BUSY_TIMEOUT_MS``) would stall every decision meanwhile.
        The next discard or payload pass checkpoints again."""
        db = self._db
        try:
            db.execute("PRAGMA busy_timeout = 0")
            try:
                (busy, _, _) = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as error:
            log.warning("write-ahead log not truncated", extra={"fields": {"error": str(error)}})
            return False
        if busy:
            log.warning("write-ahead log not truncated: another connection is reading the database")
        return not busy

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read (for the modules that own their tables, e.g. the outbox)."""
        return self._db.execute(sql, params).fetchall()

    # -- applications ------------------------------------------------------------------------
    def create_application(self, app: Application, actor: str, at: float) -> None:
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO applications VALUES (?,?,?,?,?)",
                    (app.application_id, app.application_ref, app.state, json.dumps(asdict(app)), at),
                )
                self._log(db, app.application_id, "", app.state, actor, "application received", at)
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"application_ref {app.application_ref!r} was already submitted") from None

    def get_application(self, application_id: str) -> Application:
        row = self._db.execute("SELECT body FROM applications WHERE application_id = ?", (application_id,)).fetchone()
        if row is None:
            raise NotFound(f"application {application_id!r} not found")
        return Application(**json.loads(row[0]))

    def find_by_ref(self, application_ref: str) -> Application | None:
        row = self._db.execute("SELECT body FROM applications WHERE application_ref = ?", (application_ref,)).fetchone()
        return Application(**json.loads(row[0])) if row else None

    def save(self, app: Application, at: float, *, to_state: str = "", actor: str = "", reason: str = "") -> None:
        """Stores the application, moving it to ``to_state`` (checked) when given."""
        with self.transaction() as db:
            self.save_in(db, app, at, to_state=to_state, actor=actor, reason=reason)

    def save_in(
        self,
        db: sqlite3.Connection,
        app: Application,
        at: float,
        *,
        to_state: str = "",
        actor: str = "",
        reason: str = "",
    ) -> None:
        row = db.execute("SELECT state FROM applications WHERE application_id = ?", (app.application_id,)).fetchone()
        if row is None:
            raise NotFound(f"application {app.application_id!r} not found")
        if row[0] != app.state:
            raise FailedPrecondition(f"application changed concurrently (now {row[0]})")
        if to_state:
            check_transition(app.state, to_state)
            self._log(db, app.application_id, app.state, to_state, actor, reason, at)
            app.state = to_state
        db.execute(
            "UPDATE applications SET state = ?, body = ?, updated_at = ? WHERE application_id = ?",
            (app.state, json.dumps(asdict(app)), at, app.application_id),
        )

    def _log(
        self,
        db: sqlite3.Connection,
        application_id: str,
        from_state: str,
        to_state: str,
        actor: str,
        reason: str,
        at: float,
    ) -> None:
        (seq,) = db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE application_id = ?", (application_id,)
        ).fetchone()
        db.execute(
            "INSERT INTO transitions VALUES (?,?,?,?,?,?,?)",
            (application_id, seq, from_state, to_state, actor, reason, at),
        )

    def history(self, application_id: str) -> list[TransitionRecord]:
        rows = self._db.execute(
            "SELECT from_state, to_state, actor, reason, at FROM transitions WHERE application_id = ? ORDER BY seq",
            (application_id,),
        ).fetchall()
        return [TransitionRecord(*r) for r in rows]

    # -- tasks -------------------------------------------------------------------------------
    def add_task_in(self, db: sqlite3.Connection, task: Task) -> None:
        db.execute(
            "INSERT INTO tasks VALUES (?,?,?,?,?,?)",
            (task.task_id, task.kind, task.application_id, task.assignee, task.state, json.dumps(asdict(task))),
        )

    def get_task(self, task_id: str) -> Task:
        row = self._db.execute("SELECT body FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"task {task_id!r} not found")
        return Task(**json.loads(row[0]))

    def close_task_in(self, db: sqlite3.Connection, task: Task) -> None:
        task.state = "done"
        db.execute(
            "UPDATE tasks SET state = 'done', body = ? WHERE task_id = ?", (json.dumps(asdict(task)), task.task_id)
        )

    def save_task_in(self, db: sqlite3.Connection, task: Task) -> None:
        db.execute("UPDATE tasks SET body = ? WHERE task_id = ?", (json.dumps(asdict(task)), task.task_id))

    def open_task_for(self, application_id: str, kind: str) -> Task | None:
        row = self._db.execute(
            "SELECT body FROM tasks WHERE application_id = ? AND kind = ? AND state = 'open'", (application_id, kind)
        ).fetchone()
        return Task(**json.loads(row[0])) if row else None

    def tasks(self, assignee: str, include_done: bool = False) -> list[Task]:
        sql = "SELECT body FROM tasks WHERE assignee = ?" + ("" if include_done else " AND state = 'open'")
        return [Task(**json.loads(r[0])) for r in self._db.execute(sql + " ORDER BY rowid", (assignee,))]

    # -- contracts, drawdowns, loans: JSON records keyed by kind ----------------------------
    def put_record_in(
        self, db: sqlite3.Connection, kind: str, record_id: str, application_id: str, body: dict[str, Any]
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO records VALUES (?,?,?,?)", (kind, record_id, application_id, json.dumps(body))
        )

    def get_record(self, kind: str, record_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT body FROM records WHERE kind = ? AND record_id = ?", (kind, record_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"{kind} {record_id!r} not found")
        return dict(json.loads(row[0]))

    def records_for(self, kind: str, application_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT body FROM records WHERE kind = ? AND application_id = ? ORDER BY rowid", (kind, application_id)
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def applications(self) -> list[Application]:
        rows = self._db.execute("SELECT body FROM applications ORDER BY rowid").fetchall()
        return [Application(**json.loads(r[0])) for r in rows]

    def records_of_kind(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM records WHERE kind = ? ORDER BY rowid", (kind,)).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def tasks_for(self, application_id: str) -> list[Task]:
        rows = self._db.execute("SELECT body FROM tasks WHERE application_id = ? ORDER BY rowid", (application_id,))
        return [Task(**json.loads(r[0])) for r in rows]

    def close(self) -> None:
        self._db.close()
