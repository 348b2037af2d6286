"""The credit bureau after disbursement (征信贷后查询): new loans the borrower took elsewhere.

Seed 002 stage 4: "若发现客户在他行新增大额贷款, 触发共债风险预警". The consortium's co-debt
alerts see only its members; the credit bureau sees every licensed lender. So the daily batch
pulls each facility's bureau report again every ``bureau_recheck_days`` (30 by default: a query
costs money and the bureau updates monthly) and compares it with the day the application was
screened: lines opened since then at *other* lenders (the report lists this lender's own loans
too) whose amounts reach a share of this facility's limit raise a co-debt alert
(``node.monitoring.batch``). The query rests on the borrower's authorisation (个人信息查询授权书),
which covers post-loan management.

A real bureau gateway implements ``BureauFeed``; the shipped ``SimulatedBureauFeed`` draws a new
loan now and then (more often for riskier applicants), and a scenario file can pin them::

    [applicants."91310000MA1K4Y7X3B".post_loan]
    bureau_new_loans = [ { day = 100, amount_yuan = 300000 } ]  # 100 days after the first drawdown
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from node.sources.base import SourceError, SourceRequest
from node.sources.overrides import ScenarioError, post_loan_tables
from node.sources.simulation import applicant_profile, chance, seeded_rng

DAY = 86_400.0
PERIOD_DAYS = 30  # the simulated bureau's reporting cycle


@dataclass(frozen=True)
class CreditLine:
    """One loan on the borrower's bureau report (node-internal)."""

    line_id: str
    """The bureau's id of the account: the same on every report, so a line is alerted once."""
    opened_at: float
    amount_fen: int
    own: bool = False
    """The line is this lender's own loan (a real gateway knows it by the institution code)."""


class BureauFeed(abc.ABC):
    """The post-loan query of a bureau gateway: the borrower's loans as the bureau knows them now.

    The report covers the applicant and, for a business, the person behind it (legal
    representative or operator). It raises on refusal or failure (``SourceError``); the batch
    bounds the wait and asks again on its next run.
    """

    @abc.abstractmethod
    async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
        """Every line on the report as of ``now``. ``since`` is the facility's first drawdown; a
        real gateway ignores it (the simulator dates its story from it)."""


def new_lines_elsewhere(lines: Iterable[CreditLine], screened_at: float) -> list[CreditLine]:
    """Lines opened at other lenders after the application was screened, oldest first: debt the
    pre-screen did not see (a loan taken between approval and drawdown counts too)."""
    return sorted((x for x in lines if not x.own and x.opened_at > screened_at), key=lambda x: (x.opened_at, x.line_id))


def line_digest(line: CreditLine) -> str:
    """A short stable name for a line in alert ids: the bureau's account number stays out of them."""
    return hashlib.sha256(line.line_id.encode()).hexdigest()[:12]


def set_digest(digests: Sequence[str]) -> str:
    """A short stable name for a set of lines (their ``line_digest``s, sorted)."""
    return hashlib.sha256("|".join(digests).encode()).hexdigest()[:12]


def bureau_is_down(error: BaseException) -> bool:
    """A failed pull that says the bureau itself is out (its deadline, its unavailability), not
    that it refused one applicant (an authorisation withdrawn, say)."""
    if isinstance(error, TimeoutError):
        return True
    return isinstance(error, SourceError) and "UNAVAILABLE" in error.code


@dataclass(frozen=True)
class PinnedLine:
    """A scenario's new loan: ``day`` days after the facility's first drawdown."""

    day: float
    amount_fen: int
    own: bool = False


class SimulatedBureauFeed(BureauFeed):
    """Simulated bureau, not real data: per 30-day period after the first drawdown, a chance of
    one new loan at another lender (1 % plus up to 15 % for the riskiest applicants), and the
    scenario's pinned loans. The same applicant gets the same report on every run."""

    def __init__(self, pinned: Mapping[str, Sequence[PinnedLine]] | None = None, *, seed: int = 0) -> None:
        self.pinned = {k.strip().upper(): list(v) for k, v in (pinned or {}).items()}
        self.seed = seed

    async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
        key = request.applicant_key
        pinned = self.pinned.get(key)
        if pinned is not None:  # a scenario tells this borrower's whole post-loan story
            lines = [CreditLine(f"pinned-{i}", since + p.day * DAY, p.amount_fen, p.own) for i, p in enumerate(pinned)]
            return [x for x in lines if x.opened_at <= now]
        risk = applicant_profile(request, self.seed).risk
        lines = []
        for period in range(int((now - since) // (PERIOD_DAYS * DAY)) + 1):
            rng = seeded_rng(self.seed, "bureau", "post_loan", key, str(period))
            if not chance(rng, 0.01 + 0.15 * risk**2):
                continue
            opened = since + (period * PERIOD_DAYS + rng.uniform(0, PERIOD_DAYS)) * DAY
            amount = int(round(rng.uniform(30_000, 300_000), -3)) * 100
            if opened <= now:
                lines.append(CreditLine(f"sim-{period}", opened, amount))
        return lines


def load_bureau_lines(path: str | Path) -> dict[str, list[PinnedLine]]:
    """The ``post_loan.bureau_new_loans`` lists of a scenario file (other tables are the sources'
    and the account feed's)."""
    result: dict[str, list[PinnedLine]] = {}
    for where, key, post_loan in post_loan_tables(path):
        if "bureau_new_loans" not in post_loan:
            continue
        loans = post_loan["bureau_new_loans"]
        if not isinstance(loans, list):
            raise ScenarioError(f"{where}.bureau_new_loans must be a list of {{ day = ..., amount_yuan = ... }}")
        result[key] = [_pinned_line(f"{where}.bureau_new_loans[{j}]", loan) for j, loan in enumerate(loans)]
    return result


def _pinned_line(where: str, loan: object) -> PinnedLine:
    if not isinstance(loan, dict):
        raise ScenarioError(f"{where} must be a table {{ day = ..., amount_yuan = ... }}")
    unknown = set(loan) - {"day", "amount_yuan", "own"}
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: day, amount_yuan, own)")
    day, amount, own = loan.get("day"), loan.get("amount_yuan"), loan.get("own", False)
    if isinstance(day, bool) or not isinstance(day, int | float) or not 0 <= day < 36_500:
        raise ScenarioError(f"{where}.day must be a number of days from 0 (the first drawdown)")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount < 10**12:
        raise ScenarioError(f"{where}.amount_yuan must be a positive number")
    if not isinstance(own, bool):
        raise ScenarioError(f"{where}.own must be true or false")
    return PinnedLine(float(day), round(amount * 100), own)
