"""The borrower's settlement account after disbursement: monthly flows and the balance.

Seed 002 monitors the basic account the borrower keeps at the lender (结算账户流水). A real core
banking feed implements ``AccountFeed``; the shipped ``SimulatedAccountFeed`` is deterministic per
borrower and month around the pre-loan monthly average, and a scenario file can pin months::

    [applicants."92310115MA1FL3Q869".post_loan]
    flow_factors = { "6" = 0.0 }     # month 6 after drawdown: no flow at all

Months count in 30-day periods from the facility's first drawdown (``Account.since``; month 1 =
the first 30 days), the same calendar windows for every loan of the facility: counted from each
loan's own drawdown, a second loan's "month 6" was another window of the same account, and
froze a limit its first loan's month had just released.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from node.sources.overrides import ScenarioError, post_loan_tables

MONTH_SECONDS = 30 * 86_400.0


@dataclass(frozen=True)
class Account:
    """What the feed needs about one borrower's account (node-internal: raw key)."""

    applicant_key: str
    baseline_monthly_fen: int  # the pre-loan monthly average (stage 1 flows)
    balance_ratio: float = 0.125  # average daily balance per monthly flow, from stage 1
    since: float = 0.0  # the facility's first drawdown: month m is [since + (m-1)·30 d, since + m·30 d)


class AccountFeed(abc.ABC):
    @abc.abstractmethod
    def month_flow(self, account: Account, month: int) -> int:
        """Inflows and outflows of month ``month`` (1-based, from ``account.since``: a real feed
        sums the account's postings in that window), in fen."""

    @abc.abstractmethod
    def balance(self, account: Account, month: int) -> int:
        """The balance during month ``month`` (the current, incomplete one), in fen."""


class SimulatedAccountFeed(AccountFeed):
    def __init__(self, factors: Mapping[str, Mapping[int, float]] | None = None) -> None:
        self.factors = {k.strip().upper(): dict(v) for k, v in (factors or {}).items()}

    def _factor(self, account: Account, month: int) -> float:
        pinned = self.factors.get(account.applicant_key.strip().upper(), {})
        if month in pinned:
            return pinned[month]
        digest = hashlib.sha256(f"{account.applicant_key}|{month}".encode()).digest()
        return 0.9 + 0.2 * digest[0] / 255  # ±10 %: a steady business

    def month_flow(self, account: Account, month: int) -> int:
        return int(account.baseline_monthly_fen * self._factor(account, month)) if month >= 1 else 0

    def balance(self, account: Account, month: int) -> int:
        """The balance follows last month's flows (a quiet month leaves the account empty)."""
        return int(self.month_flow(account, max(month - 1, 1)) * account.balance_ratio)


def load_flow_factors(path: str | Path) -> dict[str, dict[int, float]]:
    """The ``post_loan.flow_factors`` tables of a scenario file (other tables are the sources')."""
    result: dict[str, dict[int, float]] = {}
    for where, key, post_loan in post_loan_tables(path):
        factors = post_loan.get("flow_factors", {})
        if not isinstance(factors, dict):
            raise ScenarioError(f"{where}.flow_factors must be a table of month = factor")
        try:
            result[key] = {int(m): float(f) for m, f in factors.items() if float(f) >= 0}
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}.flow_factors: months are integers, factors >= 0") from None
    return result
