"""The lender's calendar: due dates are days in China (UTC+8, no daylight saving since 1991), not
UTC days. A drawdown at 06:00 Beijing time on 1 March is on 1 March, not on 28 February."""

from __future__ import annotations

import datetime as dt

LENDER_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def lender_date(at: float) -> dt.date:
    """The lender's calendar day at the epoch time ``at``."""
    return dt.datetime.fromtimestamp(at, LENDER_TZ).date()


def day_starts(day: str | dt.date) -> float:
    """The epoch time a lender's calendar day (an ISO date) begins."""
    date = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return dt.datetime.combine(date, dt.time(), LENDER_TZ).timestamp()
