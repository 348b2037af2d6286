"""Stage 3 drawdowns and their review on a real node SQLite file: each review closes its own
drawdown's task, and only together with the state change it decides; an entrusted payee must
be a plausible bank account."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lianfang.v1 import node_pb2

from node.origination import states
from runtime.errors import FailedPrecondition, InvalidArgument
from tests.support.stage3 import WAN, Stage3

PAYEE = "6222020200112233445"


def drawdown(amount_fen: int, payee: str = PAYEE) -> node_pb2.RequestDrawdownRequest:
    return node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=amount_fen, payee_account=payee)


def open_review_tasks(s: Stage3) -> list[str]:
    """The reasons (drawdown ids) of the application's open disbursement-review tasks."""
    return [t.reason for t in s.store.tasks_for("app_1") if t.kind == "disbursement_review" and t.state == "open"]


async def test_reviewing_one_drawdown_closes_its_own_task_only(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    s.signed_application()
    d1 = await s.drawdown(drawdown(30 * WAN), "customer")
    d2 = await s.drawdown(drawdown(40 * WAN, "6222020200112233446"), "customer")
    assert (d1["state"], d2["state"]) == ("pending_review", "pending_review")
    assert open_review_tasks(s) == [d1["drawdown_id"], d2["drawdown_id"]]

    done = await s.review(d2["drawdown_id"], True, "payee contract checked", "reviewer-1")
    assert done["state"] == "disbursed"
    assert open_review_tasks(s) == [d1["drawdown_id"]]  # d1 still waits in the reviewers' queue

    rejected = await s.review(d1["drawdown_id"], False, "no invoice", "reviewer-1")
    assert rejected["state"] == "rejected" and open_review_tasks(s) == []
    assert s.store.get_application("app_1").drawn_fen == 40 * WAN  # d1's reservation released


async def test_a_review_that_cannot_disburse_leaves_its_task_open(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    app = s.signed_application()
    d = await s.drawdown(drawdown(30 * WAN), "customer")
    app = s.store.get_application("app_1")
    s.store.save(app, s.clock(), to_state=states.FRAUD_CONFIRMED, actor="risk1", reason="ConfirmFraud")

    with pytest.raises(FailedPrecondition):
        await s.review(d["drawdown_id"], True, "ok", "reviewer-1")
    assert open_review_tasks(s) == [d["drawdown_id"]]  # nothing half-done
    assert s.store.get_record("drawdown", d["drawdown_id"])["state"] == "pending_review"
    assert s.store.records_for("loan", "app_1") == []

    rejected = await s.review(d["drawdown_id"], False, "fraud confirmed on the application", "reviewer-1")
    assert rejected["state"] == "rejected" and open_review_tasks(s) == []


@pytest.mark.parametrize("payee", ["<not an account>", "1234567", "6222 0202 0011 2233 4455 6677 8899 0011", "账户"])
async def test_an_entrusted_payee_must_be_a_bank_account(tmp_path: Path, payee: str) -> None:
    s = Stage3(tmp_path)
    s.signed_application()
    with pytest.raises(InvalidArgument) as err:
        await s.drawdown(drawdown(30 * WAN, payee), "customer")
    assert [v.field for v in err.value.violations] == ["payee_account"]
    assert payee not in err.value.message  # never echoed
    assert s.store.records_for("drawdown", "app_1") == [] and s.store.get_application("app_1").drawn_fen == 0


async def test_an_entrusted_payee_is_stored_in_canonical_form(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    s.signed_application()
    d = await s.drawdown(drawdown(30 * WAN, "６２２２ ０２０２-0011 2233 445"), "customer")
    assert d["payment_mode"] == "entrusted" and d["payee_account"] == PAYEE
    self_paid = await s.drawdown(drawdown(1 * WAN, ""), "customer")  # self payment: no payee needed
    assert (self_paid["payment_mode"], self_paid["state"]) == ("self", "disbursed")


async def test_due_dates_are_the_lender_s_calendar_days(tmp_path: Path) -> None:
    """06:30 on 1 March in Beijing is 22:30 on 28 February UTC: the loan starts on 1 March and its
    instalments fall on the 1st (a UTC day put them on the 28th, the first period a month short)."""
    from node.origination.lender_calendar import day_starts, lender_date
    from node.origination.loan_service import loan_view

    s = Stage3(tmp_path)
    s.clock.now = dt.datetime(2026, 2, 28, 22, 30, tzinfo=dt.UTC).timestamp()
    assert lender_date(s.clock()) == dt.date(2026, 3, 1)
    s.signed_application()
    d = await s.drawdown(node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=10 * WAN), "customer")
    loan = s.store.get_record("loan", d["loan_id"])
    assert [due for _, due, _, _ in loan["schedule"][:2]] == ["2026-04-01", "2026-05-01"]
    first_due = loan_view(loan, s.clock()).schedule[0].due.ToDatetime(dt.UTC)
    assert (
        first_due == dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.UTC)
        and day_starts("2026-04-01") == first_due.timestamp()
    )


async def test_a_contract_of_earlier_terms_is_held_to_its_per_drawdown_threshold(tmp_path: Path) -> None:
    """Contracts signed before the sums rule stated a per-drawdown 受托支付 threshold: their
    drawdowns are paid out that way; a contract of today's terms (stating the sums) on the sums.
    The disbursement review goes by the sum for both."""
    for terms, second_needs_payee in ((1, False), (2, True)):
        s = Stage3(tmp_path / f"terms-{terms}")
        s.signed_application()
        contract = {"contract_id": "ct_1", "application_id": "app_1", "state": "signed"}
        if terms > 1:
            contract["terms"] = terms
        with s.store.transaction() as db:
            s.store.put_record_in(db, "contract", "ct_1", "app_1", contract)
        request = node_pb2.RequestDrawdownRequest(application_id="app_1", amount_fen=20 * WAN)
        assert (await s.drawdown(request, "customer"))["payment_mode"] == "self"
        if second_needs_payee:  # 20万 + 20万 paid to the borrower would pass 30万
            with pytest.raises(InvalidArgument):
                await s.drawdown(request, "customer")
        else:  # paid to the borrower, but the review is the lender's own control: on the sum
            second = await s.drawdown(request, "customer")
            assert (second["payment_mode"], second["state"]) == ("self", "pending_review")


def test_an_approval_whose_contract_states_no_sign_by_date_still_expires(tmp_path: Path) -> None:
    """A contract made by an earlier version has no sign-by date: the approval still expires
    approval_valid_days after it was given (it was kept open for good)."""
    s = Stage3(tmp_path)
    app = s.signed_application()
    app.application_id, app.application_ref, app.state = "app_2", "ref-app_2", "submitted"
    s.store.create_application(app, "customer", s.clock())
    s.store.save(app, s.clock(), to_state="approved", actor="system", reason="test")
    with s.store.transaction() as db:  # made before sign_by existed
        s.store.put_record_in(db, "contract", "ct_old", "app_2", {"contract_id": "ct_old", "application_id": "app_2"})
    s.clock.advance(29 * 86_400)
    assert s.expire_unsigned() == []
    s.clock.advance(2 * 86_400)
    assert s.expire_unsigned() == ["app_2"] and s.store.get_application("app_2").state == "expired"


async def test_a_payee_given_below_the_threshold_is_paid_as_chosen(tmp_path: Path) -> None:
    """Below 受托支付起点 the borrower may still choose entrusted payment: a payee given is paid
    (it was silently dropped and the money went to the borrower), and is not its own account."""
    s = Stage3(tmp_path)
    app = s.signed_application()
    app.identifiers["bank_accounts"] = ["6222021234567890128"]
    s.store.save(app, s.clock())
    chosen = await s.drawdown(drawdown(2 * WAN), "customer")  # 2万: far below the 30万 threshold
    assert (chosen["payment_mode"], chosen["payee_account"]) == ("entrusted", PAYEE)
    with pytest.raises(InvalidArgument) as own:
        await s.drawdown(drawdown(2 * WAN, "6222021234567890128"), "customer")
    assert [v.field for v in own.value.violations] == ["payee_account"]
    assert (await s.drawdown(drawdown(2 * WAN, ""), "customer"))["payment_mode"] == "self"


async def test_a_fully_drawn_limit_is_a_failed_precondition_not_a_bad_amount(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    s.signed_application(limit_fen=10 * WAN)
    await s.drawdown(drawdown(10 * WAN, ""), "customer")
    with pytest.raises(FailedPrecondition, match="fully drawn"):
        await s.drawdown(drawdown(1 * WAN, ""), "customer")


async def test_a_limit_reserved_by_a_drawdown_in_review_says_so(tmp_path: Path) -> None:
    s = Stage3(tmp_path)
    s.signed_application(limit_fen=40 * WAN)
    waiting = await s.drawdown(drawdown(40 * WAN), "customer")  # 受托支付 and reviewed: it waits
    assert waiting["state"] == "pending_review"
    with pytest.raises(FailedPrecondition, match="reserved by drawdowns waiting for review"):
        await s.drawdown(drawdown(1 * WAN, ""), "customer")
