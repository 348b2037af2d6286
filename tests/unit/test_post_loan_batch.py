"""The daily post-loan batch's rules on a real node SQLite file, at injected times (no waiting):
three months of flows below half → yellow; a month without flow → task + freeze, once; flows
resuming unfreeze only what a disposition said; reminders 3 days ahead when the balance is short."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from node.monitoring.accounts import MONTH_SECONDS, SimulatedAccountFeed, load_flow_factors
from node.monitoring.actions import PostLoanActions
from node.monitoring.batch import MonitoringBatch
from node.monitoring.hub_alerts import CURSOR, ConsortiumAlerts
from node.monitoring.records import AlertRow, PostLoanRecords
from node.monitoring.sms import RecordingSmsChannel
from node.origination.due_diligence import load_field_team
from node.origination.store import Application, NodeStore
from node.outbox import Outbox
from node.sources.overrides import ScenarioError

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
USCC = "92310115MA1FL3Q869"


def setup(tmp_path: Path, factors: dict[int, float], *, instalment_due: float | None = None) -> MonitoringBatch:
    store = NodeStore(str(tmp_path / "node.db"))
    app = Application(
        application_id="app_1", application_ref="r1", state="submitted", product_code="xiaowei_puhui",
        applicant_kind="individual_business", applicant_name="老王家常菜",
        identifiers={"uscc": USCC, "phones": ["+8613916052718"]}, industry="catering",
        locality="shanghai-pudong", amount_fen=15_000_000, term_months=12, repayment_method="equal_instalments",
        consent_ref="c", features={"flow_monthly_avg": 120_000, "flow_avg_daily_balance": 15_000},
        final_limit_fen=18_000_000, drawn_fen=15_000_000,
    )  # fmt: skip
    store.create_application(app, "customer", START)
    for state in ("approved", "signed", "funded"):
        store.save(app, START, to_state=state, actor="system", reason="test")
    due = dt.datetime.fromtimestamp(instalment_due or START + 400 * 86_400, dt.UTC).date().isoformat()
    loan = {
        "loan_id": "loan_1", "application_id": "app_1", "principal_fen": 15_000_000, "state": "active",
        "schedule": [[1, due, 1_250_000, 56_250]], "disbursed_at": START, "watch": "registered",
    }  # fmt: skip
    with store.transaction() as db:
        store.put_record_in(db, "loan", "loan_1", "app_1", loan)
    records = PostLoanRecords(store)
    actions = PostLoanActions(store, records, load_field_team())
    feed = SimulatedAccountFeed({USCC: factors})
    return MonitoringBatch(store, actions, feed, RecordingSmsChannel(records), None, Outbox(store))


def month_end(n: int) -> float:
    return START + n * MONTH_SECONDS + 3600


async def test_three_months_below_half_raise_a_yellow_alert_without_freezing(tmp_path: Path) -> None:
    batch = setup(tmp_path, {4: 0.45, 5: 0.3, 6: 0.2})
    assert [a.rule for a in (await batch.run(month_end(5))).alerts] == []  # two months only
    result = await batch.run(month_end(6))
    (alert,) = result.alerts
    assert (alert.rule, alert.level, alert.task_id) == ("flow_drop", "yellow", "")
    assert "months 4-6" in alert.detail and not result.frozen
    assert (await batch.run(month_end(6) + 3600)).alerts == []  # the same month: once
    assert not batch.store.get_application("app_1").limit_frozen


async def test_a_month_without_flow_opens_a_task_and_freezes_once(tmp_path: Path) -> None:
    batch = setup(tmp_path, {3: 0.0})
    assert (await batch.run(month_end(2))).alerts == []
    result = await batch.run(month_end(3))
    assert result.frozen == ["app_1"] and [a.rule for a in result.alerts] == ["no_flow"]
    (task,) = batch.store.tasks("xiao-li")  # the Pudong catering manager
    assert task.kind == "risk_check" and task.task_id == result.alerts[0].task_id
    assert batch.store.get_application("app_1").limit_frozen
    again = await batch.run(month_end(3) + 7200)
    assert again.alerts == [] and again.frozen == [] and len(batch.store.tasks("xiao-li")) == 1

    resumed = await batch.run(month_end(4))  # flows are back, but no disposition asked to unfreeze
    assert resumed.unfrozen == [] and batch.store.get_application("app_1").limit_frozen
    app = batch.store.get_application("app_1")
    app.unfreeze_on_flow = True
    batch.store.save(app, month_end(4))
    assert (await batch.run(month_end(4) + 60)).unfrozen == ["app_1"]
    assert not batch.store.get_application("app_1").limit_frozen
    actions = [r.action for r in batch.records.audit()]
    assert actions == ["alert", "freeze", "unfreeze"]


async def test_a_managers_unfreeze_is_not_undone_by_the_next_days_batch(tmp_path: Path) -> None:
    batch = setup(tmp_path, {3: 0.0})
    assert (await batch.run(month_end(3))).frozen == ["app_1"]
    app = batch.store.get_application("app_1")
    with batch.store.transaction() as db:  # the disposition "no risk, unfreeze now"
        assert batch.actions.unfreeze_in(db, app, month_end(3) + 60, "xiao-li", "no risk")
    again = await batch.run(month_end(3) + 86_400)  # the same quiet month, next day
    assert again.frozen == [] and not batch.store.get_application("app_1").limit_frozen


async def test_a_repayment_saved_while_the_batch_waits_is_kept(tmp_path: Path) -> None:
    batch = setup(tmp_path, {})
    loan = batch.store.get_record("loan", "loan_1")
    repaid = {**loan, "state": "repaid"}
    with batch.store.transaction() as db:  # RepayLoan ran while the batch awaited the hub
        batch.store.put_record_in(db, "loan", "loan_1", "app_1", repaid)
    batch._set_watch(loan, "registered", month_end(1), "hub watches the borrower")  # the stale copy
    assert batch.store.get_record("loan", "loan_1")["state"] == "repaid"


@pytest.mark.parametrize(
    ("factors", "due_in_days", "reminded"),
    [
        ({2: 0.05}, 2, True),  # little came in last month: the balance cannot cover the instalment
        ({}, 2, False),  # a normal month: 1.5万 covers 1.3万
        ({2: 0.05}, 4, False),  # not yet within 3 days
        ({2: 0.05}, -1, False),  # already due
    ],
)
async def test_reminders_three_days_ahead_when_the_balance_is_short(
    tmp_path: Path, factors: dict[int, float], due_in_days: int, reminded: bool
) -> None:
    now = month_end(2)
    due = dt.datetime.fromtimestamp(now + due_in_days * 86_400, dt.UTC).replace(hour=0, minute=0, second=0)
    batch = setup(tmp_path, factors, instalment_due=due.timestamp() + 86_400)
    result = await batch.run(now)
    sms = batch.records.sms_messages()
    assert (result.reminders == 1) is reminded and bool(sms) is reminded
    if reminded:
        assert sms[0][1] == "+8613916052718" and "13062.50" in sms[0][2]
        assert [a.rule for a in result.alerts] == ["low_balance"]
        await batch.run(now + 3600)
        assert len(batch.records.sms_messages()) == 1  # once per instalment


def test_flow_factors_come_from_the_scenario_file(tmp_path: Path) -> None:
    from node.sources.simulators import SEED_PERSONAS_FILE

    assert load_flow_factors(SEED_PERSONAS_FILE)[USCC] == {6: 0.0}
    bad = tmp_path / "bad.toml"
    bad.write_text('[applicants."X".post_loan]\nflow_factors = { "six" = 0.0 }\n')
    with pytest.raises(ScenarioError):
        load_flow_factors(bad)


def test_alerts_the_hub_discarded_count_as_lost_only_past_what_the_node_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = NodeStore(str(tmp_path / "node.db"))
    alerts = ConsortiumAlerts(PostLoanActions(store, PostLoanRecords(store), load_field_team()), lambda: START)
    assert (alerts.dropped, alerts.lost, alerts.note_dropped(0, "")) == (0, 0, 0)
    assert alerts.note_dropped(7, "100-0") == 7 and (alerts.dropped, alerts.lost) == (7, 7)  # nothing stored yet
    assert alerts.note_dropped(7, "100-0") == 0  # the same total from the next response: nothing new
    with store.transaction() as db:
        alerts.records.set_state_in(db, CURSOR, "250-3")  # the node has stored alerts up to 250-3
    assert alerts.note_dropped(9, "250-3") == 0 and (alerts.dropped, alerts.lost) == (9, 7)  # ones it holds
    assert alerts.note_dropped(12, "251-0") == 3 and alerts.lost == 10  # newer than what it stored: lost
    assert alerts.note_dropped(4, "90-0") == 0 and (alerts.dropped, alerts.lost) == (4, 10)  # a restored hub
    assert alerts.note_dropped(6, "300-0") == 2 and alerts.lost == 12  # counted from the new baseline
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "may never have received" in r.getMessage()]
    assert [r.fields["up_to"] for r in errors] == [7, 3, 2]  # type: ignore[attr-defined]
    assert any(r.levelname == "WARNING" and "fewer discarded" in r.getMessage() for r in caplog.records)
    store.close()
    reopened = NodeStore(str(tmp_path / "node.db"))  # durable: a restarted node does not count them again
    actions = PostLoanActions(reopened, PostLoanRecords(reopened), load_field_team())
    assert (ConsortiumAlerts(actions, lambda: START).dropped, ConsortiumAlerts(actions, lambda: START).lost) == (6, 12)


async def test_the_node_s_daily_loop_survives_restarts_shorter_than_a_day(tmp_path: Path) -> None:
    """The loop slept a whole interval before its first run, so a node restarted more often (a
    rollout, an eviction) never ran the batch. It now runs at once unless the database says the
    last run is more recent than the interval."""
    from node.server import _monitor_periodically
    from runtime.clock import ManualClock

    batch = setup(tmp_path, {})
    clock = ManualClock(month_end(1))

    async def lifetime() -> float | None:  # a node that lives 0.2 s
        task = asyncio.create_task(_monitor_periodically(batch, clock, 86_400))
        await asyncio.sleep(0.2)
        task.cancel()
        return batch.last_run()

    assert await lifetime() == month_end(1)  # never ran before: at once
    clock.advance(3600)
    assert await lifetime() == month_end(1)  # restarted an hour later: not due yet
    clock.advance(86_400)
    assert await lifetime() == month_end(1) + 3600 + 86_400  # overdue: at once


async def test_every_loan_of_a_facility_reads_the_same_months_of_its_account(tmp_path: Path) -> None:
    """Months count from the facility's first drawdown. Counted from each loan's own, a second
    loan drawn 45 days later saw its "month 3" (a window of normal flows for the first loan's
    count, and vice versa): the account was frozen and released by turns."""
    batch = setup(tmp_path, {3: 0.0})
    loan = batch.store.get_record("loan", "loan_1")
    later = {**loan, "loan_id": "loan_2", "disbursed_at": START + 45 * 86_400, "watch": "registered"}
    with batch.store.transaction() as db:
        batch.store.put_record_in(db, "loan", "loan_2", "app_1", later)
    result = await batch.run(month_end(3))
    (quiet_month,) = [a for a in result.alerts if a.rule == "no_flow"]  # the facility's month: once
    assert result.frozen == ["app_1"] and quiet_month.alert_id == "app_1:no_flow:3"
    app = batch.store.get_application("app_1")
    app.unfreeze_on_flow = True
    batch.store.save(app, month_end(3))
    assert (await batch.run(month_end(4))).unfrozen == ["app_1"]  # the facility's month 4 flows
    second_loans_month_3 = START + 45 * 86_400 + 3 * MONTH_SECONDS + 3600  # the facility: month 4 complete
    quiet = await batch.run(second_loans_month_3)
    assert quiet.frozen == [] and not [a for a in quiet.alerts if a.rule == "no_flow"]
    assert not batch.store.get_application("app_1").limit_frozen


async def test_a_drawdown_after_a_release_does_not_raise_the_handled_month_again(tmp_path: Path) -> None:
    """A quiet month is the facility's: a manager released the limit after it, and the next
    loan's first batch raised it again (alert ids were per loan) and froze the limit anew."""
    batch = setup(tmp_path, {3: 0.0})
    assert (await batch.run(month_end(3))).frozen == ["app_1"]
    app = batch.store.get_application("app_1")
    app.limit_frozen = False  # the manager's no_risk disposition
    batch.store.save(app, month_end(3))
    loan = batch.store.get_record("loan", "loan_1")
    later = {**loan, "loan_id": "loan_2", "disbursed_at": month_end(3) + 86_400, "watch": "registered"}
    with batch.store.transaction() as db:
        batch.store.put_record_in(db, "loan", "loan_2", "app_1", later)
    again = await batch.run(month_end(3) + 2 * 86_400)
    assert again.frozen == [] and not [a for a in again.alerts if a.rule == "no_flow"]
    assert not batch.store.get_application("app_1").limit_frozen


async def test_a_month_an_earlier_version_alerted_per_loan_is_not_raised_again(tmp_path: Path) -> None:
    """Quiet-month alerts were per loan before they became the facility's: a month already raised
    (and its limit released by a manager) under ``loan_1:no_flow:3`` is not raised anew."""
    batch = setup(tmp_path, {3: 0.0})
    old = AlertRow("loan_1:no_flow:3", "loan_1", "app_1", "no_flow", "red", "as an earlier version raised it", 0.0)
    with batch.store.transaction() as db:
        batch.actions.raise_in(db, old, task=False, at=month_end(3))
    result = await batch.run(month_end(3))
    assert result.frozen == [] and not [a for a in result.alerts if a.rule == "no_flow"]
    assert not batch.store.get_application("app_1").limit_frozen


async def test_a_default_rejects_the_drawdowns_waiting_for_review(tmp_path: Path) -> None:
    """Nothing more is paid on a defaulted facility: a drawdown waiting for a reviewer is
    rejected with the default, its review task closed and its reserved amount released (the
    reviewer no longer meets an approval refused "defaulted")."""
    from node.origination.store import Task

    batch = setup(tmp_path, {}, instalment_due=START + 86_400)
    store = batch.store
    loan = store.get_record("loan", "loan_1")
    waiting = {"drawdown_id": "dd_2", "application_id": "app_1", "amount_fen": 2_000_000, "state": "pending_review"}
    with store.transaction() as db:
        store.put_record_in(db, "loan", "loan_1", "app_1", {**loan, "paid_fen": 0})  # a ledger, nothing paid
        store.put_record_in(db, "drawdown", "dd_2", "app_1", waiting)
        store.add_task_in(db, Task("task_r", "disbursement_review", "app_1", "disbursement-reviewers", reason="dd_2"))
    app = store.get_application("app_1")
    app.drawn_fen += 2_000_000  # what the waiting drawdown reserved
    store.save(app, START)
    assert (await batch.run(START + 60 * 86_400)).defaulted == []  # 59 days: not yet
    assert store.get_record("drawdown", "dd_2")["state"] == "pending_review"
    assert (await batch.run(START + 93 * 86_400)).defaulted == ["loan_1"]
    rejected = store.get_record("drawdown", "dd_2")
    assert rejected["state"] == "rejected" and "loan_1 defaulted" in rejected["comment"]
    assert store.tasks("disbursement-reviewers") == []  # its review task closed
    assert store.get_application("app_1").drawn_fen == 15_000_000  # released
    (audit,) = [r for r in batch.records.audit() if r.action == "reject"]
    assert audit.detail == "rejected 1 drawdown(s) pending review, 20000 yuan released"


def test_a_long_open_task_keeps_why_it_was_opened_and_its_newest_findings() -> None:
    from node.monitoring.actions import MAX_TASK_REASON, with_finding

    reason = "instalment 1 unpaid 30 days past due"
    for month in range(1, 80):
        reason = with_finding(reason, f"no settlement account flow in month {month} after drawdown")
    lines = reason.split("\n")
    assert len(reason) <= MAX_TASK_REASON and lines[0] == "instalment 1 unpaid 30 days past due"
    assert lines[-1] == "no settlement account flow in month 79 after drawdown"  # whole lines, newest kept
