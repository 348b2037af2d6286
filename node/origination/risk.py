"""The node's risk model: one compiled rule set plus the anti-fraud and credit scorecards,
loaded once at start and applied to the merged features of a pre-screen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.rules.compiler import CompiledRuleSet, compile_rule_set
from node.rules.features import CATALOGUE
from node.rules.model import RuleHit, load_rule_set
from node.rules.scorecard import Scorecard, load_scorecard

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
DEFAULT_RULES = RULES_DIR / "default_rules.toml"
DEFAULT_ANTIFRAUD_SCORECARD = RULES_DIR / "antifraud_scorecard.toml"
DEFAULT_CREDIT_SCORECARD = RULES_DIR / "credit_scorecard.toml"


def load_rules(path: str | Path = DEFAULT_RULES) -> CompiledRuleSet:
    """A rule set file, checked against the feature catalogue and compiled."""
    return compile_rule_set(load_rule_set(path, CATALOGUE), CATALOGUE)


@dataclass(frozen=True)
class Assessment:
    hits: list[RuleHit]
    anti_fraud_score: float
    credit_score: float
    grade: str
    version: str
    contributions: dict[str, list[tuple[str, str, float]]]


class RiskModel:
    def __init__(self, rules: CompiledRuleSet, anti_fraud: Scorecard, credit: Scorecard) -> None:
        self.rules, self.anti_fraud, self.credit = rules, anti_fraud, credit

    @classmethod
    def load(
        cls,
        rules_file: str | Path = DEFAULT_RULES,
        anti_fraud_file: str | Path = DEFAULT_ANTIFRAUD_SCORECARD,
        credit_file: str | Path = DEFAULT_CREDIT_SCORECARD,
    ) -> RiskModel:
        return cls(
            load_rules(rules_file), load_scorecard(anti_fraud_file, CATALOGUE), load_scorecard(credit_file, CATALOGUE)
        )

    @property
    def version(self) -> str:
        """Which models made a decision: ``name@version`` of the rule set and both scorecards."""
        models = (self.rules, self.anti_fraud, self.credit)
        return " ".join(f"{m.name}@{m.version}" for m in models)

    def assess(self, features: Mapping[str, Any]) -> Assessment:
        hits = self.rules.evaluate(features)
        af = self.anti_fraud.score(features)
        cr = self.credit.score(features)
        return Assessment(
            hits=hits,
            anti_fraud_score=af.score,
            credit_score=cr.score,
            grade=self.credit.grade(cr.score),
            version=self.version,
            contributions={
                "anti_fraud": [tuple(c) for c in af.contributions],  # type: ignore[misc]
                "credit": [tuple(c) for c in cr.contributions],  # type: ignore[misc]
            },
        )
