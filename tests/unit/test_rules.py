"""Rule sets: the whitelist, load errors, compiled evaluation semantics, and decide()."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.rules import CATALOGUE, DEFAULT_RULES, load_rules
from node.rules.compiler import CompiledRuleSet, compile_rule_set
from node.rules.decision import decide
from node.rules.errors import RuleEvaluationError, RuleSetError
from node.rules.expressions import parse_condition
from node.rules.features import Feature
from node.rules.model import Rule, RuleHit, RuleSet, load_rule_set

TEST_CATALOGUE = {
    "a": Feature("integer", "test"),
    "b": Feature("integer", "test"),
    "c": Feature("number", "test"),
    "flag": Feature("boolean", "test"),
    "kind": Feature("string", "test"),
    "cs_members": Feature("integer", "test consortium"),
}


def compiled(*conditions: str, catalogue: Mapping[str, Feature] | None = TEST_CATALOGUE) -> CompiledRuleSet:
    rules = [
        Rule(
            id=f"R{i}",
            when=text,
            action="flag",
            reason_code=f"REASON_{i}",
            source="consortium" if "cs_" in text else "internal",
        )
        for i, text in enumerate(conditions)
    ]
    return compile_rule_set(RuleSet("test", "1", tuple(rules)), catalogue)


def fires(condition: str, **features: Any) -> bool:
    return bool(compiled(condition).evaluate(features))


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_rule_file(tmp_path: Path, when: str, **overrides: str) -> Path:
    fields = {"id": "R_BAD", "when": when, "action": "refer", "reason_code": "SOME_REASON", "source": "internal"}
    fields.update(overrides)
    body = "\n".join(f"{key} = {value!r}" for key, value in fields.items())
    return write(tmp_path, f'name = "t"\nversion = "1"\n[[rules]]\n{body}\n')


# --------------------------------------------------------------------------------------------
# The whitelist
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("open('x') == 1", "function calls are not allowed"),
        ("a.real > 1", "attribute access is not allowed"),
        ("__import__('os') == 1", "function calls are not allowed"),
        ("__builtins__ > 1", "dunder names are not allowed"),
        ("_private > 1", "must be an ASCII identifier"),
        ("a[0] > 1", "subscripts are not allowed"),
        ("(lambda: 1) == 1", "lambda is not allowed"),
        ("(a := 3) > 1", "assignment expressions"),
        ("f'{a}' == '1'", "f-strings are not allowed"),
        ("[x for x in (1, 2)] == 1", "comprehensions are not allowed"),
        ("1 if a else 2", "conditional expressions"),
        ("a ** 2 > 1", "operator ** is not allowed"),
        ("a // 2 > 1", "operator // is not allowed"),
        ("a % 2 == 1", "operator % is not allowed"),
        ("~a > 1", "operator Invert is not allowed"),
        ("a is None", "comparison is is not allowed"),
        ("a == None", "constant None is not allowed"),
        ("a == b'x'", "constant b'x' is not allowed"),
        ("a > 1e999", "numbers must be finite"),
        ("a == 1j", "constant 1j is not allowed"),
        ("a in b", "needs a literal tuple or list"),
        ("a in (b, 1)", "elements after in / not in must be constants"),
        ("a == (1, 2)", "a tuple is only allowed after in / not in"),
        ("a in {1, 2}", "needs a literal tuple or list"),
        ("a * 1" + "0" * 400 + " > 0", "numbers must be within"),  # no float holds it: every evaluation failed
        ("a > 9007199254740993", "numbers must be within"),
        ("a in ('x',) < 'y'", "in / not in must end a comparison"),
        ("'no'", "the condition is a string"),
        ("{1: 2} == a", "dict literals are not allowed"),
        ("a > 1; import os", "syntax error"),
        ("import os", "syntax error"),
        ("", "is empty"),
    ],
)
def test_whitelist_rejects_with_rule_id_key_and_position(tmp_path: Path, when: str, message: str) -> None:
    path = one_rule_file(tmp_path, when)
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(path)
    error = caught.value
    assert message in str(error)
    assert (error.rule_id, error.key) == ("R_BAD", "when")
    assert str(path) in str(error) and "rule 'R_BAD'" in str(error)
    if when:
        assert error.position is not None and "line 1, column" in str(error)


def test_error_position_points_at_the_offending_node() -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_condition("(a > 1 and\n  open('f') == 2)")
    assert caught.value.position == (2, 3)


def test_size_depth_and_null_bytes_are_bounded() -> None:
    for text in ("not " * 100 + "a", "a" + " + a" * 500 + " > 1", "-" * 100 + "a > 1"):
        with pytest.raises(RuleSetError, match="nested deeper than 64 levels"):
            parse_condition(text)
    assert parse_condition(" or ".join(["a > 1"] * 60)).features == {"a"}  # flat and/or is one level
    with pytest.raises(RuleSetError, match="longer than 4000"):
        parse_condition("a in (" + ", ".join(["1"] * 2000) + ")")
    with pytest.raises(RuleSetError, match=r"cannot be parsed|syntax error"):
        parse_condition("a\x00 > 1")


def test_catalogue_rejects_unknown_features_and_mixed_types_at_load() -> None:
    with pytest.raises(RuleSetError, match=r"unknown feature 'kindd' \(did you mean 'kind'\?\)"):
        compiled("kindd == 'x'")
    for text, fragment in [
        ("kind > 3", "compares a string with a number"),
        ("a == 'x'", "compares a number with a string"),
        ("kind in ('x', 1)", "compares a string with a number"),
        ("kind + 1 > 2", "arithmetic needs numbers"),
        ("(kind or 0) < 5", "and / or mixes a number with a string"),  # failed on every evaluation
    ]:
        with pytest.raises(RuleSetError, match=fragment) as caught:
            compiled(text)
        assert caught.value.rule_id == "R0"
    with pytest.raises(RuleSetError, match="compares a string with a number"):
        parse_condition("'x' < 3")  # constants are checked even without a catalogue
    assert parse_condition("anything > 3").features == {"anything"}


def test_load_rule_set_checks_the_catalogue_with_file_and_rule(tmp_path: Path) -> None:
    path = one_rule_file(tmp_path, "registry_yeras < 1")
    assert load_rule_set(path).rules[0].when == "registry_yeras < 1"  # no catalogue: syntax only
    with pytest.raises(
        RuleSetError, match=r"rules.toml, line 4: rule 'R_BAD': key 'when': line 1, column 1 of the condition: unknown"
    ):
        load_rule_set(path, CATALOGUE)


# --------------------------------------------------------------------------------------------
# File and model errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"action": "reject"}, "action", "unknown action 'reject'"),
        ({"reason_code": "lower_case"}, "reason_code", "reason code 'lower_case' must match"),
        ({"reason_code": "X"}, "reason_code", "must match"),
        ({"reason_code": "A" * 49}, "reason_code", "must match"),
        ({"source": "Bureau!"}, "source", "must match"),
        ({"when": "cs_stack_phone_24h_members > 1"}, "source", "so its source must be 'consortium'"),
        ({"id": "1BAD"}, "id", "must match"),
    ],
)
def test_rule_errors_name_file_rule_and_key(tmp_path: Path, overrides: dict[str, str], key: str, fragment: str) -> None:
    path = one_rule_file(tmp_path, **{"when": "a > 1", **overrides})
    with pytest.raises(RuleSetError, match=fragment) as caught:
        load_rule_set(path)
    assert caught.value.key == key and caught.value.path == str(path)
    if key != "id":
        assert caught.value.rule_id == "R_BAD"


def test_file_level_errors(tmp_path: Path) -> None:
    rule = 'when = "a > 1"\naction = "flag"\nreason_code = "AB"\nsource = "internal"\n'
    cases = {
        f'name = "t"\nversion = "1"\n[[rules]]\nid = "X"\n{rule}[[rules]]\nid = "X"\n{rule}': (
            "X",
            "id",
            "duplicate rule id",
        ),
        f'name = "t"\nversion = "1"\n[[rules]]\nid = "X"\nacton = "flag"\n{rule}': ("X", "acton", "unknown key"),
        'name = "t"\nversion = "1"\n[[rules]]\nid = "X"\nwhen = "a > 1"\n': ("X", "action", "missing"),
        f'name = "t"\nversion = "1"\n[[rules]]\nid = "X"\n{rule.replace("AB", "AB")}priority = 3\n': (
            "X",
            "priority",
            "unknown key",
        ),
        f'name = "t"\n[[rules]]\nid = "X"\n{rule}': (None, "version", "missing"),
        f'name = "t"\nversion = 1\n[[rules]]\nid = "X"\n{rule}': (None, "version", "must be a string"),
        f'name = "t"\nversion = "1"\nowner = "me"\n[[rules]]\nid = "X"\n{rule}': (None, "owner", "unknown key"),
        'name = "t"\nversion = "1"\n[[rules]]\nid = "X"\nwhen = 3\naction = "flag"\nreason_code = "AB"\n'
        'source = "internal"\n': ("X", "when", "must be a string"),
    }
    for text, (rule_id, key, fragment) in cases.items():
        path = write(tmp_path, text)
        with pytest.raises(RuleSetError, match=fragment) as caught:
            load_rule_set(path)
        assert (caught.value.rule_id, caught.value.key, caught.value.path) == (rule_id, key, str(path)), text
    with pytest.raises(RuleSetError, match="invalid TOML") as caught:
        load_rule_set(write(tmp_path, "name = \n"))
    assert caught.value.path is not None and caught.value.path.endswith("rules.toml")
    with pytest.raises(RuleSetError, match="cannot read"):
        load_rule_set(tmp_path / "absent.toml")


# --------------------------------------------------------------------------------------------
# Evaluation semantics
# --------------------------------------------------------------------------------------------
def test_comparisons_chained_membership_and_arithmetic() -> None:
    assert fires("1 <= a < 3", a=1) and fires("1 <= a < 3", a=2)
    assert not fires("1 <= a < 3", a=3) and not fires("1 <= a < 3", a=0)
    assert fires("a < b <= c", a=1, b=2, c=2.0) and not fires("a < b <= c", a=2, b=2, c=5)
    assert fires("kind in ('x', 'y')", kind="y") and not fires("kind in ['x', 'y']", kind="z")
    assert fires("kind not in ('x',)", kind="z") and not fires("kind not in ('x',)", kind="x")
    assert not fires("kind in ()", kind="x")
    assert fires("a + b * 2 > 10", a=1, b=5) and not fires("(a + b) * 2 > 12", a=1, b=5)
    assert fires("-a < 0", a=1) and fires("c / 2 == 1.25", c=2.5)
    assert fires("flag", flag=True) and not fires("flag", flag=False) and fires("not flag", flag=False)
    assert fires("flag == True and a != 3", flag=True, a=4)
    assert fires("a > 1 and (b > 1 or kind == 'x')", a=2, b=0, kind="x")


def test_missing_features_follow_three_valued_logic() -> None:
    # a leaf reading a missing (absent or None) feature is unknown; only known-true conditions fire
    assert not fires("a > 1")
    assert not fires("a > 1", a=None)
    assert not fires("not (a > 1)")  # unknown, not true
    assert not fires("a <= 1")
    assert fires("a > 1 or b > 1", b=2)  # true or unknown = true
    assert not fires("a > 1 or b > 1", b=0)  # false or unknown = unknown
    assert not fires("a > 1 and b > 1", b=2)  # unknown and true = unknown
    assert not fires("not (a > 1 and b > 1)", b=2)
    assert fires("not (a > 1 and b > 1)", b=0)  # unknown and false = false → not → true
    assert not fires("a + b > 1", a=5)
    assert not fires("kind not in ('x',)")
    assert fires("a > 1", a=2, b=None)  # unrelated missing features don't matter


def test_division_by_zero_makes_the_leaf_unknown() -> None:
    assert not fires("a / b > 1", a=1, b=0)
    assert not fires("not (a / b > 1)", a=1, b=0)
    assert fires("a / b > 1 or c > 1", a=1, b=0, c=2)
    assert not fires("a / (b / c) > 1", a=1, b=1, c=0)
    assert fires("a / (b / c) > 1", a=4, b=1, c=2)


def test_hits_are_precomputed_objects_in_rule_order() -> None:
    rules = compiled("a > 1", "a > 100", "cs_members >= 2")
    hits = rules.evaluate({"a": 5, "cs_members": 3})
    assert [(h.rule_id, h.reason_code, h.action, h.source) for h in hits] == [
        ("R0", "REASON_0", "flag", "internal"),
        ("R2", "REASON_2", "flag", "consortium"),
    ]
    again = rules.evaluate({"a": 5, "cs_members": 3})
    assert all(x is y for x, y in zip(hits, again, strict=True)) and hits is not again
    assert (rules.name, rules.version, len(rules)) == ("test", "1", 3)
    assert rules.features == {"a", "cs_members"}


def test_wrong_input_type_fails_naming_the_rule() -> None:
    rules = compiled("a > 1", "b > 1")
    with pytest.raises(RuleEvaluationError, match=r"rule 'R1': TypeError") as caught:
        rules.evaluate({"a": 0, "b": "seven"})
    assert caught.value.rule_id == "R1"
    with pytest.raises(RuleEvaluationError) as caught:
        rules.evaluate({"a": "x"})  # the guarded (some feature missing) path maps lines too
    assert caught.value.rule_id == "R0"


def test_rule_text_never_reaches_the_generated_code_unparsed() -> None:
    text = "(a >\n 1) and kind == 'x\\n: append(H[0])'"
    rules = compiled(text)
    assert rules.evaluate({"a": 2, "kind": "x\n: append(H[0])"})
    assert not rules.evaluate({"a": 2, "kind": "x"})
    code = [line for line in rules.source.splitlines() if not line.lstrip().startswith("#")]
    assert sum(line.endswith(": append(H[0])") for line in code) == 2  # complete + guarded copies
    assert repr("x\n: append(H[0])") in rules.source  # a constant, re-rendered from the tree
    assert len(rules.source.splitlines()) == 16
    assert rules._function.__globals__["__builtins__"] == {}  # generated code reaches no builtins


# --------------------------------------------------------------------------------------------
# Compiled == a straightforward interpreter over the syntax tree (the default rule set)
# --------------------------------------------------------------------------------------------
class Unknown(Exception):
    """A missing feature or a zero divisor inside a leaf."""


_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda x, y: x in y,
    ast.NotIn: lambda x, y: x not in y,
}
_ARITH: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def reference_truth(node: ast.expr, features: Mapping[str, Any]) -> bool | None:
    """Kleene logic over and/or/not; any other node is a leaf: None (unknown) if it reads a missing
    feature or divides by zero anywhere, else its Python truth value."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = reference_truth(node.operand, features)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        values = [reference_truth(v, features) for v in node.values]
        decisive = isinstance(node.op, ast.Or)  # True decides an or, False decides an and
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if any(features.get(name) is None for name in names):
        return None
    try:
        for sub in ast.walk(node):
            if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Div) and reference_value(sub.right, features) == 0:
                return None
        return bool(reference_value(node, features))
    except Unknown:
        return None


def reference_value(node: ast.AST, features: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return features[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return [reference_value(e, features) for e in node.elts]
    if isinstance(node, ast.UnaryOp):
        value = reference_value(node.operand, features)
        unary: dict[type[ast.unaryop], Callable[[Any], Any]] = {
            ast.USub: operator.neg,
            ast.UAdd: operator.pos,
            ast.Not: operator.not_,
        }
        return unary[type(node.op)](value)
    if isinstance(node, ast.BinOp):
        right = reference_value(node.right, features)
        if isinstance(node.op, ast.Div) and right == 0:
            raise Unknown
        return _ARITH[type(node.op)](reference_value(node.left, features), right)
    if isinstance(node, ast.Compare):
        left = reference_value(node.left, features)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = reference_value(comparator, features)
            if not _CMP[type(op)](left, right):
                return False
            left = right
        return True
    raise AssertionError(type(node).__name__)


def _feature_value(feature: Feature) -> st.SearchStrategy[Any]:
    values: dict[str, st.SearchStrategy[Any]] = {
        "integer": st.integers(min_value=0, max_value=12),
        "number": st.one_of(
            st.sampled_from([0, 0.5, 0.8, 1.0, 1.5]), st.floats(min_value=-1, max_value=200_000, allow_nan=False)
        ),
        "boolean": st.booleans(),
        "string": st.sampled_from(["person", "individual_business", "company", ""]),
    }
    return st.one_of(st.none(), values[feature.type])


DEFAULT = load_rules()
USED = sorted(DEFAULT.features)


@st.composite
def default_inputs(draw: st.DrawFn) -> dict[str, Any]:
    present = draw(st.lists(st.sampled_from(USED), unique=True))
    return {name: draw(_feature_value(CATALOGUE[name])) for name in present}


@settings(max_examples=400, deadline=None)
@given(default_inputs())
def test_compiled_default_rules_equal_the_reference_interpreter(features: dict[str, Any]) -> None:
    expected = [r.id for r in DEFAULT.rules if reference_truth(r.condition.tree, features) is True]
    assert [h.rule_id for h in DEFAULT.evaluate(features)] == expected


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({name: _feature_value(CATALOGUE[name]) for name in USED}))
def test_compiled_equals_reference_when_every_feature_is_given(features: dict[str, Any]) -> None:
    expected = [r.id for r in DEFAULT.rules if reference_truth(r.condition.tree, features) is True]
    assert [h.rule_id for h in DEFAULT.evaluate(features)] == expected


# Random conditions too: leaves are comparisons of arithmetic over a, b, c; and/or/not above them.
_TERMS = st.recursive(
    st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(-3, 3).map(str)),
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=4,
)
_LEAVES = st.one_of(
    st.tuples(_TERMS, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _TERMS).map(" ".join),
    st.tuples(st.integers(-2, 2), _TERMS, st.integers(-2, 4)).map(lambda t: f"{t[0]} <= {t[1]} < {t[2]}"),
    st.tuples(_TERMS, st.sampled_from(["in", "not in"])).map(lambda t: f"{t[0]} {t[1]} (0, 1, 2.5)"),
    st.just("kind == 'x'"),
)
_CONDITIONS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    ),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(
    _CONDITIONS,
    st.lists(
        st.fixed_dictionaries(
            {
                "a": st.one_of(st.none(), st.integers(-2, 3)),
                "b": st.one_of(st.none(), st.integers(-2, 3)),
                "c": st.one_of(st.none(), st.sampled_from([0.0, 0.5, 2.5, -1.5])),
                "kind": st.one_of(st.none(), st.sampled_from(["x", "y"])),
            }
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_compiled_random_conditions_equal_the_reference(condition: str, inputs: list[dict[str, Any]]) -> None:
    rules = compiled(condition)
    tree = parse_condition(condition).tree
    for features in inputs:
        assert bool(rules.evaluate(features)) == (reference_truth(tree, features) is True), (condition, features)


# --------------------------------------------------------------------------------------------
# decide() and the shipped rule set
# --------------------------------------------------------------------------------------------
def hit(action: str, source: str = "internal", code: str = "CODE") -> RuleHit:
    return RuleHit(rule_id=f"R_{code}", reason_code=code, action=action, source=source)  # type: ignore[arg-type]


def test_decide_order_and_consortium_downgrade() -> None:
    assert decide([]).outcome == "approve"
    assert decide([hit("flag", code="F")]) == decide([hit("flag", code="F")])
    assert decide([hit("flag", code="F")]).outcome == "approve"
    assert decide([hit("flag", code="F")]).flags == ("F",)
    consortium_only = decide([hit("decline", "consortium", "BLACKLIST"), hit("flag", code="F")])
    assert consortium_only.outcome == "refer"  # a consortium flag alone never declines
    assert consortium_only.reasons == ("BLACKLIST",) and consortium_only.downgraded == ("BLACKLIST",)
    mixed = decide([hit("decline", "consortium", "BLACKLIST"), hit("decline", "bureau", "OVERDUE")])
    assert (mixed.outcome, mixed.reasons, mixed.downgraded) == ("decline", ("OVERDUE",), ("BLACKLIST",))
    refer = decide([hit("refer", code="R1"), hit("refer", "consortium", "R2"), hit("refer", code="R1")])
    assert (refer.outcome, refer.reasons) == ("refer", ("R1", "R2"))


def test_a_consortium_feature_cannot_hide_in_a_non_consortium_rule() -> None:
    with pytest.raises(RuleSetError, match="source must be 'consortium'") as caught:
        Rule(
            id="SNEAKY",
            when="bureau_overdue_count > 2 or cs_blacklist_negative > 0",
            action="decline",
            reason_code="SNEAKY",
            source="bureau",
        )
    assert (caught.value.rule_id, caught.value.key) == ("SNEAKY", "source")


WANG = {  # 老王家常菜, seed 002: every source answered, nothing adverse
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
    "judicial_dishonest": False,
    "fraud_phone_tenure_months": 60,
    "fraud_device_risk": 0.1,
    "amount_to_limit_ratio": 1.0,
    "applicant_kind": "individual_business",
    "cs_stack_resident_id_7d_members": 0,
    "cs_stack_phone_24h_members": 0,
    "cs_blacklist_negative": 0,
    "cs_blacklist_confirmed_fraud": 0,
    "cs_blacklist_max_evidence": 0,
    "cs_protective": False,
}


def test_default_rule_set_loads_against_the_catalogue() -> None:
    rule_set = load_rule_set(DEFAULT_RULES, CATALOGUE)
    assert 20 <= len(rule_set.rules) <= 30 and rule_set.version
    consortium = [r for r in rule_set.rules if any(f.startswith("cs_") for f in r.condition.features)]
    assert len(consortium) >= 8 and all(r.source == "consortium" for r in consortium)
    assert {r.action for r in rule_set.rules} == {"decline", "refer", "flag"}


def test_default_rules_on_personas() -> None:
    assert DEFAULT.evaluate(WANG) == [] and decide(DEFAULT.evaluate(WANG)).outcome == "approve"
    stacked = decide(DEFAULT.evaluate({**WANG, "cs_stack_resident_id_7d_members": 4, "cs_stack_phone_24h_members": 2}))
    assert (stacked.outcome, stacked.reasons) == ("refer", ("STACKING_RESIDENT_ID_7D", "STACKING_PHONE_24H"))
    fraud = decide(
        DEFAULT.evaluate(
            {**WANG, "cs_blacklist_negative": 2, "cs_blacklist_confirmed_fraud": 1, "cs_blacklist_max_evidence": 4}
        )
    )
    assert (fraud.outcome, fraud.reasons, fraud.downgraded) == (
        "refer",
        ("BLACKLIST_CONFIRMED_FRAUD",),
        ("BLACKLIST_CONFIRMED_FRAUD",),
    )
    dishonest = decide(DEFAULT.evaluate({**WANG, "judicial_dishonest": True, "cs_blacklist_negative": 1}))
    assert (dishonest.outcome, dishonest.reasons) == ("decline", ("COURT_DISHONEST_DEBTOR",))
    hub_down = {k: v for k, v in WANG.items() if not k.startswith("cs_")}
    assert decide(DEFAULT.evaluate(hub_down)).outcome == "approve"  # the pipeline's hub-down policy decides
    assert [h.reason_code for h in DEFAULT.evaluate({**WANG, "fraud_device_risk": 0.5})] == ["DEVICE_MEDIUM_RISK"]
    assert [h.reason_code for h in DEFAULT.evaluate({**WANG, "tax_annual": 1000})] == ["TAX_FLOW_MISMATCH"]
    assert DEFAULT.evaluate({**WANG, "tax_annual": 1000, "flow_monthly_avg": 0})[0].reason_code == "LOW_TURNOVER"
