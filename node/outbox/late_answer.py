"""What a Check delivered from the outbox changes on the node: the application learns the
consortium's answer after its decision was made without it — or, when a person gives the
queued Check up, that no answer will come (``give_up_check_in``).

The decision is not re-taken automatically (a hub flag alone never decides, PIPL art. 24): the
answer is stored on the application (``decision["consortium_late"]``, shown as
``DecisionView.consortium_late``), and while the case is still referred its open credit-review
task gets the hub's reason codes appended, so the credit approver sees them before deciding.
"""

from __future__ import annotations

import base64
import logging
import sqlite3

from lianfang.v1 import consortium_pb2

from node.origination import states
from node.origination.store import Application, NodeStore
from runtime.timestamps import to_timestamp

log = logging.getLogger("lianfang.node.outbox")


def late_reasons(answer: consortium_pb2.CheckResponse) -> str:
    codes = sorted({r.code for r in answer.reasons})
    return ", ".join(codes) if codes else "no consortium hits"


def attach_late_answer_in(
    store: NodeStore, db: sqlite3.Connection, application_id: str, answer: consortium_pb2.CheckResponse, now: float
) -> None:
    app = store.get_application(application_id)
    app.decision["consortium_late"] = base64.b64encode(answer.SerializeToString()).decode()
    app.decision["consortium_late_at"] = now
    task = _settle_pending_in(store, db, app, f"consortium answered late: {late_reasons(answer)}", now)
    log.info(
        "late consortium answer attached",
        extra={"fields": {"application": application_id, "state": app.state, "task": task}},
    )


def give_up_check_in(
    store: NodeStore, db: sqlite3.Connection, application_id: str, actor: str, reason: str, now: float
) -> None:
    """A person discarded the application's queued Check: the application stops waiting for an
    answer, and says who gave it up and why."""
    app = store.get_application(application_id)
    note = f"consortium Check given up by {actor} at {to_timestamp(now).ToJsonString()}: {reason}"
    app.decision["consortium_given_up"] = note
    task = _settle_pending_in(store, db, app, note, now)
    log.warning(
        "queued consortium Check given up",
        extra={"fields": {"application": application_id, "state": app.state, "task": task, "by": actor}},
    )


def _settle_pending_in(store: NodeStore, db: sqlite3.Connection, app: Application, note: str, now: float) -> str:
    """The application no longer waits for the hub; ``note`` goes on its open credit review
    (when still referred). The review task's id, or ""."""
    app.decision.pop("consortium_pending", None)
    store.save_in(db, app, now)
    task = store.open_task_for(app.application_id, "credit_review") if app.state == states.REFERRED else None
    if task is None:
        return ""
    task.reason = f"{task.reason}; {note}" if task.reason else note
    store.save_task_in(db, task)
    return task.task_id
