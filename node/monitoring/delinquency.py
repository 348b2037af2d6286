"""How late a loan is: its payments (``paid_fen``, applied to the instalments in order) against
its schedule's due dates on the lender's calendar. The batch acts on it: a reminder from the
first day past due, a collection task from ``SERIOUS_DAYS``, and at ``DEFAULT_DAYS`` (90: the
substandard line of China's loan classification, 逾期 90 天) the loan is defaulted — reported to
the hub, which counts defaults in ring scores and give-to-get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.origination.lender_calendar import day_starts

SERIOUS_DAYS = 30
DEFAULT_DAYS = 90
DAY = 86_400.0


@dataclass(frozen=True)
class Overdue:
    instalment: int  # the first instalment the payments do not cover
    days: int  # whole days since its due date ended


def total_due(loan: dict[str, Any]) -> int:
    return sum(int(principal) + int(interest) for _, _, principal, interest in loan["schedule"])


def overdue(loan: dict[str, Any], now: float) -> Overdue | None:
    """None while every instalment due before today is covered (one due today is not late yet),
    and for a loan disbursed before the node kept a ledger (no ``paid_fen``): its payments were
    never recorded, so it cannot be called late."""
    if "paid_fen" not in loan:
        return None
    paid, owed = int(loan["paid_fen"]), 0
    for number, due, principal, interest in loan["schedule"]:
        owed += int(principal) + int(interest)
        if owed > paid:
            days = int((now - day_starts(due)) // DAY)
            return Overdue(int(number), days) if days >= 1 else None
    return None
