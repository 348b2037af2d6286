"""The customer manager's disposition of a risk-check task (人工处置), and loans' payments and
repayment.

Outcomes: ``risk_mitigated`` (风险缓释, e.g. a temporary closure for a family illness: the limit
is unfrozen once flows resume, unless told otherwise), ``no_risk`` (unfrozen now), ``escalated``
(stays frozen), ``fraud_confirmed`` (post-loan fraud: the hub gets the outcome and
confirmed-fraud markers; stays frozen). Every step is audited with actor and time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lianfang.v1 import common_pb2, node_pb2

from clients.errors import LianfangRpcError
from node.monitoring.actions import RISK_CHECK, PostLoanActions
from node.monitoring.delinquency import in_default, ledger_started, open_ledger, outstanding, total_due
from node.origination.disbursement import CALLER_ID, CALLER_ID_RULE
from node.origination.engine import Origination
from node.origination.roles import RISK_MANAGER
from node.outbox.submissions import queue_outcome_in
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied

OUTCOMES = ("risk_mitigated", "no_risk", "escalated", "fraud_confirmed")
UNFREEZE = ("when_flows_resume", "now", "keep")
DEFAULT_UNFREEZE = {"risk_mitigated": "when_flows_resume", "no_risk": "now"}
WATCH_KEPT = "kept"
"""A repaid loan's ``watch`` while another loan of its application is still active: the hub
watches the application, so the watch stays for that loan and goes with the last repayment."""


@dataclass(frozen=True)
class Disposition:
    task_id: str
    application_id: str
    outcome: str
    note: str
    unfreeze: str
    actor: str
    at: float


def _validate(r: node_pb2.RecordDispositionRequest) -> str:
    v: list[FieldViolation] = []
    if not r.task_id:
        v.append(FieldViolation("task_id", "is required"))
    if r.outcome not in OUTCOMES:
        v.append(FieldViolation("outcome", f"one of {', '.join(OUTCOMES)}"))
    if not 1 <= len(r.note) <= 2000:
        v.append(FieldViolation("note", "1-2000 characters: what was found"))
    unfreeze = r.unfreeze or DEFAULT_UNFREEZE.get(r.outcome, "keep")
    if unfreeze not in UNFREEZE:
        v.append(FieldViolation("unfreeze", f"one of {', '.join(UNFREEZE)}"))
    elif r.outcome in ("escalated", "fraud_confirmed") and unfreeze != "keep":
        v.append(FieldViolation("unfreeze", f"a {r.outcome} loan stays frozen"))
    if r.outcome == "fraud_confirmed":
        if not r.reason_code:
            v.append(FieldViolation("reason_code", "confirmed fraud needs a reason code"))
        if r.evidence_level == common_pb2.EVIDENCE_LEVEL_UNSPECIFIED:
            v.append(FieldViolation("evidence_level", "confirmed fraud needs an evidence level"))
    if v:
        raise InvalidArgument(v)
    return unfreeze


class Dispositions:
    def __init__(self, engine: Origination, actions: PostLoanActions) -> None:
        self.engine, self.actions = engine, actions
        self.store, self.records = engine.store, actions.records

    async def record(self, r: node_pb2.RecordDispositionRequest, actor: str, role: str) -> Disposition:
        unfreeze = _validate(r)
        task = self.store.get_task(r.task_id)
        if task.kind != RISK_CHECK or task.state != "open":
            raise FailedPrecondition(f"task {r.task_id} is not an open risk-check task")
        if role == "customer_manager" and task.assignee != actor:
            raise PermissionDenied(f"task {r.task_id} is assigned to {task.assignee}")
        if unfreeze != "keep" and in_default(self.store.records_for("loan", task.application_id)):
            raise InvalidArgument.one(
                "unfreeze", "a loan of this facility is defaulted: its limit stays frozen (record it with keep)"
            )
        if r.outcome == "fraud_confirmed" and role != RISK_MANAGER:
            # a consortium-wide confirmed-fraud marker is the risk manager's call (as ConfirmFraud)
            raise PermissionDenied("only a risk manager may confirm fraud; record 'escalated' for review")
        if r.outcome == "fraud_confirmed":  # files the markers first: nothing is closed if the hub fails
            await self.engine.confirm_fraud(
                node_pb2.ConfirmFraudRequest(
                    application_id=task.application_id,
                    reason_code=r.reason_code,
                    evidence_level=r.evidence_level,
                    case_ref=task.task_id,
                ),
                actor,
            )
        now = self.engine.clock()
        app = self.store.get_application(task.application_id)
        done = Disposition(task.task_id, app.application_id, r.outcome, r.note, unfreeze, actor, now)
        with self.store.transaction() as db:
            self.store.close_task_in(db, task)
            self.store.put_record_in(db, "disposition", task.task_id, app.application_id, asdict(done))
            self.records.audit_in(db, now, actor, "disposition", task.task_id, f"{r.outcome}: {r.note}")
            if unfreeze == "now":
                self.actions.unfreeze_in(db, app, now, actor, f"disposition {r.outcome}")
            elif unfreeze == "when_flows_resume" and app.limit_frozen:
                app.unfreeze_on_flow = True
                self.store.save_in(db, app, now)
        return done

    async def repay(
        self, loan_id: str, comment: str, actor: str, amount_fen: int = 0, payment_id: str = ""
    ) -> dict[str, object]:
        """A payment of ``amount_fen`` into the loan's ledger (applied to the instalments in
        order), or with 0 the loan repaid in full; a defaulted loan may still be paid. Once repaid,
        the hub's outcome and watch are the application's, not the loan's: while another loan of
        the application is active both stay as they are; repaying the last one queues the
        outcome for the hub (the outbox) and has the hub stop watching the borrower (best effort
        here; the monitoring batch retries the unregistration)."""
        if amount_fen < 0 or (payment_id and not amount_fen):
            raise InvalidArgument.one("amount_fen", "a payment is a positive amount (none: repaid in full)")
        if amount_fen and not CALLER_ID.match(payment_id):
            raise InvalidArgument.one("payment_id", f"a payment needs its id: {CALLER_ID_RULE}")
        now = self.engine.clock()
        started = ledger_started(self.store, now)  # recorded once, in its own transaction
        with self.store.transaction() as db:
            loan = self.store.get_record("loan", loan_id)
            recorded = loan.get("payments", {}).get(payment_id) if amount_fen else None
            if recorded is not None:  # recorded before (a resent call), whatever became of the loan since
                if recorded != amount_fen:
                    raise InvalidArgument.one("payment_id", "was recorded with another amount")
                return loan
            if not amount_fen and loan.get("state") == "repaid":  # a repayment in full sent again
                return loan
            if not outstanding(loan):
                raise FailedPrecondition(f"loan {loan_id} is {loan.get('state')}, not active")
            application_id = loan["application_id"]
            if amount_fen:
                open_ledger(loan, started)  # a loan from before the ledger
                owed = total_due(loan) - int(loan["paid_fen"])
                if total_due(loan) and amount_fen > owed:  # a keying error, or a refund the core banking owes
                    raise InvalidArgument.one("amount_fen", f"at most {owed} fen is still owed on this loan")
                loan.setdefault("payments", {})[payment_id] = amount_fen
                loan["paid_fen"] = int(loan["paid_fen"]) + amount_fen
                detail = f"{amount_fen / 100:.2f} yuan" + (f": {comment}" if comment else "")
                self.records.audit_in(db, now, actor, "payment", loan_id, detail)
                # not closed by payments while they are owed more, nor when its ledger counts no
                # instalment (a loan from before the ledger: closed by a repayment in full)
                if loan["paid_fen"] < total_due(loan) or total_due(loan) == 0:
                    self.store.put_record_in(db, "loan", loan_id, application_id, loan)
                    return loan
            others = [x for x in self.store.records_for("loan", application_id) if x["loan_id"] != loan_id]
            last = not any(outstanding(x) for x in others)  # a defaulted loan is still owed
            watched = loan.get("watch") == "registered" or any(x.get("watch") == WATCH_KEPT for x in others)
            loan["state"] = "repaid"
            if not last and loan.get("watch") == "registered":
                loan["watch"] = WATCH_KEPT  # not "registered": the batch would unregister the application
            elif last and watched:
                loan["watch"] = "registered"  # until the hub confirms: the batch retries the unregistration
            self.store.put_record_in(db, "loan", loan_id, application_id, loan)
            self.records.audit_in(db, now, actor, "repaid", loan_id, comment or "repaid in full")
            if last:
                queue_outcome_in(
                    self.engine.outbox, db, application_id, common_pb2.OUTCOME_REPAID, now, loan_id=loan_id
                )
        if not last:
            return loan
        self.engine.outbox.notify()
        if watched:
            try:
                await self.engine.hub.unregister_watch(application_id, timeout=self.engine.policy.hub_deadline)
            except LianfangRpcError:
                return loan  # the batch unregisters later
            loan["watch"] = "unregistered"
            with self.store.transaction() as db:  # read again: keep whatever changed during the hub call
                for current in self.store.records_for("loan", application_id):
                    if current.get("state") == "repaid" and current.get("watch") in ("registered", WATCH_KEPT):
                        current["watch"] = "unregistered"
                        self.store.put_record_in(db, "loan", current["loan_id"], application_id, current)
        return loan
