"""Stage 1 decision: rules, scores, sources and the hub's answer → approve / decline / refer /
due diligence, with every reason, the pre-credit limit and the risk-based price.

A consortium flag alone never declines (PIPL art. 24, automated decisions): consortium rules
that say "decline" refer to a credit approver instead. A source that failed or timed out, or
an unreachable hub, refers with its reason — never a silent approve, nor a decline for the
scores its missing features lowered (rules on missing features do not fire).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.origination.limits import pre_credit_limit
from node.origination.products import Product
from node.origination.risk import Assessment
from node.rules.decision import sort_hits

APPROVE, DECLINE, REFER, DUE_DILIGENCE = "approve", "decline", "refer", "due_diligence"


@dataclass
class Decision:
    outcome: str
    reasons: list[str] = field(default_factory=list)
    anti_fraud_score: float = 0.0
    credit_score: float = 0.0
    grade: str = ""
    pre_credit_limit_fen: int = 0
    annual_rate: float = 0.0
    hits: list[dict[str, str]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    rule_set_version: str = ""


def stage1_decision(
    product: Product,
    amount_fen: int,
    assessment: Assessment,
    features: dict[str, Any],
    degraded: list[str],
    hub_unavailable_policy: str = REFER,
    hub_reason: str = "",
) -> Decision:
    verdicts = sort_hits(assessment.hits)  # a consortium rule's decline refers
    declines = list(verdicts.declines)
    refers = [*degraded, *verdicts.refers]
    if hub_reason:
        (declines if hub_unavailable_policy == DECLINE else refers).append(hub_reason)
    # Scores of an application whose sources did not all answer are made with their features
    # missing (scored as the scorecard's ``missing`` points): too low a score then says more
    # about the outage than about the applicant, so it refers rather than declines.
    score_verdicts = refers if degraded else declines
    if assessment.credit_score < product.min_credit_score:
        score_verdicts.append("CREDIT_SCORE_LOW")
    if assessment.anti_fraud_score < product.min_anti_fraud_score:
        refers.append("ANTI_FRAUD_SCORE_LOW")
    rate = product.rate_for(assessment.grade)
    if rate is None:
        score_verdicts.append(f"GRADE_{assessment.grade}_NOT_LENT")
    limit = pre_credit_limit(product, features)
    if limit < product.min_amount_fen:
        refers.append("NO_INCOME_EVIDENCE" if limit == 0 else "PRE_CREDIT_BELOW_PRODUCT_MINIMUM")
    decision = Decision(
        outcome=APPROVE,
        anti_fraud_score=assessment.anti_fraud_score,
        credit_score=assessment.credit_score,
        grade=assessment.grade,
        pre_credit_limit_fen=limit,
        annual_rate=rate or 0.0,
        hits=[
            {"rule_id": h.rule_id, "reason_code": h.reason_code, "action": h.action, "source": h.source}
            for h in assessment.hits
        ],
        rule_set_version=assessment.version,
    )
    low, high = product.grey_zone
    if declines:
        decision.outcome, decision.reasons = DECLINE, declines + refers
    elif refers:
        decision.outcome, decision.reasons = REFER, refers
    elif low <= assessment.credit_score < high:
        decision.outcome, decision.reasons = DUE_DILIGENCE, ["GREY_ZONE_SCORE"]
    elif amount_fen > limit:
        decision.outcome, decision.reasons = DUE_DILIGENCE, ["AMOUNT_ABOVE_PRE_CREDIT"]
    else:
        decision.reasons = ["WITHIN_PRE_CREDIT"]
    decision.reasons = list(dict.fromkeys([*decision.reasons, *verdicts.flags]))  # two rules may share a code
    return decision
