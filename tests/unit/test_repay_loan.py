"""RepayLoan with several loans on one application (one facility, several drawdowns): the hub's
outcome and watch are the application's, so they stay while any of its loans is active, and go
with the last repayment (retried by the monitoring batch when the hub is down)."""

from __future__ import annotations

from pathlib import Path

from lianfang.v1 import node_pb2

from node.monitoring.accounts import SimulatedAccountFeed
from node.monitoring.batch import MonitoringBatch
from node.monitoring.sms import RecordingSmsChannel
from tests.support.stage3 import WAN, Stage3

REPAID = "outcome:app_1:OUTCOME_REPAID"
FUNDED = "outcome:app_1:OUTCOME_FUNDED"


def keyed(s: Stage3, prefix: str) -> list[str]:
    return [k for k in s.outbox_keys() if k.startswith(prefix)]


async def two_loans(s: Stage3) -> tuple[str, str]:
    s.signed_application()
    loans = []
    for _ in range(2):  # self payment, below the review threshold: disbursed at once
        d = await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=10 * WAN), "customer")
        loans.append(d["loan_id"])
    return loans[0], loans[1]


def batch(s: Stage3) -> MonitoringBatch:
    feed, sms = SimulatedAccountFeed({}), RecordingSmsChannel(s.actions.records)
    return MonitoringBatch(s.store, s.actions, feed, sms, s.hub, s.outbox)  # type: ignore[arg-type]


async def test_repaying_one_loan_keeps_the_watch_and_outcome_for_the_other(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan1, loan2 = await two_loans(s)
    assert s.hub.watched == {"app_1"}  # type: ignore[attr-defined]

    await s.dispositions.repay(loan1, "paid", "officer-1")
    assert s.store.get_record("loan", loan1)["state"] == "repaid"
    assert s.hub.unregistered == [] and s.hub.watched == {"app_1"}  # type: ignore[attr-defined]
    assert not keyed(s, REPAID)
    await batch(s).run(s.clock() + 86_400)  # the daily batch does not unregister it either
    assert s.hub.unregistered == [] and s.hub.watched == {"app_1"}  # type: ignore[attr-defined]
    assert s.store.get_record("loan", loan2)["watch"] == "registered"

    await s.dispositions.repay(loan2, "paid", "officer-1")
    assert s.hub.unregistered == ["app_1"] and s.hub.watched == set()  # type: ignore[attr-defined]
    assert keyed(s, REPAID) == [f"{REPAID}:{loan2}"] and keyed(s, FUNDED) == [f"{FUNDED}:{loan1}"]
    assert [s.store.get_record("loan", x)["watch"] for x in (loan1, loan2)] == ["unregistered", "unregistered"]


async def test_the_last_repayment_unregisters_a_watch_another_loan_registered(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    loan1, loan2 = await two_loans(s)
    current = s.store.get_record("loan", loan2)
    current["watch"] = ""  # the hub was down when loan 2 was disbursed: loan 1's watch covers it
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", loan2, "app_1", current)

    await s.dispositions.repay(loan1, "", "officer-1")
    s.hub.down = True  # type: ignore[attr-defined]
    await s.dispositions.repay(loan2, "", "officer-1")
    assert s.hub.watched == {"app_1"} and keyed(s, REPAID)  # type: ignore[attr-defined]

    s.hub.down = False  # type: ignore[attr-defined]
    await batch(s).run(s.clock() + 86_400)  # the batch retries the unregistration
    assert s.hub.unregistered == ["app_1"] and s.hub.watched == set()  # type: ignore[attr-defined]


async def test_the_batch_keeps_the_watch_of_an_application_with_an_active_loan(tmp_path: Path) -> None:
    """A repaid loan still marked registered (kept by an earlier version, or a failed
    unregistration before another drawdown) is not unregistered while a loan of its application
    is active: the hub's watch is the application's."""
    s = Stage3(tmp_path)
    loan1, _ = await two_loans(s)
    repaid = s.store.get_record("loan", loan1)
    repaid["state"] = "repaid"  # as the old RepayLoan left it: still "registered"
    with s.store.transaction() as db:
        s.store.put_record_in(db, "loan", loan1, "app_1", repaid)
    await batch(s).run(s.clock() + 86_400)
    assert s.hub.unregistered == [] and s.hub.watched == {"app_1"}  # type: ignore[attr-defined]


async def test_drawing_again_after_repaying_tells_the_hub_funded_again(tmp_path: Path) -> None:
    """Funded and repaid are the borrower's debt beginning and ending: after a repayment, a new
    drawdown is news to the consortium (watchers' co-debt alerts), not a resend of the first."""
    s = Stage3(tmp_path)
    loan1, loan2 = await two_loans(s)
    for loan in (loan1, loan2):
        await s.dispositions.repay(loan, "paid", "officer-1")
    d = await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=5 * WAN), "customer")
    await s.dispositions.repay(d["loan_id"], "paid", "officer-1")
    assert keyed(s, FUNDED) == [f"{FUNDED}:{loan1}", f"{FUNDED}:{d['loan_id']}"]
    assert keyed(s, REPAID) == [f"{REPAID}:{loan2}", f"{REPAID}:{d['loan_id']}"]
