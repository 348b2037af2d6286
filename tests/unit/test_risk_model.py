"""The node's risk model and stage-1 decision around the rule engine: the credit grade follows
the scorecard's own cut-offs, the decision names the models that made it, and a reason code
shared by two rules is given once."""

from __future__ import annotations

from pathlib import Path

from node.origination.decision import stage1_decision
from node.origination.products import load_products
from node.origination.risk import Assessment, RiskModel
from node.rules import CREDIT_SCORECARD
from node.rules.model import RuleHit
from tests.unit.test_scorecards import WANG_CREDIT

WANG = WANG_CREDIT  # 老王家常菜 (seed 002): credit 78, a B on the shipped cut-offs


def test_the_grade_follows_the_credit_scorecard_s_own_cut_offs(tmp_path: Path) -> None:
    shipped = RiskModel.load()
    assert (shipped.assess(WANG).credit_score, shipped.assess(WANG).grade) == (78.0, "B")
    stricter = tmp_path / "credit.toml"
    text = CREDIT_SCORECARD.read_text(encoding="utf-8")
    stricter.write_text(text.replace("B = 75", "B = 80", 1), encoding="utf-8")
    assessment = RiskModel.load(credit_scorecard_file=stricter).assess(WANG)
    assert (assessment.credit_score, assessment.grade) == (78.0, "C")


def test_a_decision_names_every_model_that_made_it() -> None:
    assert RiskModel.load().version == "sme-prescreen@2025.06.1 sme-antifraud@2025.06.1 sme-credit@2025.06.1"


def test_a_reason_code_two_rules_share_is_given_once() -> None:
    product = next(iter(load_products().values()))
    hits = [
        RuleHit("R1", "STACKING", "refer", "consortium"),
        RuleHit("R2", "STACKING", "refer", "consortium"),
        RuleHit("F1", "WATCH", "flag", "bureau"),
        RuleHit("F2", "WATCH", "flag", "bureau"),
    ]
    assessment = Assessment(hits, 90.0, 80.0, "B", "v", {})
    decision = stage1_decision(product, product.min_amount_fen, assessment, WANG, [])
    assert decision.reasons == ["STACKING", "NO_INCOME_EVIDENCE", "WATCH"]  # no tax_revenue_estimate
    assert [h["rule_id"] for h in decision.hits] == ["R1", "R2", "F1", "F2"]  # every rule still shown
