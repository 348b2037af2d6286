"""How late a loan is: its payments (``paid_fen``, applied to the instalments in order) against
its schedule's due dates on the lender's calendar. The batch acts on it: a reminder from the
first day past due, a collection task from ``SERIOUS_DAYS``, and past ``DEFAULT_DAYS`` (more than
90: the substandard line of China's loan classification, 逾期超过 90 天) the loan is defaulted — reported to
the hub, which counts defaults in ring scores and give-to-get.

A loan disbursed before the node kept a ledger has no ``paid_fen``: it is never called late.
Its first recorded payment opens its ledger (``ledger_from``) as of the day this node began
keeping ledgers (``LEDGER_STARTED``, recorded once): instalments due from then on are counted
against the payments, the earlier ones having been paid outside the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from node.origination.lender_calendar import day_starts, lender_date
from node.origination.store import NodeStore
from runtime.errors import NotFound

SERIOUS_DAYS = 30
DEFAULT_DAYS = 90
DAY = 86_400.0
LEDGER_STARTED = ("ledger", "started")  # the record of when this node began keeping ledgers
OUTSTANDING = ("active", "defaulted")
"""Loan states in which the borrower owes money: the application is still lending."""


@dataclass(frozen=True)
class Overdue:
    instalment: int  # the first instalment the payments do not cover
    days: int  # whole days since its due date ended


def outstanding(loan: dict[str, Any]) -> bool:
    return loan.get("state") in OUTSTANDING


def in_default(loans: Iterable[dict[str, Any]]) -> bool:
    """A loan of the facility is defaulted: its limit stays frozen, whatever flows do, and no
    more is drawn."""
    return any(loan.get("state") == "defaulted" for loan in loans)


def ledger_instalments(loan: dict[str, Any]) -> list[tuple[int, str, int]]:
    """(number, due date, amount) of the instalments the ledger's payments are counted against."""
    since = loan.get("ledger_from")
    return [
        (int(number), due, int(principal) + int(interest))
        for number, due, principal, interest in loan["schedule"]
        if since is None or day_starts(due) >= since
    ]


def total_due(loan: dict[str, Any]) -> int:
    """What the payments must add up to for the loan to be repaid."""
    return sum(amount for _, _, amount in ledger_instalments(loan))


def ledger_started(store: NodeStore, now: float) -> float:
    """When this node began keeping ledgers: the first call records ``now`` (the node's start)."""
    try:
        return float(store.get_record(*LEDGER_STARTED)["at"])
    except NotFound:
        with store.transaction() as db:
            store.put_record_in(db, *LEDGER_STARTED, "", {"at": now})
        return now


def open_ledger(loan: dict[str, Any], started: float) -> None:
    """Starts the ledger of a loan from before it existed (see the module docstring)."""
    if "paid_fen" not in loan:
        loan["paid_fen"] = 0
        loan["ledger_from"] = day_starts(lender_date(started))


def still_owed(loan: dict[str, Any]) -> dict[int, int]:
    """Instalment number → what the payments leave of it (a loan without a ledger: all of each)."""
    left = int(loan.get("paid_fen", 0))
    owed: dict[int, int] = {}
    for number, _, amount in ledger_instalments(loan):
        owed[number] = amount - min(left, amount)
        left -= min(left, amount)
    return owed


def overdue(loan: dict[str, Any], now: float) -> Overdue | None:
    """None while every instalment due before today is covered (one due today is not late yet),
    for a loan that owes nothing any more, and for one without a ledger."""
    if "paid_fen" not in loan or not outstanding(loan):
        return None
    owed = still_owed(loan)
    for number, due, _ in ledger_instalments(loan):
        if owed[number]:
            days = int((now - day_starts(due)) // DAY)
            return Overdue(number, days) if days >= 1 else None
    return None
