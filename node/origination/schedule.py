"""Repayment schedules in whole fen: equal instalments (等额本息) and interest-first (先息后本).

Computed in decimal and rounded half up (四舍五入) to the fen, as a borrower checks it by hand:
binary floats and Python's round() (half to even) were a fen off on halves. The principal's
rounding is settled in the last instalment, so principal sums exactly to the amount lent.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_ONE_FEN = Decimal(1)


@dataclass(frozen=True)
class Instalment:
    number: int
    due: dt.date
    principal_fen: int
    interest_fen: int


def _fen(amount: Decimal) -> int:
    return int(amount.quantize(_ONE_FEN, rounding=ROUND_HALF_UP))


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def repayment_schedule(
    principal_fen: int, annual_rate: float, term_months: int, method: str, start: dt.date
) -> list[Instalment]:
    r = Decimal(repr(annual_rate)) / 12  # the rate as written (0.045), not its binary neighbour
    out: list[Instalment] = []
    remaining = principal_fen
    if method == "equal_instalments":
        payment = principal_fen * r / (1 - (1 + r) ** -term_months) if r else Decimal(principal_fen) / term_months
        for n in range(1, term_months + 1):
            interest = _fen(remaining * r)
            # never below 0 nor past what is left: a few fen over many months round otherwise
            principal = remaining if n == term_months else min(max(_fen(payment) - interest, 0), remaining)
            remaining -= principal
            out.append(Instalment(n, add_months(start, n), principal, interest))
    elif method == "interest_first":
        for n in range(1, term_months + 1):
            principal = principal_fen if n == term_months else 0
            out.append(Instalment(n, add_months(start, n), principal, _fen(principal_fen * r)))
    else:
        raise ValueError(f"unknown repayment method {method!r}")
    return out
