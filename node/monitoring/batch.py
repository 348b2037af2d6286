"""The daily post-loan batch (seed 002 stage 4, 非现场监控), one pass over every active loan:

* settlement flows below half the pre-loan average for 3 consecutive months → yellow alert;
* no flow at all in the last complete month → red alert, a risk-check task for the customer
  manager, and the unused limit frozen; once flows resume, a limit whose disposition said so is
  unfrozen;
* an instalment due within 3 days and a balance below it → a reminder SMS (once per instalment);
* an instalment the payments do not cover, past its due date (``node.monitoring.delinquency``)
  → a yellow alert from the first day, a red one with a collection task from 30 days, and after
  more than 90 days the loan is defaulted: its unused limit frozen and the outcome queued for the hub;
* every ``bureau_recheck_days`` a facility's credit bureau report is pulled again; loans opened
  at other lenders since the application was screened that add up to ``bureau_large_loan_share``
  of its limit (half) → a red co-debt alert and a risk-check task (``node.monitoring.bureau``; a
  failed pull is tried on the next run);
* a loan the hub does not watch yet (the hub was unreachable at disbursement) → registered now;
  a repaid loan it still watches → unregistered once no other loan of its application is active
  (no hub client: both skipped).

Time is the caller's (``run(now)``), so every rule is tested without waiting. Re-running the batch
in the same month raises nothing twice (alert ids are per loan, rule and month).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lianfang.v1 import common_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.monitoring.accounts import MONTH_SECONDS, Account, AccountFeed
from node.monitoring.actions import PostLoanActions, active_loans
from node.monitoring.bureau import BureauFeed, bureau_is_down, line_digest, new_lines_elsewhere, set_digest
from node.monitoring.delinquency import DEFAULT_DAYS, SERIOUS_DAYS, in_default, outstanding, overdue, still_owed
from node.monitoring.records import AlertRow
from node.monitoring.sms import SmsChannel
from node.origination.disbursement import reject_waiting_drawdowns_in
from node.origination.engine import source_request
from node.origination.lender_calendar import day_starts
from node.origination.store import Application, NodeStore
from node.outbox import Outbox
from node.outbox.submissions import queue_outcome_in
from node.sources.base import failure_name
from runtime.errors import NotFound

log = logging.getLogger("lianfang.node.monitoring")

LAST_RUN = ("monitoring", "last_run")  # the record holding when the batch last ran
BUREAU_PULL = "bureau_pull"  # record kind: when a facility's bureau report was last pulled
BUREAU_CONCURRENCY = 8  # pulls in flight at once
BUREAU_GIVE_UP = 3  # outages in one run after which the bureau is taken to be down
DROP_SHARE = 0.5
DROP_MONTHS = 3
REMINDER_DAYS = 3


@dataclass
class BatchResult:
    loans_checked: int = 0
    alerts: list[AlertRow] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    unfrozen: list[str] = field(default_factory=list)
    reminders: int = 0
    defaulted: list[str] = field(default_factory=list)  # loan ids
    expired: list[str] = field(default_factory=list)  # application ids: approvals left unsigned
    bureau_reports: int = 0  # bureau reports pulled
    bureau_failed: list[str] = field(default_factory=list)  # application ids whose pull failed (tried next run)
    bureau_outages: int = 0  # of those, the bureau timing out or unavailable
    bureau_not_asked: int = 0  # of those, not asked once the bureau was taken to be down


@dataclass(frozen=True)
class BureauRecheck:
    """How the batch re-pulls the credit bureau after disbursement (node settings)."""

    feed: BureauFeed
    every_days: float = 30.0
    """Days between two pulls of a facility's report; the first comes this long after its first drawdown."""
    large_share: float = 0.5
    """New loans elsewhere alert once they add up to this share of the facility's limit."""
    deadline_seconds: float = 10.0
    """How long one pull may take; a slower bureau counts as failed and is asked again next run."""


def account_of(app: Application, since: float = 0.0) -> Account:
    ids = app.identifiers
    key = ids.get("uscc") if app.applicant_kind != "person" and ids.get("uscc") else ""
    key = key or ids.get("resident_id") or ids.get("legal_rep_resident_id") or app.application_id
    monthly = float(app.features.get("flow_monthly_avg", 0) or 0)
    daily = float(app.features.get("flow_avg_daily_balance", 0) or 0)
    ratio = daily / monthly if monthly > 0 and daily > 0 else 0.125
    return Account(str(key), int(monthly * 100), ratio, since)


def disbursed_at(store: NodeStore, loan: dict[str, Any]) -> float:
    if loan.get("disbursed_at"):
        return float(loan["disbursed_at"])
    funded = [t.at for t in store.history(loan["application_id"]) if t.to_state == "funded"]
    return funded[0] if funded else 0.0


class MonitoringBatch:
    def __init__(
        self,
        store: NodeStore,
        actions: PostLoanActions,
        feed: AccountFeed,
        sms: SmsChannel,
        hub: HubClient | None,
        outbox: Outbox,
        expire_unsigned: Callable[[], list[str]] | None = None,
        *,
        repayment_ledger: bool = True,
        bureau: BureauRecheck | None = None,
    ) -> None:
        self.store, self.actions, self.feed, self.sms, self.hub = store, actions, feed, sms, hub
        self.outbox = outbox  # defaults go to the hub through it
        self.expire_unsigned = expire_unsigned  # approvals past their sign-by date (the engine's)
        self.repayment_ledger = repayment_ledger  # payments are reported: lateness is judged
        self.bureau = bureau  # None: no post-loan bureau pulls
        self._one_at_a_time = asyncio.Lock()
        self._started: set[asyncio.Task[BatchResult]] = set()  # runs of their own (``start``)
        self.records = actions.records

    def last_run(self) -> float | None:
        """When the batch last ran to its end (None: never)."""
        try:
            return float(self.store.get_record(*LAST_RUN)["at"])
        except NotFound:
            return None

    def start(self, now: float) -> asyncio.Task[BatchResult]:
        """A run as a task of its own, which its caller's deadline does not cancel (``stop`` does)."""
        task = asyncio.ensure_future(self.run(now))
        self._started.add(task)
        task.add_done_callback(self._started.discard)
        return task

    async def stop(self) -> None:
        """Cancels the runs under way (the node is stopping; each step is its own transaction)."""
        for task in list(self._started):
            task.cancel()
        await asyncio.gather(*self._started, return_exceptions=True)

    async def run(self, now: float) -> BatchResult:
        """One pass; runs never overlap (the node's daily loop and ``monitor run``, or a run its
        caller stopped waiting for, go one after the other)."""
        async with self._one_at_a_time:
            return await self._run(now)

    async def _run(self, now: float) -> BatchResult:
        result = BatchResult()
        if self.expire_unsigned is not None:
            result.expired = self.expire_unsigned()
        facilities: dict[str, None] = {}  # application ids, in loan order
        for loan in active_loans(self.store):
            result.loans_checked += 1
            facilities[loan["application_id"]] = None
            self._loan(loan, now, result)
            if self.repayment_ledger:
                self._delinquency(loan, now, result)
            if loan.get("watch") != "registered" and self.hub is not None:
                await self._register(loan, now)
        if self.bureau is not None and facilities:
            await self._bureau_pulls(list(facilities), now, result)
        if result.defaulted:
            self.outbox.notify()
        with self.store.transaction() as db:  # when the node restarts, the next run is due from here
            self.store.put_record_in(db, LAST_RUN[0], LAST_RUN[1], "", {"at": now})
        for loan in self.store.records_of_kind("loan") if self.hub is not None else ():
            repaid_and_watched = loan.get("state") == "repaid" and loan.get("watch") == "registered"
            if repaid_and_watched and not self._still_lending(loan["application_id"]):
                await self._unregister(loan, now)
        return result

    def _loan(self, loan: dict[str, Any], now: float, result: BatchResult) -> None:
        loan = self.store.get_record("loan", loan["loan_id"])  # as it is now: the batch awaits the hub
        if loan.get("state") != "active":
            return
        app = self.store.get_application(loan["application_id"])
        loans = self.store.records_for("loan", app.application_id)  # the facility's, read once
        since = min(disbursed_at(self.store, x) for x in loans)
        account = account_of(app, since)
        done = int((now - since) // MONTH_SECONDS)  # complete months of the facility
        loan_id = loan["loan_id"]
        with self.store.transaction() as db:
            if done >= 1:
                flow = self.feed.month_flow(account, done)
                if flow == 0:
                    alert = AlertRow(  # the facility's month: once, whichever of its loans is checked
                        f"{app.application_id}:no_flow:{done}",
                        loan_id,
                        app.application_id,
                        "no_flow",
                        "red",
                        f"no settlement account flow in month {done} after drawdown",
                        now,
                    )
                    known = self._raised_before(loans, "no_flow", done)
                    stored = None if known else self.actions.raise_in(db, alert, task=True, at=now)
                    if stored is not None:  # once per quiet month: a manager's unfreeze stands
                        result.alerts.append(stored)
                        if self.actions.freeze_in(db, app, now, "system", f"no account flow in month {done}"):
                            result.frozen.append(app.application_id)
                elif app.limit_frozen and app.unfreeze_on_flow and not in_default(loans):
                    why = f"flows resumed in month {done} ({flow // 100} yuan), as the disposition asked"
                    if self.actions.unfreeze_in(db, app, now, "system", why):
                        result.unfrozen.append(app.application_id)
            base = account.baseline_monthly_fen
            months = range(done - DROP_MONTHS + 1, done + 1)
            if (
                done >= DROP_MONTHS
                and base > 0
                and not self._raised_before(loans, "flow_drop", done)
                and all(self.feed.month_flow(account, m) < DROP_SHARE * base for m in months)
            ):
                alert = AlertRow(
                    f"{app.application_id}:flow_drop:{done}",
                    loan_id,
                    app.application_id,
                    "flow_drop",
                    "yellow",
                    f"settlement flows below {DROP_SHARE:.0%} of the pre-loan average in months "
                    f"{months[0]}-{months[-1]}",
                    now,
                )
                stored = self.actions.raise_in(db, alert, task=False, at=now)
                if stored is not None:
                    result.alerts.append(stored)
            outbox = self._reminders(db, loan, app, account, done + 1, now, result)
        for message_id, phone, text in outbox:  # after the commit: a message is never sent for a rolled-back alert
            result.reminders += self.sms.send(message_id, phone, text, now)

    def _raised_before(self, loans: list[dict[str, Any]], rule: str, month: int) -> bool:
        """A facility month an earlier version alerted under a loan's id (``<loan>:<rule>:<month>``):
        it was handled then, and must not freeze a released limit again."""
        return any(self.records.has_alert(f"{x['loan_id']}:{rule}:{month}") for x in loans)

    def _delinquency(self, loan: dict[str, Any], now: float, result: BatchResult) -> None:
        loan_id, application_id = loan["loan_id"], loan["application_id"]
        with self.store.transaction() as db:
            # read again: a payment may have come in while this batch waited on the hub
            loan = self.store.get_record("loan", loan_id)
            late = overdue(loan, now) if loan.get("state") == "active" else None
            if late is None:
                return
            if late.days > DEFAULT_DAYS:  # 逾期超过 90 天: substandard (day 90 itself is special mention)
                app = self.store.get_application(application_id)
                loan["state"] = "defaulted"
                self.store.put_record_in(db, "loan", loan_id, application_id, loan)
                why = f"instalment {late.instalment} unpaid {late.days} days past due"
                self.records.audit_in(db, now, "system", "defaulted", loan_id, why)
                queue_outcome_in(self.outbox, db, application_id, common_pb2.OUTCOME_DEFAULTED, now, loan_id=loan_id)
                alert = AlertRow(f"{loan_id}:defaulted", loan_id, application_id, "defaulted", "red", why, now)
                stored = self.actions.raise_in(db, alert, task=True, at=now)
                if self.actions.freeze_in(db, app, now, "system", f"loan {loan_id} defaulted"):
                    result.frozen.append(application_id)
                app.unfreeze_on_flow = False  # a disposition's "unfreeze once flows resume" ends here
                rejected = reject_waiting_drawdowns_in(self.store, db, app, f"loan {loan_id} defaulted")
                self.store.save_in(db, app, now)
                if rejected:
                    self.records.audit_in(db, now, "system", "reject", application_id, rejected)
                result.defaulted.append(loan_id)
            else:
                serious = late.days >= SERIOUS_DAYS
                alert = AlertRow(
                    f"{loan_id}:overdue{'_30' if serious else ''}:{late.instalment}",
                    loan_id,
                    application_id,
                    "overdue",
                    "red" if serious else "yellow",
                    f"instalment {late.instalment} unpaid {late.days} days past due",
                    now,
                )
                stored = self.actions.raise_in(db, alert, task=serious, at=now)  # from 30 days: collection
            if stored is not None:
                result.alerts.append(stored)

    async def _bureau_pulls(self, application_ids: list[str], now: float, result: BatchResult) -> None:
        """The facilities' due pulls, ``BUREAU_CONCURRENCY`` at a time. Once ``BUREAU_GIVE_UP``
        timed out or found the bureau unavailable in this run it is taken to be down: the rest
        wait for the next run (each would wait out its deadline), and the log says so."""
        assert self.bureau is not None
        gate = asyncio.Semaphore(BUREAU_CONCURRENCY)

        await asyncio.gather(*(self._bureau(a, now, result, gate) for a in application_ids))
        if result.bureau_not_asked:
            log.warning(
                "credit bureau down: the remaining pulls wait for the next run",
                extra={"fields": {"not_asked": result.bureau_not_asked}},
            )

    async def _bureau(self, application_id: str, now: float, result: BatchResult, gate: asyncio.Semaphore) -> None:
        """Pulls the facility's bureau report when due, and alerts on new debt elsewhere."""
        assert self.bureau is not None
        loans = self.store.records_for("loan", application_id)
        if not any(x.get("state") == "active" for x in loans):  # defaulted or repaid meanwhile
            return
        since = min(disbursed_at(self.store, x) for x in loans)
        try:
            pulled = self.store.get_record(BUREAU_PULL, application_id)
        except NotFound:
            pulled = {"at": since}
        every = self.bureau.every_days * 86_400
        if now < float(pulled["at"]) + every - min(43_200, every / 4):  # slack: a batch started earlier still pulls
            return
        app = self.store.get_application(application_id)
        try:
            async with gate:
                if result.bureau_outages >= BUREAU_GIVE_UP:
                    result.bureau_failed.append(application_id)  # not asked: tried on the next run
                    result.bureau_not_asked += 1
                    return
                lines = await asyncio.wait_for(
                    self.bureau.feed.credit_lines(source_request(app), since, now), self.bureau.deadline_seconds
                )
        except Exception as error:  # the bureau's failure, whatever it is, must not stop the batch
            log.warning(
                "credit bureau pull failed; tried again on the next run",
                extra={"fields": {"application_id": application_id, "error": failure_name(error)}},
            )
            result.bureau_failed.append(application_id)
            if bureau_is_down(error):  # a refusal of one applicant says nothing of the others
                result.bureau_outages += 1
            return
        result.bureau_reports += 1
        screened_at = self.store.history(application_id)[0].at
        new = new_lines_elsewhere(lines, screened_at)
        alerted = set(pulled.get("alerted", ()))  # digests of the lines an alert named
        fresh = [x for x in new if line_digest(x) not in alerted]  # a bureau may report a loan late
        total = sum(x.amount_fen for x in new)
        with self.store.transaction() as db:
            if fresh and total >= self.bureau.large_share * app.final_limit_fen:
                amount = sum(x.amount_fen for x in fresh)
                detail = (
                    f"credit bureau: {len(fresh)} new loan(s) at other lenders since the "
                    f"{'last alert' if alerted else 'application'}, {amount // 100} yuan (largest "
                    f"{max(x.amount_fen for x in fresh) // 100} yuan); {len(new)} since the application, "
                    f"{total // 100} yuan in all: at least {self.bureau.large_share:.0%} of this facility's limit"
                )
                active = next(x for x in loans if x.get("state") == "active")
                named = sorted(line_digest(x) for x in fresh)  # the id names the set: two alerts never share one
                alert = AlertRow(
                    f"{application_id}:bureau_co_debt:{set_digest(named)}",
                    active["loan_id"],
                    application_id,
                    "bureau_co_debt",
                    "red",
                    detail,
                    now,
                )
                stored = self.actions.raise_in(db, alert, task=True, at=now)
                if stored is not None:
                    result.alerts.append(stored)
                alerted |= {line_digest(x) for x in fresh}
            record = {"at": now, "alerted": sorted(alerted)}
            self.store.put_record_in(db, BUREAU_PULL, application_id, application_id, record)

    def _reminders(
        self,
        db: Any,
        loan: dict[str, Any],
        app: Application,
        account: Account,
        month: int,
        now: float,
        result: BatchResult,
    ) -> list[tuple[str, str, str]]:
        """Alerts for instalments due within 3 days that the balance cannot cover; the
        reminders to send for the new ones (id, phone, text)."""
        balance = self.feed.balance(account, month)
        outbox = []
        phones = app.identifiers.get("phones") or []
        owed = still_owed(loan)  # what payments (the ledger) leave of each instalment
        for number, due, _, _ in loan["schedule"]:
            due_at = day_starts(due)
            amount = owed.get(int(number), 0)
            if not now < due_at <= now + REMINDER_DAYS * 86_400 or amount == 0 or balance >= amount:
                continue
            alert_id = f"{loan['loan_id']}:low_balance:{number}"
            text = (
                f"【贷款还款提醒】您的第{number}期还款 {amount / 100:.2f} 元将于 {due} 到期, 账户余额不足, 请及时存入。"
            )
            alert = AlertRow(
                alert_id,
                loan["loan_id"],
                app.application_id,
                "low_balance",
                "reminder",
                f"instalment {number} of {amount // 100} yuan due {due}; balance below it",
                now,
            )
            stored = self.actions.raise_in(db, alert, task=False, at=now)
            if stored is not None:
                result.alerts.append(stored)
                if phones:
                    outbox.append((alert_id, str(phones[0]), text))
        return outbox

    async def _register(self, loan: dict[str, Any], now: float) -> None:
        assert self.hub is not None
        try:
            await self.hub.register_watch(loan["application_id"])
        except LianfangRpcError:
            return
        self._set_watch(loan, "registered", now, "hub watches the borrower")

    def _still_lending(self, application_id: str) -> bool:
        """Whether a loan of the application is still owed now (read afresh: a drawdown may have
        been disbursed while this batch waited on the hub): the hub watches applications."""
        return any(outstanding(x) for x in self.store.records_for("loan", application_id))

    async def _unregister(self, loan: dict[str, Any], now: float) -> None:
        assert self.hub is not None
        try:
            await self.hub.unregister_watch(loan["application_id"])
        except LianfangRpcError:
            return
        self._set_watch(loan, "unregistered", now, "hub stopped watching (repaid)")

    def _set_watch(self, loan: dict[str, Any], watch: str, now: float, why: str) -> None:
        """Records the hub's watch state on the loan as it is *now*: the record is read again
        after the hub call, so a repayment (or anything else) saved meanwhile is kept."""
        with self.store.transaction() as db:
            current = self.store.get_record("loan", loan["loan_id"])
            current["watch"] = watch
            self.store.put_record_in(db, "loan", loan["loan_id"], loan["application_id"], current)
            self.records.audit_in(db, now, "system", "watch", loan["loan_id"], why)
