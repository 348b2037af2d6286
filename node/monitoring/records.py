"""The post-loan records in the node's SQLite: alerts, sent reminders, the audit trail of every
post-loan action (actor and time), and the hub alert cursor the Watch stream resumes from."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.origination.store import NodeStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS post_loan_alerts (
  alert_id TEXT PRIMARY KEY, loan_id TEXT NOT NULL, application_id TEXT NOT NULL, rule TEXT NOT NULL,
  level TEXT NOT NULL, detail TEXT NOT NULL, raised_at REAL NOT NULL, task_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS post_loan_alerts_by_application ON post_loan_alerts (application_id);
CREATE TABLE IF NOT EXISTS post_loan_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sms_messages (
  message_id TEXT PRIMARY KEY, phone TEXT NOT NULL, text TEXT NOT NULL, sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS node_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    loan_id: str
    application_id: str
    rule: str
    level: str
    detail: str
    raised_at: float
    task_id: str = ""


@dataclass(frozen=True)
class AuditRow:
    at: float
    actor: str
    action: str
    subject: str
    detail: str


class PostLoanRecords:
    """Post-loan tables on the node store's connection (so they commit with its transactions)."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store
        self._db = store._db
        self._db.executescript(SCHEMA)

    def add_alert_in(self, db: sqlite3.Connection, alert: AlertRow) -> bool:
        """Stores the alert unless its id is known (a batch re-run, a redelivered hub alert)."""
        cur = db.execute(
            "INSERT OR IGNORE INTO post_loan_alerts VALUES (?,?,?,?,?,?,?,?)",
            (
                alert.alert_id,
                alert.loan_id,
                alert.application_id,
                alert.rule,
                alert.level,
                alert.detail,
                alert.raised_at,
                alert.task_id,
            ),
        )
        return cur.rowcount == 1

    def has_alert(self, alert_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM post_loan_alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        return row is not None

    def alerts(self, application_id: str = "") -> list[AlertRow]:
        sql = "SELECT * FROM post_loan_alerts" + (" WHERE application_id = ?" if application_id else "")
        rows = self._db.execute(sql + " ORDER BY raised_at, rowid", (application_id,) if application_id else ())
        return [AlertRow(*r) for r in rows]

    def audit_in(self, db: sqlite3.Connection, at: float, actor: str, action: str, subject: str, detail: str) -> None:
        db.execute(
            "INSERT INTO post_loan_audit (at, actor, action, subject, detail) VALUES (?,?,?,?,?)",
            (at, actor, action, subject, detail),
        )

    def audit(self, subjects: set[str] | None = None) -> list[AuditRow]:
        rows = [
            AuditRow(*r) for r in self._db.execute("SELECT at, actor, action, subject, detail FROM post_loan_audit")
        ]
        return [r for r in rows if subjects is None or r.subject in subjects]

    def record_sms_in(self, db: sqlite3.Connection, message_id: str, phone: str, text: str, at: float) -> bool:
        cur = db.execute("INSERT OR IGNORE INTO sms_messages VALUES (?,?,?,?)", (message_id, phone, text, at))
        return cur.rowcount == 1

    def sms_messages(self) -> list[tuple[str, str, str, float]]:
        return list(self._db.execute("SELECT message_id, phone, text, sent_at FROM sms_messages ORDER BY rowid"))

    def state(self, name: str) -> str:
        row = self._db.execute("SELECT value FROM node_state WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else ""

    def set_state_in(self, db: sqlite3.Connection, name: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO node_state VALUES (?,?)", (name, value))
