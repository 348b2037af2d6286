"""Seed 002 stage 3 of the origination engine: the e-contract (document hash signed by the
borrower, re-verified on every read), drawdowns within the limit, entrusted vs self payment by
the product's threshold, disbursement review above a threshold, the repayment schedule, and the
hub watch on the borrower once funded."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import sqlite3
from typing import Any

from lianfang.v1 import common_pb2, node_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.identity.normalise import InvalidIdentifier, normalise_bank_account
from node.monitoring.delinquency import in_default, outstanding
from node.monitoring.sms import SmsChannel
from node.origination import states
from node.origination.contracts import CONTRACT_TERMS, contract_document, verify_signature
from node.origination.lender_calendar import lender_date
from node.origination.products import Product
from node.origination.roles import DISBURSEMENT_REVIEWERS
from node.origination.schedule import add_months, repayment_schedule
from node.origination.signing_codes import (
    DAY,
    MAX_CODES_PER_DAY,
    RESEND_AFTER_SECONDS,
    code_problem,
    code_state,
    masked_phone,
    message_text,
    new_code,
    next_day_starts,
    sent_today,
)
from node.origination.stage1_policy import Stage1Policy
from node.origination.store import Application, NodeStore, Task, new_id
from node.outbox import Outbox
from node.outbox.submissions import queue_outcome_in
from runtime.clock import Clock
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, ResourceExhausted

log = logging.getLogger("lianfang.node.origination")
CALLER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
"""A caller's own id for a request it may send again (a drawdown's, a payment's)."""
CALLER_ID_RULE = "1-64 characters of [A-Za-z0-9._:-]"


class Disbursement:
    """Stage 3, mixed into :class:`node.origination.engine.Origination` (whose fields it uses)."""

    store: NodeStore
    products: dict[str, Product]
    hub: HubClient
    clock: Clock
    outbox: Outbox
    policy: Stage1Policy
    sms: SmsChannel

    def contract(self, application_id: str) -> dict[str, Any]:
        """The contract of an approved application (created on first read, then fixed)."""
        existing = self.store.records_for("contract", application_id)
        if existing:
            return existing[0]
        app = self.store.get_application(application_id)
        if app.state != states.APPROVED:
            raise FailedPrecondition(f"application is {app.state}; a contract needs an approved application")
        contract_id = new_id("ct")
        sign_by = dt.date.fromisoformat(self._sign_by(app))
        document = contract_document(app, self.products[app.product_code], contract_id, sign_by)
        record = {  # created now and then fixed: the sign-by date counts from the approval
            "contract_id": contract_id,
            "application_id": application_id,
            "document": document,
            "document_sha256": hashlib.sha256(document.encode()).hexdigest(),
            "state": "awaiting_signature",
            "borrower_public_key": "",
            "signature": "",
            "terms": CONTRACT_TERMS,
            "sign_by": sign_by.isoformat(),
        }
        with self.store.transaction() as db:
            self.store.put_record_in(db, "contract", contract_id, application_id, record)
        return record

    def _sign_by(self, app: Application) -> str:
        """The date (ISO) an approval must be signed by: its contract's, else (no contract yet,
        or one of earlier terms stating none) the product's approval_valid_days from the approval."""
        contracts = self.store.records_for("contract", app.application_id)
        if contracts and "sign_by" in contracts[0]:
            return str(contracts[0]["sign_by"])
        approved = self._entered(app.application_id, states.APPROVED) or self.clock()
        return lender_date(approved + self.products[app.product_code].approval_valid_days * DAY).isoformat()

    def expire_if_due(self, application_id: str) -> None:
        """An approval left unsigned past its sign-by date expires: the application becomes
        ``expired`` (out of the fund-utilisation KPI; the applicant applies again) and the caller
        gets FAILED_PRECONDITION."""
        app = self.store.get_application(application_id)
        now = self.clock()
        sign_by = self._sign_by(app) if app.state == states.APPROVED else ""
        if not sign_by or lender_date(now).isoformat() <= sign_by:  # ISO dates sort as dates
            return
        self.store.save(app, now, to_state=states.EXPIRED, actor="system", reason=f"not signed by {sign_by}")
        raise FailedPrecondition(f"the approval expired: the contract was to be signed by {sign_by}")

    def expire_unsigned(self) -> list[str]:
        """The daily sweep: every approval past its sign-by date expires; their ids."""
        expired = []
        for app in self.store.applications():
            if app.state != states.APPROVED:
                continue
            try:
                self.expire_if_due(app.application_id)
            except FailedPrecondition:
                expired.append(app.application_id)
        return expired

    def send_signing_code(self, application_id: str, actor: str) -> tuple[str, float]:
        """Texts a new one-time signing code to the applicant's phone (``signing_codes``); the
        masked phone and when the code expires."""
        contract = self.contract(application_id)
        if contract["state"] == "signed":
            raise FailedPrecondition("the contract is already signed")
        self.expire_if_due(contract["application_id"])
        phones = self.store.get_application(application_id).identifiers.get("phones") or []
        if not phones:
            raise FailedPrecondition("the application gave no phone to send a signing code to")
        now, last = self.clock(), contract.get("signing_code")
        if last is not None and now < last["sent_at"] + RESEND_AFTER_SECONDS:
            wait = last["sent_at"] + RESEND_AFTER_SECONDS - now
            raise ResourceExhausted(
                f"a code was sent {now - last['sent_at']:.0f} s ago: ask again in {wait:.0f} s", retry_after=wait
            )
        today = sent_today(last, now)
        if today >= MAX_CODES_PER_DAY:
            raise ResourceExhausted(f"{today} signing codes sent today", retry_after=next_day_starts(now) - now)
        code = new_code()
        contract["signing_code"] = code_state(code, now, today + 1)
        with self.store.transaction() as db:  # kept before it is sent: a code in hand always signs
            self.store.put_record_in(db, "contract", contract["contract_id"], application_id, contract)
        self.sms.send(f"sign-{contract['contract_id']}-{now:.3f}", phones[0], message_text(code), now)
        log.info("signing code sent", extra={"fields": {"application": application_id, "by": actor}})
        return masked_phone(phones[0]), contract["signing_code"]["expires_at"]

    def sign(self, r: node_pb2.SignContractRequest, actor: str) -> dict[str, Any]:
        """Signs with the face check, the code texted to the applicant (``send_signing_code``) and
        the borrower's signature of the document; a wrong code is one of the code's tries."""
        contract = self.contract(r.application_id)
        if contract["state"] == "signed":
            raise FailedPrecondition("the contract is already signed")
        self.expire_if_due(contract["application_id"])
        v = []
        if not r.face_verified:
            v.append(FieldViolation("face_verified", "the face check at signing must pass"))
        if not verify_signature(contract["document"], r.borrower_public_key, r.signature):
            v.append(FieldViolation("signature", "not a valid Ed25519 signature of the contract's SHA-256 digest"))
        state = contract.get("signing_code")
        problem = code_problem(state, r.sms_code, self.clock())
        if problem is not None:
            if state is not None:  # a wrong try counts, kept
                with self.store.transaction() as db:
                    self.store.put_record_in(db, "contract", contract["contract_id"], r.application_id, contract)
            v.append(FieldViolation("sms_code", problem))
        if v:
            raise InvalidArgument(v)
        app = self.store.get_application(r.application_id)
        contract.pop("signing_code", None)  # used: it signs nothing else
        contract.update(state="signed", borrower_public_key=r.borrower_public_key.hex(), signature=r.signature.hex())
        with self.store.transaction() as db:
            self.store.put_record_in(db, "contract", contract["contract_id"], r.application_id, contract)
            self.store.save_in(
                db,
                app,
                self.clock(),
                to_state=states.SIGNED,
                actor=actor,
                reason="signed with face check, SMS code and digital signature",
            )
        return contract

    async def drawdown(self, r: node_pb2.RequestDrawdownRequest, actor: str) -> dict[str, Any]:
        """One drawdown of the signed limit. 受托支付 and the disbursement review apply to what
        is drawn in all, not to each drawdown: four drawdowns of 87,500 yuan under a 100,000
        threshold must not pay 350,000 to the borrower unreviewed. A ``request_id`` sent again
        answers the drawdown it made (a client retrying after a timeout pays out once)."""
        app = self.store.get_application(r.application_id)
        earlier = self.store.records_for("drawdown", app.application_id)
        if r.request_id:
            if not CALLER_ID.match(r.request_id):
                raise InvalidArgument.one("request_id", CALLER_ID_RULE)
            same = next((d for d in earlier if d.get("request_id") == r.request_id), None)
            if same is not None:
                if (int(same["amount_fen"]), same["payee_account"]) != (r.amount_fen, _payee_account(r.payee_account)):
                    raise InvalidArgument.one("request_id", "was used for another drawdown of this application")
                return same
        _refuse_unpayable(app, self.store.records_for("loan", app.application_id))
        product = self.products[app.product_code]
        stated = self._terms(app.application_id) >= CONTRACT_TERMS  # held to what its contract says
        signed = self._entered(app.application_id, states.SIGNED)
        if (
            stated
            and signed is not None
            and lender_date(self.clock()) > add_months(lender_date(signed), product.availability_months)
        ):
            raise FailedPrecondition(
                f"the facility's drawdown period ended {product.availability_months} months after signing"
            )
        available = app.final_limit_fen - app.drawn_fen
        if available <= 0:  # not the amount's fault: nothing is left to draw
            waiting = any(d["state"] == "pending_review" for d in earlier)
            raise FailedPrecondition(
                f"the limit of {app.final_limit_fen // 100} yuan is fully drawn"
                + (" or reserved by drawdowns waiting for review" if waiting else "")
            )
        smallest = min(product.min_drawdown_fen, available) if stated else 1  # what is left may be drawn
        if not 0 < smallest <= r.amount_fen <= available:
            raise InvalidArgument.one("amount_fen", f"must be within {smallest}-{available} (the unused limit)")
        live = [d for d in earlier if d["state"] != "rejected"]
        # 受托支付 is a term: a contract of earlier terms stated it per drawdown. The review is the
        # lender's own control, on the sum for every facility.
        self_paid = sum(int(d["amount_fen"]) for d in live if d["payment_mode"] == "self") if stated else 0
        unreviewed = sum(int(d["amount_fen"]) for d in live if not _went_to_review(d, product))
        required = self_paid + r.amount_fen >= product.entrusted_payment_threshold_fen
        entrusted = required or bool(r.payee_account)  # below the threshold, a payee given is chosen 受托支付
        reviewed = unreviewed + r.amount_fen >= product.disbursement_review_at_fen
        if required and not r.payee_account:
            raise InvalidArgument.one(
                "payee_account",
                f"required once {product.entrusted_payment_threshold_fen // 100} yuan would have been paid to the "
                "borrower (this drawdown with the earlier self-paid ones): entrusted payment (受托支付) pays the "
                "counterparty's account directly",
            )
        payee_account = _payee_account(r.payee_account)
        if entrusted and payee_account in app.identifiers.get("bank_accounts", ()):
            raise InvalidArgument.one(
                "payee_account", "is the borrower's own account: entrusted payment pays the counterparty"
            )
        drawdown = {
            "drawdown_id": new_id("dd"),
            "application_id": app.application_id,
            "amount_fen": r.amount_fen,
            "payment_mode": "entrusted" if entrusted else "self",
            "payee_account": payee_account,
            "state": "pending_review",
            "loan_id": "",
            "request_id": r.request_id,
            "reviewed": reviewed,
        }
        app.drawn_fen += r.amount_fen  # reserved now, released if the reviewer rejects
        with self.store.transaction() as db:
            self.store.put_record_in(db, "drawdown", drawdown["drawdown_id"], app.application_id, drawdown)
            self.store.save_in(db, app, self.clock())
            if reviewed:
                self.store.add_task_in(
                    db,
                    Task(
                        new_id("task"),
                        "disbursement_review",
                        app.application_id,
                        DISBURSEMENT_REVIEWERS,
                        reason=drawdown["drawdown_id"],
                    ),
                )
        if not reviewed:
            return await self._disburse(drawdown, "system", "below the disbursement review threshold")
        return drawdown

    def _terms(self, application_id: str) -> int:
        """The terms the application's contract states (``contracts.CONTRACT_TERMS``)."""
        contracts = self.store.records_for("contract", application_id)
        return int(contracts[0].get("terms", 1)) if contracts else CONTRACT_TERMS

    def _entered(self, application_id: str, state: str) -> float | None:
        """When the application last entered ``state`` (None: never, or before history was kept)."""
        times = [t.at for t in self.store.history(application_id) if t.to_state == state]
        return max(times) if times else None

    async def review(self, drawdown_id: str, approve: bool, comment: str, actor: str) -> dict[str, Any]:
        """Approves (disburses) or rejects one drawdown; its own review task is closed in the
        same transaction, so a review that fails leaves the task in the reviewers' queue."""
        drawdown = self.store.get_record("drawdown", drawdown_id)
        if drawdown["state"] != "pending_review":
            raise FailedPrecondition(f"drawdown is {drawdown['state']}")
        if not comment:
            raise InvalidArgument.one("comment", "a review needs a comment")
        if approve:
            return await self._disburse(drawdown, actor, comment, review_task(self.store, drawdown))
        app = self.store.get_application(drawdown["application_id"])
        with self.store.transaction() as db:
            reject_drawdown_in(self.store, db, app, drawdown, comment)
            self.store.save_in(db, app, self.clock())
        return drawdown

    async def _disburse(
        self, drawdown: dict[str, Any], actor: str, reason: str, task: Task | None = None
    ) -> dict[str, Any]:
        """Funds the drawdown as a loan; ``task``: its review task, closed with it (or not at all).
        A drawdown that waited for review is not paid once monitoring froze the limit or the
        application left its signed/funded states meanwhile: it waits (or is rejected)."""
        app = self.store.get_application(drawdown["application_id"])
        _refuse_unpayable(app, self.store.records_for("loan", app.application_id), waiting=True)
        now = self.clock()
        start = lender_date(now)
        plan = repayment_schedule(
            int(drawdown["amount_fen"]), app.final_rate, app.term_months, app.repayment_method, start
        )
        loan = {
            "loan_id": new_id("loan"),
            "application_id": app.application_id,
            "principal_fen": drawdown["amount_fen"],
            "annual_rate": app.final_rate,
            "term_months": app.term_months,
            "repayment_method": app.repayment_method,
            "payment_mode": drawdown["payment_mode"],
            "state": "active",
            "schedule": [[i.number, i.due.isoformat(), i.principal_fen, i.interest_fen] for i in plan],
            "disbursed_at": now,
            "paid_fen": 0,  # the repayment ledger (RepayLoan with an amount; node.monitoring.delinquency)
            # "registered" once the hub watches the borrower (post-loan alerts); "kept" when repaid
            # while another loan of the application is active (node.monitoring.disposition)
            "watch": "",
        }
        drawdown.update(state="disbursed", loan_id=loan["loan_id"])
        # the hub hears "funded" when the borrower's debt begins, again after it was repaid
        in_debt = any(outstanding(x) for x in self.store.records_for("loan", app.application_id))
        with self.store.transaction() as db:
            if task is not None:
                self.store.close_task_in(db, task)
            self.store.put_record_in(db, "loan", loan["loan_id"], app.application_id, loan)
            self.store.put_record_in(db, "drawdown", drawdown["drawdown_id"], app.application_id, drawdown)
            self.store.save_in(
                db,
                app,
                now,
                to_state=states.FUNDED,
                actor=actor,
                reason=f"{drawdown['payment_mode']} payment of {int(drawdown['amount_fen']) // 100} "
                f"yuan disbursed: {reason}",
            )
            if not in_debt:
                queue_outcome_in(
                    self.outbox, db, app.application_id, common_pb2.OUTCOME_FUNDED, now, loan_id=loan["loan_id"]
                )
        self.outbox.notify()
        await self.register_watch(loan)
        return drawdown

    async def register_watch(self, loan: dict[str, Any]) -> bool:
        """Asks the hub to watch the borrower (best effort: the monitoring batch retries)."""
        try:
            await self.hub.register_watch(loan["application_id"], timeout=self.policy.hub_deadline)
        except LianfangRpcError as exc:
            log.warning("watch not registered", extra={"fields": {"loan": loan["loan_id"], "code": exc.code.name}})
            return False
        loan["watch"] = "registered"
        with self.store.transaction() as db:  # read again: keep whatever changed during the hub call
            current = self.store.get_record("loan", loan["loan_id"])
            current["watch"] = "registered"
            self.store.put_record_in(db, "loan", loan["loan_id"], loan["application_id"], current)
        return True


def review_task(store: NodeStore, drawdown: dict[str, Any]) -> Task | None:
    """The open review task of this drawdown (its reason is the drawdown id): several
    drawdowns of one application may wait for review at once."""
    for task in store.tasks_for(drawdown["application_id"]):
        if task.kind == "disbursement_review" and task.state == "open" and task.reason == drawdown["drawdown_id"]:
            return task
    return None


def reject_drawdown_in(
    store: NodeStore, db: sqlite3.Connection, app: Application, drawdown: dict[str, Any], comment: str
) -> None:
    """Rejects a drawdown pending review in ``db``'s transaction: its review task closes and the
    amount it reserved from ``app`` (which the caller saves) is released."""
    task = review_task(store, drawdown)
    if task is not None:
        store.close_task_in(db, task)
    app.drawn_fen -= int(drawdown["amount_fen"])
    drawdown.update(state="rejected", comment=comment)
    store.put_record_in(db, "drawdown", drawdown["drawdown_id"], app.application_id, drawdown)


def reject_waiting_drawdowns_in(store: NodeStore, db: sqlite3.Connection, app: Application, comment: str) -> str:
    """Rejects every drawdown of ``app`` still waiting for review (nothing will be paid on the
    facility any more: fraud confirmed, a loan defaulted; ``app`` is the caller's to save).
    What was done, for the audit trail ("" when none waited)."""
    waiting = [d for d in store.records_for("drawdown", app.application_id) if d["state"] == "pending_review"]
    for drawdown in waiting:
        reject_drawdown_in(store, db, app, drawdown, comment)
    released = sum(int(d["amount_fen"]) for d in waiting) // 100
    return f"rejected {len(waiting)} drawdown(s) pending review, {released} yuan released" if waiting else ""


def _refuse_unpayable(app: Application, loans: list[dict[str, Any]], *, waiting: bool = False) -> None:
    """No money moves for an application that is not signed or funded, has a defaulted loan, or
    whose unused limit monitoring froze: not for a new drawdown, nor (``waiting``) one that
    waited for review."""
    if app.state not in (states.SIGNED, states.FUNDED):
        raise FailedPrecondition(f"application is {app.state}; drawdowns need a signed contract")
    if in_default(loans):
        raise FailedPrecondition("a loan of this facility is defaulted: no further drawdowns")
    if app.limit_frozen:
        hint = ": reject this drawdown, or approve it once the limit is released" if waiting else ""
        raise FailedPrecondition(f"the unused limit is frozen by post-loan monitoring (a risk check is open){hint}")


def _went_to_review(drawdown: dict[str, Any], product: Product) -> bool:
    """Whether a drawdown was sent to a reviewer (drawdowns from before ``reviewed`` was kept:
    by the threshold on its own amount)."""
    return bool(drawdown.get("reviewed", int(drawdown["amount_fen"]) >= product.disbursement_review_at_fen))


def _payee_account(raw: str) -> str:
    """The payee's account in canonical form, "" when none is given: entrusted payment sends
    the money there, so it must be a plausible bank account (the rule the tokens use)."""
    if not raw:
        return ""
    try:
        return normalise_bank_account(raw, "payee_account")
    except InvalidIdentifier as exc:  # names the field, never echoes the value
        raise InvalidArgument.one(exc.field, exc.description) from None
