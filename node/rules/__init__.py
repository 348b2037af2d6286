"""Rule sets and scorecards of the node's decision engine (DESIGN.md "Node").

Rules are data (versioned TOML files) compiled once at load into one Python function
(:mod:`node.rules.compiler`); scorecards are points tables (:mod:`node.rules.scorecard`);
:func:`node.rules.decision.sort_hits` sorts hits into declines, refers and flags, never declining
on consortium data alone (the node's stage 1 decision starts from it; ``decide`` applies the order
to the rules alone). The shipped files below are the defaults a loan product starts from.
"""

from __future__ import annotations

from pathlib import Path

from node.rules.compiler import CompiledRuleSet, compile_rule_set
from node.rules.decision import Decision, Outcome, decide
from node.rules.errors import RuleEvaluationError, RuleSetError, ScorecardError
from node.rules.features import CATALOGUE, Catalogue, Feature
from node.rules.model import Rule, RuleHit, RuleSet, load_rule_set
from node.rules.scorecard import Scorecard, ScoreResult, grade, load_scorecard

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_RULES = DATA_DIR / "default_rules.toml"
ANTIFRAUD_SCORECARD = DATA_DIR / "antifraud_scorecard.toml"
CREDIT_SCORECARD = DATA_DIR / "credit_scorecard.toml"


def load_rules(path: str | Path = DEFAULT_RULES, catalogue: Catalogue = CATALOGUE) -> CompiledRuleSet:
    """A rule set file (the shipped small-business one by default), checked against the
    catalogue and compiled."""
    return compile_rule_set(load_rule_set(path, catalogue), catalogue)


__all__ = [
    "ANTIFRAUD_SCORECARD",
    "CATALOGUE",
    "CREDIT_SCORECARD",
    "DEFAULT_RULES",
    "Catalogue",
    "CompiledRuleSet",
    "Decision",
    "Feature",
    "Outcome",
    "Rule",
    "RuleEvaluationError",
    "RuleHit",
    "RuleSet",
    "RuleSetError",
    "ScoreResult",
    "Scorecard",
    "ScorecardError",
    "compile_rule_set",
    "decide",
    "grade",
    "load_rule_set",
    "load_rules",
    "load_scorecard",
]
