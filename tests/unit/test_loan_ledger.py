"""The repayment ledger and defaults, on a node's stage 3 and post-loan parts (real SQLite):
payments are counted once even after they closed the loan, a loan from before the ledger is
judged from its first recorded payment on, a defaulted loan keeps the facility in debt and
frozen, and the batch never overwrites a payment that came in while it waited on the hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from lianfang.v1 import node_pb2

from node.monitoring.accounts import SimulatedAccountFeed
from node.monitoring.batch import BatchResult, MonitoringBatch
from node.monitoring.delinquency import ledger_started, total_due
from node.monitoring.sms import RecordingSmsChannel
from node.origination.lender_calendar import day_starts
from runtime.errors import FailedPrecondition, InvalidArgument
from tests.support.stage3 import WAN, Stage3

DAY = 86_400.0


async def funded(s: Stage3, amount: int = 10 * WAN) -> str:
    s.signed_application()
    d = await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=amount), "customer")
    return str(d["loan_id"])


def batch(s: Stage3) -> MonitoringBatch:
    feed, sms = SimulatedAccountFeed({}), RecordingSmsChannel(s.actions.records)
    return MonitoringBatch(s.store, s.actions, feed, sms, s.hub, s.outbox)  # type: ignore[arg-type]


def outcomes(s: Stage3) -> list[str]:
    return [k.split(":")[2] for k in s.outbox_keys() if k.startswith("outcome:")]


async def test_the_payment_that_closed_a_loan_may_be_sent_again(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    whole = total_due(s.store.get_record("loan", loan_id))
    closed = await s.dispositions.repay(loan_id, "", "core", whole, "pay-1")
    again = await s.dispositions.repay(loan_id, "", "core", whole, "pay-1")  # its reply was lost
    assert closed["state"] == again["state"] == "repaid" and outcomes(s).count("OUTCOME_REPAID") == 1
    with pytest.raises(InvalidArgument) as err:  # an amount of 0 with an id is no payment
        await s.dispositions.repay(loan_id, "", "core", 0, "pay-2")
    assert [v.field for v in err.value.violations] == ["amount_fen"]


async def test_a_loan_from_before_the_ledger_is_judged_from_when_the_node_began_keeping_ledgers(
    tmp_path: Path,
) -> None:
    """Its payments before were never recorded: its ledger counts the instalments due from the
    day this node began keeping ledgers (not from its first recorded payment, which may be
    for an earlier instalment), and payments never close it while its ledger counts none."""
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    legacy = s.store.get_record("loan", loan_id)
    del legacy["paid_fen"]  # disbursed by an earlier version
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", loan_id, "app_1", legacy)
    schedule = legacy["schedule"]
    ledger_started(s.store, day_starts(schedule[3][1]) + 3600)  # the upgraded node first ran on 4's due day
    s.clock.now = day_starts(schedule[4][1]) + 3 * DAY  # instalment 5 paid three days late
    fourth_and_fifth = sum(int(p) + int(i) for _, _, p, i in schedule[3:5])
    await s.dispositions.repay(loan_id, "", "core", fourth_and_fifth, "pay-4-5")
    s.clock.advance(100 * DAY)  # instalments 6-8 fall due unpaid: late, not 250 days late
    result = await batch(s).run(s.clock())
    (late,) = [a for a in result.alerts if a.rule == "overdue"]
    assert result.defaulted == [] and "instalment 6 unpaid" in late.detail

    old = Stage3(tmp_path / "old")
    old_id = await funded(old)
    record = old.store.get_record("loan", old_id)
    del record["paid_fen"]
    with old.store.transaction() as db:
        old.store.put_record_in(db, "loan", old_id, "app_1", record)
    old.clock.now = day_starts(record["schedule"][-1][1]) + 10 * DAY  # past its last instalment
    ledger_started(old.store, old.clock())
    paid = await old.dispositions.repay(old_id, "", "core", 1, "one-fen")  # its ledger counts nothing
    assert paid["state"] == "active" and "OUTCOME_REPAID" not in outcomes(old)


async def test_a_defaulted_loan_keeps_the_facility_in_debt_frozen_and_closed(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    first = await funded(s)
    second = (
        await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=5 * WAN), "customer")
    )["loan_id"]
    await s.dispositions.repay(second, "", "core", 1, "pay-s1")  # second keeps a ledger, paid on time
    loan = s.store.get_record("loan", second)
    loan["paid_fen"] = total_due(loan) - 1  # everything but a fen: on time throughout
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", second, "app_1", loan)
    app = s.store.get_application("app_1")
    app.limit_frozen, app.unfreeze_on_flow = True, True  # a disposition: unfreeze once flows resume
    s.store.save(app, s.clock())
    s.clock.now = day_starts(s.store.get_record("loan", first)["schedule"][0][1]) + 91 * DAY
    result = await batch(s).run(s.clock())
    assert result.defaulted == [first] and outcomes(s)[-1] == "OUTCOME_DEFAULTED"
    app = s.store.get_application("app_1")
    assert app.limit_frozen and not app.unfreeze_on_flow  # flows resuming will not release it
    app.limit_frozen = False  # even a manager's release leaves the facility closed
    s.store.save(app, s.clock())
    with pytest.raises(FailedPrecondition, match="defaulted"):
        await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=2 * WAN), "customer")
    await s.dispositions.repay(second, "", "core", 1, "pay-s2")  # the other loan repaid in full
    assert "OUTCOME_REPAID" not in outcomes(s) and s.hub.unregistered == []  # type: ignore[attr-defined]


async def test_the_batch_does_not_default_a_loan_paid_while_it_waited(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    stale = s.store.get_record("loan", loan_id)  # what the batch read before its hub calls
    s.clock.now = day_starts(stale["schedule"][0][1]) + 91 * DAY
    await s.dispositions.repay(loan_id, "", "core", total_due(stale), "pay-all")  # meanwhile
    result = BatchResult()
    batch(s)._delinquency(stale, s.clock(), result)
    assert result.defaulted == [] and s.store.get_record("loan", loan_id)["state"] == "repaid"
    assert outcomes(s) == ["OUTCOME_FUNDED", "OUTCOME_REPAID"]
    assert "OUTCOME_DEFAULTED" not in outcomes(s)


async def test_reminders_and_lateness_follow_the_ledger(tmp_path: Path) -> None:
    """A borrower who paid ahead gets no low-balance reminder for a paid instalment; a loan
    repaid early is not shown as past due."""
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    schedule = s.store.get_record("loan", loan_id)["schedule"]
    two = sum(int(p) + int(i) for _, _, p, i in schedule[:2])
    await s.dispositions.repay(loan_id, "", "core", two, "ahead")
    s.clock.now = day_starts(schedule[0][1]) - 2 * DAY  # instalment 1 due in two days; balance 0
    result = await batch(s).run(s.clock())
    assert not [a for a in result.alerts if a.rule == "low_balance"] and result.reminders == 0
    s.clock.now = day_starts(schedule[2][1]) - 2 * DAY  # instalment 3 is not paid: reminded
    assert [a.detail.split()[1] for a in (await batch(s).run(s.clock())).alerts if a.rule == "low_balance"] == ["3"]

    other = Stage3(tmp_path / "early")
    early = await funded(other)
    await other.dispositions.repay(early, "closed early", "core")  # repaid in full, no amounts
    other.clock.advance(400 * DAY)
    from node.origination.loan_service import loan_view

    assert loan_view(other.store.get_record("loan", early), other.clock()).days_past_due == 0


async def test_a_hub_alert_on_a_defaulted_borrower_is_kept(tmp_path: Path) -> None:
    """Co-debt and marker alerts are what collections needs: a borrower whose only loan is
    defaulted still gets them (they were dropped as "repaid meanwhile")."""
    from lianfang.v1 import consortium_pb2

    from node.monitoring.hub_alerts import ConsortiumAlerts

    s = Stage3(tmp_path)
    loan_id = await funded(s)
    loan = s.store.get_record("loan", loan_id)
    loan["state"] = "defaulted"
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", loan_id, "app_1", loan)
    alert = consortium_pb2.Alert(
        cursor="1-0", kind=consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION, application_refs=["app_1"]
    )
    (stored,) = ConsortiumAlerts(s.actions, s.clock).store(alert)
    assert stored.loan_id == loan_id


async def test_a_defaulted_facility_pays_no_drawdown_that_waited_for_review(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    waiting = await s.drawdown(
        node_pb2.RequestDrawdownRequest(
            application_id="app_1", amount_fen=30 * WAN, payee_account="6222020200112233445"
        ),
        "customer",
    )
    assert waiting["state"] == "pending_review"
    s.clock.now = day_starts(s.store.get_record("loan", loan_id)["schedule"][0][1]) + 91 * DAY
    assert (await batch(s).run(s.clock())).defaulted == [loan_id]
    app = s.store.get_application("app_1")
    app.limit_frozen = False  # a manager's no_risk disposition releases the limit
    s.store.save(app, s.clock())
    rejected = s.store.get_record("drawdown", waiting["drawdown_id"])
    assert rejected["state"] == "rejected" and "defaulted" in rejected["comment"]  # by the default itself
    with pytest.raises(FailedPrecondition, match="drawdown is rejected"):
        await s.review(waiting["drawdown_id"], True, "invoice checked", "reviewer")


async def test_flows_resuming_do_not_release_a_defaulted_facility(tmp_path: Path) -> None:
    """Its other loan, paid on time, keeps the batch looking at the account: flows are back, and
    a disposition had asked to release the limit then — not while a loan is defaulted."""
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    other = (await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=5 * WAN), "customer"))[
        "loan_id"
    ]
    on_time = s.store.get_record("loan", other)
    on_time["paid_fen"] = total_due(on_time) - 1
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", other, "app_1", on_time)
    app = s.store.get_application("app_1")
    app.features = {"flow_monthly_avg": 120_000, "flow_avg_daily_balance": 15_000}  # steady flows
    s.store.save(app, s.clock())
    s.clock.now = day_starts(s.store.get_record("loan", loan_id)["schedule"][0][1]) + 91 * DAY
    assert (await batch(s).run(s.clock())).defaulted == [loan_id]
    app = s.store.get_application("app_1")
    app.unfreeze_on_flow = True  # as a disposition would ask, after the default
    s.store.save(app, s.clock())
    s.clock.advance(40 * DAY)
    assert (await batch(s).run(s.clock())).unfrozen == []
    assert s.store.get_application("app_1").limit_frozen


async def test_the_batch_sends_no_reminder_for_an_instalment_paid_while_it_waited(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    stale = s.store.get_record("loan", loan_id)  # what the batch read before its hub calls
    first = stale["schedule"][0]
    s.clock.now = day_starts(first[1]) - 2 * DAY  # due in two days, balance 0
    await s.dispositions.repay(loan_id, "", "core", int(first[2]) + int(first[3]), "pay-1")  # meanwhile
    result = BatchResult()
    batch(s)._loan(stale, s.clock(), result)
    assert result.reminders == 0 and not [a for a in result.alerts if a.rule == "low_balance"]


async def test_a_node_whose_core_banking_reports_no_payments_calls_no_loan_late(tmp_path: Path) -> None:
    """repayment_ledger = false: without payments reported, every loan would look unpaid, and be
    reported defaulted to the whole consortium."""
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    s.clock.now = day_starts(s.store.get_record("loan", loan_id)["schedule"][0][1]) + 200 * DAY
    feed, sms = SimulatedAccountFeed({}), RecordingSmsChannel(s.actions.records)
    silent = MonitoringBatch(s.store, s.actions, feed, sms, s.hub, s.outbox, repayment_ledger=False)  # type: ignore[arg-type]
    result = await silent.run(s.clock())
    assert result.defaulted == [] and not [a for a in result.alerts if a.rule == "overdue"]
    assert (await batch(s).run(s.clock())).defaulted == [loan_id]  # the same loan, payments reported


async def test_a_repayment_in_full_sent_again_answers_the_closed_loan(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    first = await s.dispositions.repay(loan_id, "closed early", "core")
    again = await s.dispositions.repay(loan_id, "closed early", "core")  # a retry after a timeout
    assert first["state"] == again["state"] == "repaid" and outcomes(s).count("OUTCOME_REPAID") == 1


async def test_a_node_that_judges_no_lateness_shows_none(tmp_path: Path) -> None:
    from node.origination.loan_service import loan_view

    s = Stage3(tmp_path)
    loan_id = await funded(s)
    s.clock.now = day_starts(s.store.get_record("loan", loan_id)["schedule"][0][1]) + 200 * DAY
    loan = s.store.get_record("loan", loan_id)
    assert loan_view(loan, s.clock()).days_past_due == 200
    assert loan_view(loan, None).days_past_due == 0  # repayment_ledger = false: the API says none


async def test_a_payment_beyond_what_is_owed_is_refused(tmp_path: Path) -> None:
    """Three times the schedule was recorded and closed the loan: a keying error, or money the
    core banking system owes back, never a payment of this loan."""
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    whole = total_due(s.store.get_record("loan", loan_id))
    await s.dispositions.repay(loan_id, "", "core", whole - 100, "pay-1")
    with pytest.raises(InvalidArgument) as over:
        await s.dispositions.repay(loan_id, "", "core", 3 * whole, "pay-over")
    assert [v.field for v in over.value.violations] == ["amount_fen"] and "at most 100 fen" in str(
        over.value.violations[0].description
    )
    loan = s.store.get_record("loan", loan_id)
    assert (loan["paid_fen"], loan["state"]) == (whole - 100, "active")  # nothing of it recorded
    assert (await s.dispositions.repay(loan_id, "", "core", 100, "pay-2"))["state"] == "repaid"
