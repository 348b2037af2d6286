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
