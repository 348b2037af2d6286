"""Repayment schedules in whole fen: equal instalments (等额本息) and interest-first (先息后本).

Rounding is settled in the last instalment so principal sums exactly to the amount lent.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Instalment:
    number: int
    due: dt.date
    principal_fen: int
    interest_fen: int


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def repayment_schedule(
    principal_fen: int, annual_rate: float, term_months: int, method: str, start: dt.date
) -> list[Instalment]:
    r = annual_rate / 12
    out: list[Instalment] = []
    remaining = principal_fen
    if method == "equal_instalments":
        payment = principal_fen * r / (1 - (1 + r) ** -term_months) if r else principal_fen / term_months
        for n in range(1, term_months + 1):
            interest = round(remaining * r)
            principal = remaining if n == term_months else round(payment) - interest
            remaining -= principal
            out.append(Instalment(n, add_months(start, n), principal, interest))
    elif method == "interest_first":
        for n in range(1, term_months + 1):
            principal = principal_fen if n == term_months else 0
            out.append(Instalment(n, add_months(start, n), principal, round(principal_fen * r)))
    else:
        raise ValueError(f"unknown repayment method {method!r}")
    return out
