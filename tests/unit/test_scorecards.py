"""Scorecards: bins and their edges, missing and out-of-range values, clipping, grades, load
errors naming the key, and the seed's 老王家常菜 persona (anti-fraud 85, credit 78 → B)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from node.rules import ANTIFRAUD_SCORECARD, CATALOGUE, CREDIT_SCORECARD
from node.rules.errors import ScorecardError
from node.rules.scorecard import (
    DEFAULT_CUTOFFS,
    Bin,
    Characteristic,
    Contribution,
    Scorecard,
    grade,
    load_scorecard,
    scorecard_from_mapping,
)

YEARS = Characteristic(
    feature="years",
    bins=(Bin(points=0, upper=1), Bin(points=4, lower=1, upper=3), Bin(points=9, lower=3, upper=10)),
    missing=-2,
    other=-7,
)
KIND = Characteristic(
    feature="kind",
    bins=(
        Bin(points=5, values=("company",)),
        Bin(points=2, values=("individual_business", "partnership"), label="small"),
    ),
)
ABNORMAL = Characteristic(feature="abnormal", bins=(Bin(points=3, values=(False,)), Bin(points=-30, values=(True,))))
CARD = Scorecard(name="t", base=50, characteristics=(YEARS, KIND, ABNORMAL))


def test_numeric_bins_are_lower_inclusive_upper_exclusive() -> None:
    assert YEARS.points_for(-100) == Contribution("years", "(-inf, 1)", 0)
    assert YEARS.points_for(0.999) == Contribution("years", "(-inf, 1)", 0)
    assert YEARS.points_for(1) == Contribution("years", "[1, 3)", 4)
    assert YEARS.points_for(2.5).points == 4
    assert YEARS.points_for(3) == Contribution("years", "[3, 10)", 9)
    assert YEARS.points_for(9.99).points == 9
    assert YEARS.points_for(10) == Contribution("years", "other", -7)  # at or above the last upper
    assert YEARS.points_for(True).points == 4  # booleans are 0/1


def test_missing_values_and_categories() -> None:
    for value in (None, math.nan):
        assert YEARS.points_for(value) == Contribution("years", "missing", -2)
    assert KIND.points_for("company") == Contribution("kind", "= company", 5)
    assert KIND.points_for("partnership") == Contribution("kind", "small", 2)
    assert KIND.points_for("person") == Contribution("kind", "other", 0)  # other defaults to missing
    assert KIND.points_for(None).label == "missing"
    assert ABNORMAL.points_for(False) == Contribution("abnormal", "= false", 3)
    assert ABNORMAL.points_for(True).points == -30


def test_score_sums_contributions_and_clips() -> None:
    result = CARD.score({"years": 4, "kind": "company", "abnormal": False})
    assert (result.score, result.raw) == (67.0, 67.0)
    assert result.contributions == [
        Contribution("years", "[3, 10)", 9),
        Contribution("kind", "= company", 5),
        Contribution("abnormal", "= false", 3),
    ]
    assert CARD.score({}).score == 48.0  # base 50, missing years -2
    low = CARD.score({"years": 0, "abnormal": True, "kind": "x"})
    assert (low.score, low.raw) == (20.0, 20.0)
    floor = Scorecard(name="t", base=-10, characteristics=(YEARS,))
    assert (floor.score({"years": 0}).score, floor.score({"years": 0}).raw) == (0.0, -10.0)
    ceiling = Scorecard(name="t", base=99, characteristics=(YEARS,))
    assert (ceiling.score({"years": 5}).score, ceiling.score({"years": 5}).raw) == (100.0, 108.0)


def test_wrong_value_types_are_errors_naming_the_feature() -> None:
    with pytest.raises(ScorecardError, match="expected a number, got str") as caught:
        CARD.score({"years": "4"})
    assert caught.value.key == "years"
    with pytest.raises(ScorecardError, match="unhashable"):
        CARD.score({"kind": ["company"]})


def test_grades_with_default_and_custom_cutoffs() -> None:
    assert [grade(s) for s in (100, 85, 84.99, 75, 74.9, 65, 55, 54.99, 0)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "C",
        "D",
        "E",
        "E",
    ]
    custom = {"A": 90, "B": 80, "C": 70, "D": 60}
    assert [grade(s, custom) for s in (90, 85, 70, 59)] == ["A", "B", "C", "E"]
    assert Scorecard(name="t", base=0, characteristics=(), cutoffs=custom).grade(85) == "B"
    assert dict(DEFAULT_CUTOFFS) == {"A": 85, "B": 75, "C": 65, "D": 55}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"A": 85, "B": 75, "C": 65}, "exactly A, B, C and D"),
        ({"A": 85, "B": 75, "C": 80, "D": 55}, "decrease strictly"),
        ({"A": "x", "B": 75, "C": 65, "D": 55}, "must be numbers"),
    ]
    for bad, fragment in cases:
        with pytest.raises(ScorecardError, match=fragment):
            Scorecard(name="t", base=0, characteristics=(), cutoffs=bad)


@pytest.mark.parametrize(
    ("bins", "key", "fragment"),
    [
        (
            [{"upper": 1, "points": 0}, {"lower": 2, "points": 1}],
            "characteristics[0] (years).bins[1].lower",
            "contiguous",
        ),
        (
            [{"upper": 1, "points": 0}, {"lower": 1, "upper": 1, "points": 1}],
            "characteristics[0] (years).bins[1]",
            "lower must be below upper",
        ),
        (
            [{"upper": 1, "points": 0}, {"lower": 1, "points": 1}, {"lower": 5, "points": 2}],
            "characteristics[0] (years).bins[1].upper",
            "only the last bin may omit upper",
        ),
        ([{"upper": 1}], "characteristics[0] (years).bins[0].points", "missing"),
        ([{"upper": 1, "points": "3"}], "characteristics[0] (years).bins[0].points", "finite number"),
        ([{"upper": 1, "points": 1, "weight": 2}], "characteristics[0] (years).bins[0].weight", "unknown key"),
        ([{"points": 1}], "characteristics[0] (years).bins[0]", "needs lower and/or upper, or values"),
        (
            [{"values": ["a"], "points": 1}, {"upper": 3, "points": 0}],
            "characteristics[0] (years).bins",
            "mixes numeric ranges and categorical",
        ),
        (
            [{"values": ["a"], "points": 1}, {"values": ["b", "a"], "points": 0}],
            "characteristics[0] (years).bins[1].values",
            "is in two bins",
        ),
        ([{"values": [], "points": 1}], "characteristics[0] (years).bins[0].values", "non-empty list"),
        ([], "characteristics[0] (years).bins", "at least one bin"),
    ],
)
def test_bin_errors_name_the_key(bins: list[dict[str, object]], key: str, fragment: str) -> None:
    with pytest.raises(ScorecardError, match=fragment) as caught:
        scorecard_from_mapping({"name": "t", "base": 0, "characteristics": [{"feature": "years", "bins": bins}]})
    assert caught.value.key == key


def test_file_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    bins = "bins = [{ upper = 1, points = 0 }, { lower = 1, points = 2 }]"
    cases = {
        'name = "t"\n': ("base", "missing"),
        'name = "t"\nbase = 0\nbias = 3\n': ("bias", "unknown key"),
        f'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "registry_years"\n{bins}\n'
        f'[[characteristics]]\nfeature = "registry_years"\n{bins}\n': ("characteristics[1].feature", "scored twice"),
        f'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "registry_yrs"\n{bins}\n': (
            "characteristics[0].feature",
            "unknown feature 'registry_yrs'",
        ),
        f'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "applicant_kind"\n{bins}\n': (
            "characteristics[0].feature",
            "numeric bins on string feature",
        ),
        f'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "registry_years"\nmissing = "none"\n{bins}\n': (
            "characteristics[0] (registry_years).missing",
            "finite number",
        ),
        f'name = "t"\nbase = 0\n[grades]\nA = 85\n[[characteristics]]\nfeature = "registry_years"\n{bins}\n': (
            "grades",
            "exactly A, B, C and D",
        ),
    }
    cases[
        'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "registry_abnormal"\n'
        'bins = [{ values = ["false"], points = 3 }]\n'
    ] = (
        "characteristics[0].bins[0].values",
        "value 'false' is not a boolean",
    )
    cases[
        'name = "t"\nbase = 0\n[[characteristics]]\nfeature = "applicant_kind"\n'
        'bins = [{ values = ["company"], points = 3 }, { values = [1], points = 1 }]\n'
    ] = (
        "characteristics[0].bins[1].values",
        "value 1 is not a string",
    )
    for text, (key, fragment) in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ScorecardError, match=fragment) as caught:
            load_scorecard(path, CATALOGUE)
        assert (caught.value.key, caught.value.path) == (key, str(path)), text
        assert str(path) in str(caught.value) and key in str(caught.value)
    path.write_text("name = [", encoding="utf-8")
    with pytest.raises(ScorecardError, match="invalid TOML"):
        load_scorecard(path)
    path.write_bytes('name = "信用"\nbase = 1\n'.encode("gbk"))  # a Chinese Windows editor's default
    with pytest.raises(ScorecardError, match="must be UTF-8") as caught:
        load_scorecard(path)
    assert caught.value.path == str(path)
    path.write_bytes(b"\xef\xbb\xbf" + 'name = "信用"\nbase = 1\n'.encode())  # a byte-order mark is fine
    assert load_scorecard(path).name == "信用"


def test_float_error_never_moves_a_score_across_a_cut_off() -> None:
    """94.6 - 20 - 19.6 is 55 as written, 54.99999999999999 in floats: a D, not an E."""
    card = scorecard_from_mapping(
        {
            "name": "c",
            "base": 94.6,
            "characteristics": [
                {"feature": "registry_years", "bins": [{"upper": 100, "points": -20}]},
                {"feature": "tax_annual", "bins": [{"upper": 1e12, "points": -19.6}]},
            ],
        }
    )
    result = card.score({"registry_years": 1, "tax_annual": 1})
    assert (result.score, card.grade(result.score)) == (55.0, "D")


WANG_CREDIT = {  # 老王家常菜 (seed 002): registry normal, 5 years, tax 30k, flows 120k/month…
    "registry_abnormal": False,
    "registry_years": 5,
    "tax_annual": 30000,
    "flow_monthly_avg": 120000,
    "flow_volatility": 0.15,
    "flow_avg_daily_balance": 15000,
    "bureau_overdue_count": 0,
    "bureau_queries_3m": 2,
    "enterprise_debt": 0,
    "judicial_lawsuits": 0,
}
WANG_ANTIFRAUD = {
    "fraud_phone_tenure_months": 60,
    "address_stability_years": 5,
    "fraud_device_risk": 0.1,
    "cs_stack_resident_id_7d_members": 0,
    "cs_blacklist_negative": 0,
}


def test_persona_credit_score_78_grade_b() -> None:
    card = load_scorecard(CREDIT_SCORECARD, CATALOGUE)
    result = card.score(WANG_CREDIT)
    assert result.score == 78.0 and card.grade(result.score) == "B" and grade(result.score) == "B"
    assert card.base + sum(c.points for c in result.contributions) == 78.0
    assert {c.feature for c in result.contributions} == set(WANG_CREDIT)
    assert "missing" not in {c.label for c in result.contributions}


def test_persona_antifraud_score_85() -> None:
    card = load_scorecard(ANTIFRAUD_SCORECARD, CATALOGUE)
    result = card.score(WANG_ANTIFRAUD)
    assert result.score == 85.0
    assert {c.feature for c in result.contributions} == set(WANG_ANTIFRAUD)


def test_shipped_scorecards_move_the_right_way() -> None:
    credit = load_scorecard(CREDIT_SCORECARD, CATALOGUE)
    antifraud = load_scorecard(ANTIFRAUD_SCORECARD, CATALOGUE)
    worse = credit.score({**WANG_CREDIT, "bureau_overdue_count": 4, "registry_abnormal": True}).score
    assert worse < 55 and grade(worse) == "E"
    assert antifraud.score({**WANG_ANTIFRAUD, "cs_blacklist_negative": 1}).score == 40.0
    assert antifraud.score({**WANG_ANTIFRAUD, "cs_stack_resident_id_7d_members": None}).score == 80.0  # hub down
    nothing = credit.score({})  # every source failed: base 5 + missing bureau (-5) → 0, grade E
    assert (nothing.score, credit.grade(nothing.score)) == (0.0, "E")
    assert antifraud.score({}).score == 40.0


def test_infinities_fall_in_the_open_end_bins() -> None:
    open_ended = Characteristic(feature="x", bins=(Bin(points=1, upper=5), Bin(points=2, lower=5)))
    assert [open_ended.points_for(v).points for v in (-math.inf, 4.9, 5, math.inf)] == [1, 1, 2, 2]
    assert YEARS.points_for(math.inf).label == "other"  # its last bin is closed: above it is other
