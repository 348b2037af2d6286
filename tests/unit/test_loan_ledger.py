"""The repayment ledger and defaults, on a node's stage 3 and post-loan parts (real SQLite):
payments are counted once even after they closed the loan, a loan from before the ledger is
judged from its first recorded payment on, a defaulted loan keeps the facility in debt and
frozen, and the batch never overwrites a payment that came in while it waited on the hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from lianfang.v1 import common_pb2, node_pb2

from node.monitoring.accounts import SimulatedAccountFeed
from node.monitoring.batch import BatchResult, MonitoringBatch
from node.monitoring.delinquency import total_due
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


async def test_a_loan_from_before_the_ledger_is_judged_from_its_first_payment(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan_id = await funded(s)
    legacy = s.store.get_record("loan", loan_id)
    del legacy["paid_fen"]  # disbursed by an earlier version: its payments were never recorded
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", loan_id, "app_1", legacy)
    s.clock.now = day_starts(legacy["schedule"][4][1]) + 3600  # five instalments in, paid outside the ledger
    fifth = int(legacy["schedule"][4][2]) + int(legacy["schedule"][4][3])
    await s.dispositions.repay(loan_id, "", "core", fifth, "pay-5")
    s.clock.advance(100 * DAY)  # instalments 6-8 fall due unpaid: late, not 250 days late
    result = await batch(s).run(s.clock())
    (late,) = [a for a in result.alerts if a.rule == "overdue"]
    assert result.defaulted == [] and "instalment 6 unpaid" in late.detail


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
    assert common_pb2.OUTCOME_DEFAULTED  # (the outcome that must not have been queued)


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
    from node.origination.service import loan_view

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
