"""The two submissions the node queues for the hub, with their idempotency keys.

* ``check:<application_id>`` — a stage-1 Check that never reached the hub; the hub records an
  application once per (member, application_ref), so a resend never double-counts;
* ``outcome:<application_id>:<OUTCOME>`` — what became of the application (approved, declined,
  funded, repaid, fraud confirmed), with when it happened; the hub counts an outcome once.
"""

from __future__ import annotations

import sqlite3

from lianfang.v1 import common_pb2, consortium_pb2

from node.outbox.queue import CHECK, OUTCOME, Outbox


def queue_check_in(outbox: Outbox, db: sqlite3.Connection, request: consortium_pb2.CheckRequest, now: float) -> None:
    application_id = request.application_ref
    outbox.enqueue_in(db, CHECK, f"check:{application_id}", application_id, request.SerializeToString(), now)


def queue_outcome_in(outbox: Outbox, db: sqlite3.Connection, application_id: str, outcome: int, now: float) -> None:
    request = consortium_pb2.ReportOutcomeRequest(application_ref=application_id, outcome=outcome)
    request.occurred_at.FromNanoseconds(int(now * 1e9))
    key = f"outcome:{application_id}:{common_pb2.Outcome.Name(outcome)}"
    outbox.enqueue_in(db, OUTCOME, key, application_id, request.SerializeToString(), now)
