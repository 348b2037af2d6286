"""What a post-loan finding does: a risk-check task for the loan's customer manager, the unused
limit frozen or unfrozen, and a line in the audit trail for each (actor, time, why)."""

from __future__ import annotations

import sqlite3
from typing import Any

from node.monitoring.delinquency import outstanding
from node.monitoring.records import AlertRow, PostLoanRecords
from node.origination.due_diligence import FieldTeam
from node.origination.store import Application, NodeStore, Task, new_id

RISK_CHECK = "risk_check"
MAX_TASK_REASON = 2000  # a long-open task keeps the latest findings
CHECKLIST = (
    "联系借款人核实经营情况 (call the borrower: is the business operating?)",
    "核对结算账户流水与还款能力 (flows and repayment capacity)",
    "在系统中记录处置结果 (record the disposition)",
)


class PostLoanActions:
    def __init__(self, store: NodeStore, records: PostLoanRecords, team: FieldTeam) -> None:
        self.store, self.records, self.team = store, records, team

    def manager_of(self, app: Application) -> str:
        """The customer manager who did the field visit, else one by locality and industry."""
        for task in self.store.tasks_for(app.application_id):
            if task.kind == "due_diligence":
                return task.assignee
        return self.team.assign(app.locality, app.industry, {}).id

    def raise_in(self, db: sqlite3.Connection, alert: AlertRow, *, task: bool, at: float) -> AlertRow | None:
        """Stores the alert (once; None if already known), opening or joining a risk-check task."""
        if self.records.has_alert(alert.alert_id):
            return None
        task_id = ""
        if task:
            open_task = self.store.open_task_for(alert.application_id, RISK_CHECK)
            if open_task is None:
                app = self.store.get_application(alert.application_id)
                open_task = Task(
                    new_id("task"),
                    RISK_CHECK,
                    alert.application_id,
                    self.manager_of(app),
                    checklist=list(CHECKLIST),
                    reason=alert.detail,
                )
                self.store.add_task_in(db, open_task)
            elif alert.detail not in open_task.reason:  # joined: its manager reads every finding there
                open_task.reason = with_finding(open_task.reason, alert.detail)
                self.store.save_task_in(db, open_task)
            task_id = open_task.task_id
        stored = AlertRow(**{**alert.__dict__, "task_id": task_id})
        self.records.add_alert_in(db, stored)
        self.records.audit_in(db, at, "system", "alert", alert.loan_id, f"{alert.rule} ({alert.level}): {alert.detail}")
        return stored

    def freeze_in(self, db: sqlite3.Connection, app: Application, at: float, actor: str, why: str) -> bool:
        if app.limit_frozen:
            return False
        app.limit_frozen, app.unfreeze_on_flow = True, False
        self.store.save_in(db, app, at)
        left = max(app.final_limit_fen - app.drawn_fen, 0) // 100
        self.records.audit_in(db, at, actor, "freeze", app.application_id, f"unused limit {left} yuan frozen: {why}")
        return True

    def unfreeze_in(self, db: sqlite3.Connection, app: Application, at: float, actor: str, why: str) -> bool:
        if not app.limit_frozen:
            return False
        app.limit_frozen, app.unfreeze_on_flow = False, False
        self.store.save_in(db, app, at)
        self.records.audit_in(db, at, actor, "unfreeze", app.application_id, why)
        return True


def with_finding(reason: str, finding: str) -> str:
    """A risk-check task's reason with one more finding, a line each: the first (why the task
    was opened) and the newest that fit in ``MAX_TASK_REASON`` characters."""
    first, *rest = [*reason.split("\n"), finding]
    kept: list[str] = []
    room = MAX_TASK_REASON - len(first)
    for line in reversed(rest):
        room -= len(line) + 1
        if room < 0:
            break
        kept.insert(0, line)
    return "\n".join([first, *kept])


def active_loans(store: NodeStore) -> list[dict[str, Any]]:
    """Loans being repaid on schedule (the batch monitors them; a defaulted one is in collection)."""
    return [loan for loan in store.records_of_kind("loan") if loan.get("state") == "active"]


def outstanding_loans(store: NodeStore) -> list[dict[str, Any]]:
    """Loans still owed, active or defaulted: the borrower the hub watches, alerts concern."""
    return [loan for loan in store.records_of_kind("loan") if outstanding(loan)]
