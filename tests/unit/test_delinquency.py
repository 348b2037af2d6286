"""How late a loan is, from its ledger and its schedule on the lender's calendar."""

from __future__ import annotations

from node.monitoring.delinquency import Overdue, overdue, total_due
from node.origination.lender_calendar import day_starts

SCHEDULE = [[1, "2026-02-01", 1000, 50], [2, "2026-03-01", 1000, 40], [3, "2026-04-01", 1000, 30]]


def loan(paid: int | None) -> dict[str, object]:
    record: dict[str, object] = {"schedule": SCHEDULE, "state": "active"}
    if paid is not None:
        record["paid_fen"] = paid
    return record


def test_an_instalment_is_late_from_the_day_after_it_falls_due() -> None:
    assert overdue(loan(0), day_starts("2026-02-01") + 23 * 3600) is None  # due today: not late yet
    assert overdue(loan(0), day_starts("2026-02-02")) == Overdue(1, 1)
    assert overdue(loan(1050), day_starts("2026-03-05")) == Overdue(2, 4)  # the first one is paid
    assert overdue(loan(1049), day_starts("2026-03-05")) == Overdue(1, 32)  # a fen short is still late
    assert overdue(loan(total_due(loan(0))), day_starts("2027-01-01")) is None


def test_a_loan_from_before_the_ledger_is_never_called_late() -> None:
    assert overdue(loan(None), day_starts("2027-01-01")) is None  # its payments were never recorded
