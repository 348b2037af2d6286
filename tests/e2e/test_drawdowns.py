"""Drawdowns of a signed limit through a real consortium (hub + node over TLS, ManualClock), on
the seed's equipment loan (精诚零部件, 35万, 受托支付 and review from 10万): split drawdowns do
not get round entrusted payment or the review, a retried drawdown pays out once, entrusted
payment never goes to the borrower's own account, and a drawdown waiting for review is not paid
once monitoring has frozen the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clients.demo.consortium import LocalConsortium, LocalMember, start_local_consortium
from clients.errors import LianfangRpcError
from node.monitoring.accounts import MONTH_SECONDS
from node.sources.personas import JINGCHENG_PARTS
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock
from tests.support.origination import application, sign, signing_code

WAN = 10_000 * 100  # 万元 in fen
DAY = 86_400.0
OWN_ACCOUNT = "31001520300050012345"
VENDOR = "6222020200112233445"
POST_LOAN = '[applicants."91320506MA1MXK4D5D".post_loan]\n'  # the seed's table: no flow in month 1 too


@pytest.fixture
async def lender(tmp_path: Path) -> AsyncIterator[tuple[LocalMember, ManualClock]]:
    clock = ManualClock()
    scenarios = tmp_path / "scenarios.toml"
    seed = Path(SEED_PERSONAS_FILE).read_text(encoding="utf-8")
    assert POST_LOAN in seed
    scenarios.write_text(seed.replace(POST_LOAN, POST_LOAN + 'flow_factors = { "1" = 0.0 }\n'), encoding="utf-8")
    c: LocalConsortium = await start_local_consortium(
        tmp_path / "c", ["lender-a"], clock=clock, source_latency_ms=0, scenario_file=str(scenarios)
    )
    try:
        yield c.members["lender-a"], clock
    finally:
        await c.stop()


async def signed_equipment_loan(m: LocalMember, ref: str) -> str:
    customer = m.as_role("customer", "liu")
    request = application(JINGCHENG_PARTS, ref)
    request.identifiers.bank_accounts.append(OWN_ACCOUNT)
    view = await customer.submit_application(request)
    assert view.state == "approved" and view.final_limit_fen == 35 * WAN
    contract = await customer.get_contract(view.application_id)
    code = await signing_code(customer, m.node, view.application_id)
    await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    return view.application_id


async def test_split_drawdowns_meet_entrusted_payment_and_review_on_their_sum(lender) -> None:  # type: ignore[no-untyped-def]
    m, _ = lender
    app_id = await signed_equipment_loan(m, "jc-split")
    customer = m.as_role("customer", "liu")
    first = await customer.request_drawdown(app_id, 8 * WAN)
    assert (first.payment_mode, first.state) == ("self", "disbursed")  # below both thresholds on its own
    with pytest.raises(LianfangRpcError) as err:  # 8万 + 8万 paid to the borrower would pass 10万
        await customer.request_drawdown(app_id, 8 * WAN)
    assert [v.field for v in err.value.violations] == ["payee_account"]
    second = await customer.request_drawdown(app_id, 8 * WAN, VENDOR)
    assert (second.payment_mode, second.state) == ("entrusted", "pending_review")  # and a reviewer looks


async def test_a_drawdown_sent_again_with_its_request_id_pays_out_once(lender) -> None:  # type: ignore[no-untyped-def]
    m, _ = lender
    app_id = await signed_equipment_loan(m, "jc-retry")
    customer = m.as_role("customer", "liu")
    one = await customer.request_drawdown(app_id, 3 * WAN, request_id="front-end-42")
    again = await customer.request_drawdown(app_id, 3 * WAN, request_id="front-end-42")  # after a timeout
    assert (again.drawdown_id, again.loan_id) == (one.drawdown_id, one.loan_id) and one.state == "disbursed"
    with pytest.raises(LianfangRpcError) as err:
        await customer.request_drawdown(app_id, 4 * WAN, request_id="front-end-42")
    assert [v.field for v in err.value.violations] == ["request_id"]
    other = await customer.request_drawdown(app_id, 3 * WAN)  # the SDK's own id: a new drawdown
    assert other.drawdown_id != one.drawdown_id
    assert m.node.engine.store.get_application(app_id).drawn_fen == 6 * WAN


async def test_entrusted_payment_never_goes_to_the_borrower_s_own_account(lender) -> None:  # type: ignore[no-untyped-def]
    m, _ = lender
    app_id = await signed_equipment_loan(m, "jc-own")
    with pytest.raises(LianfangRpcError) as err:
        await m.as_role("customer", "liu").request_drawdown(app_id, 20 * WAN, OWN_ACCOUNT)
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("payee_account", "is the borrower's own account: entrusted payment pays the counterparty")
    ]


async def test_a_drawdown_waiting_for_review_is_not_paid_once_the_limit_is_frozen(lender) -> None:  # type: ignore[no-untyped-def]
    m, clock = lender
    app_id = await signed_equipment_loan(m, "jc-freeze")
    customer = m.as_role("customer", "liu")
    assert (await customer.request_drawdown(app_id, 5 * WAN)).state == "disbursed"
    pending = await customer.request_drawdown(app_id, 20 * WAN, VENDOR)
    assert pending.state == "pending_review"
    clock.advance(MONTH_SECONDS + DAY)  # month 1: no flow at all
    assert list((await m.as_role("post_loan_officer").run_monitoring()).frozen) == [app_id]
    reviewer = m.as_role("disbursement_reviewer")
    with pytest.raises(LianfangRpcError) as err:
        await reviewer.review_disbursement(pending.drawdown_id, True, "looks fine")
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION and "frozen" in str(err.value)
    rejected = await reviewer.review_disbursement(pending.drawdown_id, False, "limit frozen by monitoring")
    assert rejected.state == "rejected" and m.node.engine.store.get_application(app_id).drawn_fen == 5 * WAN


async def test_approvals_expire_and_facilities_have_a_drawdown_period(lender) -> None:  # type: ignore[no-untyped-def]
    """An approval signed three years later was disbursed at its old rate: an approval now expires
    unsigned after the product's approval_valid_days (30), drawdowns end availability_months (12)
    after signing, and a drawdown is at least min_drawdown (1,000 yuan) unless less is left."""
    m, clock = lender
    customer = m.as_role("customer", "liu")
    late = await customer.submit_application(application(JINGCHENG_PARTS, "jc-late"))
    contract = await customer.get_contract(late.application_id)
    code = await signing_code(customer, m.node, late.application_id)
    untouched = await customer.submit_application(application(JINGCHENG_PARTS, "jc-untouched"))
    clock.advance(31 * DAY)
    with pytest.raises(LianfangRpcError) as err:
        await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION and "approval expired" in str(err.value)
    assert (await customer.get_application(late.application_id)).state == "expired"
    swept = await m.as_role("post_loan_officer").run_monitoring()  # the daily batch sweeps the rest
    assert list(swept.expired) == [untouched.application_id]
    assert (await customer.get_application(untouched.application_id)).state == "expired"

    app_id = await signed_equipment_loan(m, "jc-period")
    with pytest.raises(LianfangRpcError) as err:
        await customer.request_drawdown(app_id, 999 * 100)
    assert [v.field for v in err.value.violations] == ["amount_fen"]
    assert (await customer.request_drawdown(app_id, 8 * WAN)).state == "disbursed"
    clock.advance(365 * DAY)  # 12 months on: the period's last day (民法典 art. 202) still draws
    assert (await customer.request_drawdown(app_id, 1 * WAN)).state == "disbursed"
    clock.advance(DAY)
    with pytest.raises(LianfangRpcError) as err:
        await customer.request_drawdown(app_id, 1 * WAN)
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION and "drawdown period ended" in str(err.value)
