"""Reminder messages to borrowers. A real SMS gateway implements ``SmsChannel``; the shipped
channel records each message in the node's database (what was sent, to whom, when), once."""

from __future__ import annotations

import abc
import sqlite3
from pathlib import Path

from node.monitoring.records import PostLoanRecords


class SmsChannel(abc.ABC):
    @abc.abstractmethod
    def send(self, message_id: str, phone: str, text: str, at: float) -> bool:
        """Sends unless ``message_id`` was sent before; whether it was sent now."""


class RecordingSmsChannel(SmsChannel):
    """Records instead of sending (development, tests, and a gateway's outbox)."""

    def __init__(self, records: PostLoanRecords) -> None:
        self.records = records

    def send(self, message_id: str, phone: str, text: str, at: float) -> bool:
        with self.records.store.transaction() as db:
            return self.records.record_sms_in(db, message_id, phone, text, at)


def recorded_messages(database: str | Path, last: int) -> list[tuple[str, str, float]]:
    """The ``last`` messages ``RecordingSmsChannel`` recorded in a node's database, newest last:
    (phone, text, sent at). What a real gateway would have delivered — on a development
    consortium, where a borrower's phone is this table (a signing code, a reminder). Read-only."""
    if not Path(database).is_file():
        raise FileNotFoundError(f"{database}: no node database there")
    db = sqlite3.connect(f"file:{Path(database).absolute()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT phone, text, sent_at FROM sms_messages ORDER BY rowid DESC LIMIT ?", (last,))
        return [(str(p), str(t), float(at)) for p, t, at in rows][::-1]
    finally:
        db.close()
