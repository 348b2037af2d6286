"""Reminder messages to borrowers. A real SMS gateway implements ``SmsChannel``; the shipped
channel records each message in the node's database (what was sent, to whom, when), once."""

from __future__ import annotations

import abc

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
