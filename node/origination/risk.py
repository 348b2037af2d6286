"""The node's risk model: one compiled rule set plus the anti-fraud and credit scorecards,
loaded once at start and applied to the merged features of a pre-screen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.rules import ANTIFRAUD_SCORECARD, CATALOGUE, CREDIT_SCORECARD, DEFAULT_RULES, load_rules
from node.rules.compiler import CompiledRuleSet
from node.rules.model import RuleHit
from node.rules.scorecard import Scorecard, load_scorecard
from runtime.config import setting_file


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
        rules_file: str | Path = "",
        antifraud_scorecard_file: str | Path = "",
        credit_scorecard_file: str | Path = "",
    ) -> RiskModel:
        """The rule set and both scorecards the settings of those names give (an empty one: the
        shipped file, ``node.rules``), each error a ConfigError naming its setting: the node's
        model at start and on SIGHUP."""
        with setting_file("rules_file", rules_file):
            rules = load_rules(rules_file or DEFAULT_RULES)
        with setting_file("antifraud_scorecard_file", antifraud_scorecard_file):
            anti_fraud = load_scorecard(antifraud_scorecard_file or ANTIFRAUD_SCORECARD, CATALOGUE)
        with setting_file("credit_scorecard_file", credit_scorecard_file):
            credit = load_scorecard(credit_scorecard_file or CREDIT_SCORECARD, CATALOGUE)
        return cls(rules, anti_fraud, credit)

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
