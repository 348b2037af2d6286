"""The platform's long-run KPIs (seed 000 §8, 长期运营的关键指标), from the node's own records:

* average ticket (件均金额): mean disbursed amount;
* approval rate (审批通过率): approved / decided — below 15 % the policy is too strict, above
  35 % it may be too loose (a warning either way);
* fund utilisation (资金利用率): drawn / approved limits, 85-95 % ideal;
* 6-month repeat borrowing (6个月复贷率): borrowers funded on another facility (a new
  application) within 6 months of their first; drawdowns of one facility are its use, not
  repeat borrowing; 20 % is the pass line;
* time spent per stage: the pipeline's progress, from the stored transitions.

``Kpis`` is the one object both the table and the chart are drawn from.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

from node.monitoring.batch import account_of, disbursed_at
from node.origination.store import NodeStore

APPROVAL_BAND = (0.15, 0.35)
UTILISATION_BAND = (0.85, 0.95)
REPEAT_PASS = 0.20
SIX_MONTHS = 182.5 * 86_400.0


@dataclass(frozen=True)
class StageTime:
    stage: str
    average_hours: float
    applications: int


@dataclass(frozen=True)
class Kpis:
    average_ticket_yuan: float
    loans: int
    approval_rate: float
    decided: int
    fund_utilisation: float
    repeat_borrowing_rate_6m: float
    borrowers: int
    stages: tuple[StageTime, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def table(self) -> list[tuple[str, str]]:
        """(indicator, value) rows, as ``lianfang node kpis`` prints them."""
        rows = [
            ("average_ticket_yuan", f"{self.average_ticket_yuan:.2f}"),
            ("loans", str(self.loans)),
            ("approval_rate", f"{self.approval_rate:.4f}"),
            ("decided", str(self.decided)),
            ("fund_utilisation", f"{self.fund_utilisation:.4f}"),
            ("repeat_borrowing_rate_6m", f"{self.repeat_borrowing_rate_6m:.4f}"),
            ("borrowers", str(self.borrowers)),
        ]
        rows += [(f"stage_hours.{s.stage}", f"{s.average_hours:.2f}") for s in self.stages]
        rows += [("warning", w) for w in self.warnings]
        return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def compute_kpis(store: NodeStore) -> Kpis:
    loans = store.records_of_kind("loan")
    ticket = _ratio(sum(int(loan["principal_fen"]) for loan in loans), len(loans)) / 100
    decided = approved = 0
    limits = drawn = 0
    spent: dict[str, list[float]] = defaultdict(list)
    for app in store.applications():
        history = store.history(app.application_id)
        reached = {t.to_state for t in history}
        if reached & {"approved", "declined"}:
            decided += 1
            approved += "approved" in reached
        if app.state in ("approved", "signed", "funded") and app.final_limit_fen:
            limits += app.final_limit_fen
            drawn += app.drawn_fen
        for here, after in pairwise(history):
            spent[here.to_state].append(after.at - here.at)
    facilities: dict[str, dict[str, float]] = defaultdict(dict)  # borrower -> application -> first drawdown
    for loan in loans:
        app = store.get_application(loan["application_id"])
        funded = facilities[account_of(app).applicant_key]
        at = disbursed_at(store, loan)
        funded[app.application_id] = min(at, funded.get(app.application_id, at))
    firsts = {borrower: sorted(apps.values()) for borrower, apps in facilities.items()}
    repeat = sum(1 for times in firsts.values() if len(times) > 1 and times[1] - times[0] <= SIX_MONTHS)
    kpis = Kpis(
        average_ticket_yuan=round(ticket, 2),
        loans=len(loans),
        approval_rate=round(_ratio(approved, decided), 4),
        decided=decided,
        fund_utilisation=round(_ratio(drawn, limits), 4),
        repeat_borrowing_rate_6m=round(_ratio(repeat, len(firsts)), 4),
        borrowers=len(firsts),
        stages=tuple(StageTime(stage, round(sum(d) / len(d) / 3600, 2), len(d)) for stage, d in sorted(spent.items())),
    )
    return Kpis(**{**kpis.__dict__, "warnings": warnings(kpis)})


def warnings(k: Kpis) -> tuple[str, ...]:
    found = []
    if k.decided and k.approval_rate < APPROVAL_BAND[0]:
        found.append("APPROVAL_RATE_LOW")
    if k.decided and k.approval_rate > APPROVAL_BAND[1]:
        found.append("APPROVAL_RATE_HIGH")
    if k.loans and k.fund_utilisation < UTILISATION_BAND[0]:
        found.append("FUND_UTILISATION_LOW")
    if k.loans and k.fund_utilisation > UTILISATION_BAND[1]:
        found.append("FUND_UTILISATION_HIGH")
    if k.borrowers and k.repeat_borrowing_rate_6m < REPEAT_PASS:
        found.append("REPEAT_BORROWING_LOW")
    return tuple(found)
