"""The two submissions the node queues for the hub, with their idempotency keys.

* ``check:<application_id>`` — a stage-1 Check that never reached the hub; the hub records an
  application once per (member, application_ref), so a resend never double-counts. In OPRF mode,
  when the key service gave no tokens, the Check is queued with the canonical identifiers to
  make them from (kind ``check_untokenised``); the drainer asks the key service before the hub
  and, once it has the tokens, the row becomes a plain ``check`` without the identifiers;
* ``outcome:<application_id>:<OUTCOME>`` — what became of the application (approved, declined,
  funded, repaid, fraud confirmed), with when it happened; the hub counts an outcome once.
  Funded and repaid can happen again (repaid, then drawn again): those keys end in
  ``:<loan_id>``, the loan that began or ended the borrower's debt, so each time is sent.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Sequence

from lianfang.v1 import common_pb2, consortium_pb2

from node.outbox.queue import CHECK, OUTCOME, UNTOKENISED_CHECK, Outbox


def queue_check_in(
    outbox: Outbox,
    db: sqlite3.Connection,
    request: consortium_pb2.CheckRequest,
    now: float,
    identifiers: Sequence[tuple[int, str]] = (),
    refused: str = "",
) -> None:
    """Queues a Check with its tokens or, without any, with the (type, canonical value) pairs
    they are to be made from; ``refused``: the hub's refusal of it, which queues it dead."""
    application_id = request.application_ref
    key = f"check:{application_id}"
    if refused:
        outbox.enqueue_dead_in(db, CHECK, key, application_id, request.SerializeToString(), now, refused)
        return
    if request.tokens or not identifiers:
        outbox.enqueue_in(db, CHECK, key, application_id, request.SerializeToString(), now)
        return
    payload = {
        "check": base64.b64encode(request.SerializeToString()).decode(),
        "identifiers": [[token_type, value] for token_type, value in identifiers],
    }
    outbox.enqueue_in(db, UNTOKENISED_CHECK, key, application_id, json.dumps(payload).encode(), now)


def untokenised_check(payload: bytes) -> tuple[consortium_pb2.CheckRequest, list[tuple[int, str]]]:
    """The Check and identifiers ``queue_check_in`` queued without tokens."""
    decoded = json.loads(payload)
    request = consortium_pb2.CheckRequest.FromString(base64.b64decode(decoded["check"]))
    return request, [(int(t), str(v)) for t, v in decoded["identifiers"]]


def queue_outcome_in(
    outbox: Outbox, db: sqlite3.Connection, application_id: str, outcome: int, now: float, *, loan_id: str = ""
) -> None:
    """``loan_id``: for funded and repaid, the loan that began or ended the debt (see above)."""
    request = consortium_pb2.ReportOutcomeRequest(application_ref=application_id, outcome=outcome)
    request.occurred_at.FromNanoseconds(int(now * 1e9))
    key = f"outcome:{application_id}:{common_pb2.Outcome.Name(outcome)}" + (f":{loan_id}" if loan_id else "")
    outbox.enqueue_in(db, OUTCOME, key, application_id, request.SerializeToString(), now)
