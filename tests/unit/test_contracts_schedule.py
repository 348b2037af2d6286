"""Contract signatures verify only for the exact document; schedules add up to the fen."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from node.origination.contracts import document_digest, verify_signature
from node.origination.schedule import add_months, repayment_schedule


def test_signature_verifies_and_tampering_fails() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    document = "借款合同 limit 180,000.00 元 rate 4.5000%"
    signature = key.sign(document_digest(document))
    assert verify_signature(document, public, signature)
    assert not verify_signature(document.replace("180,000", "280,000"), public, signature)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert not verify_signature(document, other, signature)
    assert not verify_signature(document, b"short", signature)


@pytest.mark.parametrize("method", ["equal_instalments", "interest_first"])
@pytest.mark.parametrize(("amount", "rate", "term"), [(15_000_000, 0.045, 12), (80_000_000, 0.048, 24), (1, 0.1, 3)])
def test_schedule_principal_sums_exactly(method: str, amount: int, rate: float, term: int) -> None:
    plan = repayment_schedule(amount, rate, term, method, dt.date(2026, 1, 31))
    assert len(plan) == term
    assert sum(i.principal_fen for i in plan) == amount
    assert all(i.interest_fen >= 0 and i.principal_fen >= 0 for i in plan)
    assert plan[0].due == dt.date(2026, 2, 28)


def test_equal_instalments_are_equal_and_interest_first_pays_principal_last() -> None:
    plan = repayment_schedule(15_000_000, 0.045, 12, "equal_instalments", dt.date(2026, 1, 1))
    totals = {i.principal_fen + i.interest_fen for i in plan[:-1]}
    assert max(totals) - min(totals) <= 1  # rounding only
    assert sum(i.interest_fen for i in plan) == pytest.approx(15_000_000 * 0.045 * 13 / 24, rel=0.01)
    io = repayment_schedule(15_000_000, 0.045, 12, "interest_first", dt.date(2026, 1, 1))
    assert [i.principal_fen for i in io[:-1]] == [0] * 11 and io[-1].principal_fen == 15_000_000
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)


def test_interest_rounds_half_up_to_the_fen() -> None:
    """100,012 yuan at 4.5 % a year is 37,504.5 fen a month: 四舍五入 gives 37,505 (round() gave
    37,504, half to even, and a float rate can land either side of the half)."""
    plan = repayment_schedule(10_001_200, 0.045, 12, "interest_first", dt.date(2026, 1, 15))
    assert {i.interest_fen for i in plan} == {37_505}
    assert sum(i.principal_fen for i in plan) == 10_001_200
    equal = repayment_schedule(10_001_200, 0.045, 12, "equal_instalments", dt.date(2026, 1, 15))
    assert equal[0].interest_fen == 37_505 and sum(i.principal_fen for i in equal) == 10_001_200


def test_a_few_fen_over_many_months_never_pay_back_negative_principal() -> None:
    """What is left of a limit may be drawn however small: 17 fen over 36 months at 5.5 % rounded
    its instalment up and ended with a principal of -18 fen."""
    for amount in (1, 17, 35, 1_794):
        plan = repayment_schedule(amount, 0.055, 36, "equal_instalments", dt.date(2026, 1, 15))
        assert min(i.principal_fen for i in plan) >= 0 and sum(i.principal_fen for i in plan) == amount


def test_the_contract_states_the_drawdown_rules_it_is_held_to() -> None:
    """The rules a drawdown meets are the ones the borrower signed: on the sums drawn, the period,
    the minimum, and the date to sign by (a contract of earlier terms stated only a per-drawdown
    threshold, and drawdowns under it are judged that way)."""
    from node.origination.contracts import contract_document
    from node.origination.products import load_products
    from node.origination.store import Application

    product = load_products()["xiaowei_puhui"]
    app = Application(
        application_id="app_1", application_ref="r", state="approved", product_code=product.code,
        applicant_kind="company", applicant_name="精诚", identifiers={}, industry="", locality="",
        amount_fen=10**7, term_months=12, repayment_method="equal_instalments", consent_ref="c",
        final_limit_fen=10**7, final_rate=0.045,
    )  # fmt: skip
    text = contract_document(app, product, "ct_1", dt.date(2026, 2, 1))
    for stated in ("300,000.00 元 in all", "Drawdown period: 12 months", "Minimum drawdown: 1,000.00", "2026-02-01"):
        assert stated in text
