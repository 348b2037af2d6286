"""Compile a rule set once, at load, into one generated Python function.

Why generated code: an interpreter walking 1,000 syntax trees per application costs
milliseconds; one straight-line function costs tens of microseconds (``bench/rules.py``). The
source is built from the *validated* syntax tree (:mod:`node.rules.expressions`), never by
pasting rule text, and compiled with :func:`compile` at load; request time only calls the
function. The source is kept on :attr:`CompiledRuleSet.source` for review.

Shape of the generated function::

    def evaluate(features):
        get = features.get
        f_bureau_overdue_count = get('bureau_overdue_count')    # each feature read once
        ...
        H = _HITS                                               # precomputed RuleHit objects
        hits = []
        append = hits.append
        if f_bureau_overdue_count is not None and ...:          # the common case: all present
            # BUREAU_OVERDUE when: 'bureau_overdue_count >= 3'
            if (f_bureau_overdue_count >= 3): append(H[0])
            ...
            return hits
        # BUREAU_OVERDUE when: 'bureau_overdue_count >= 3'
        if (f_bureau_overdue_count is not None and (f_bureau_overdue_count >= 3)): append(H[0])
        ...
        return hits

**Missing features.** A feature absent from the input, or ``None``, is *unknown*. Conditions
follow three-valued (Kleene) logic and a rule fires only when its condition is *known true*:

* a comparison (or any other leaf: bare name, arithmetic) reading a missing feature is unknown,
  and so is one that divides by zero;
* ``a and b`` is false if either is false, true if both are true, else unknown;
* ``a or b`` is true if either is true, false if both are false, else unknown;
* ``not a`` is unknown when ``a`` is.

So ``cs_blacklist_negative > 0 or judicial_dishonest`` still fires on a dishonest debtor when the
hub did not answer, while ``not (registry_years < 1)`` does not fire when the registry did not
answer. The compiler implements this by pushing ``not`` down to the leaves (De Morgan) and
guarding each leaf with ``f_x is not None`` (and ``divisor != 0``) for the features not already
known present on that path. When every feature the set reads is present (the usual case), a
second copy of the rules without the ``None`` guards runs instead (about 15 % faster).

**Wrong types** (a string where the catalogue says number) raise :class:`RuleEvaluationError`
naming the rule; the feature builder must produce catalogue types.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from node.rules.errors import RuleEvaluationError
from node.rules.features import Catalogue
from node.rules.model import Rule, RuleHit, RuleSet

_OPS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.USub: "-",
    ast.UAdd: "+",
    ast.Not: "not ",
    ast.And: "and",
    ast.Or: "or",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}

EvaluateFunction = Callable[[Mapping[str, Any]], list[RuleHit]]


class CompiledRuleSet:
    """A rule set compiled to one function; :meth:`evaluate` returns the hits in rule order."""

    __slots__ = ("_function", "_line_to_rule", "features", "filename", "name", "rules", "source", "version")

    def __init__(self, rule_set: RuleSet, source: str, line_to_rule: dict[int, int]) -> None:
        self.name = rule_set.name
        self.version = rule_set.version
        self.rules = rule_set.rules
        self.source = source
        self.features: frozenset[str] = frozenset().union(*(r.condition.features for r in rule_set.rules))
        self.filename = f"<rules {rule_set.name}@{rule_set.version}>"
        self._line_to_rule = line_to_rule
        hits = tuple(RuleHit(r.id, r.reason_code, r.action, r.source) for r in rule_set.rules)
        namespace: dict[str, Any] = {"__builtins__": {}, "_HITS": hits}
        exec(compile(source, self.filename, "exec"), namespace)  # load time only; source built from validated trees
        self._function: EvaluateFunction = namespace["evaluate"]

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"CompiledRuleSet({self.name!r}, version={self.version!r}, rules={len(self.rules)})"

    def evaluate(self, features: Mapping[str, Any]) -> list[RuleHit]:
        """Every rule whose condition is known true for ``features``, in rule-set order."""
        try:
            return self._function(features)
        except Exception as exc:  # wrong input types: say which rule, keep the cause
            raise RuleEvaluationError(f"{type(exc).__name__}: {exc}", rule_id=self._rule_at(exc.__traceback__)) from exc

    def _rule_at(self, tb: TracebackType | None) -> str | None:
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                index = self._line_to_rule.get(tb.tb_lineno)
                return self.rules[index].id if index is not None else None
            tb = tb.tb_next
        return None


def compile_rule_set(rule_set: RuleSet, features: Catalogue | None = None) -> CompiledRuleSet:
    """Generate, compile and wrap the evaluation function of ``rule_set``.

    ``features`` is the feature catalogue; when given, unknown names and type mismatches are
    :class:`RuleSetError` here (load time), never at evaluation.
    """
    if features is not None:
        rule_set.check_features(features)
    source, line_to_rule = generate_source(rule_set.rules)
    return CompiledRuleSet(rule_set, source, line_to_rule)


def generate_source(rules: tuple[Rule, ...]) -> tuple[str, dict[int, int]]:
    """The module source defining ``evaluate``, and its map from line number to rule index."""
    used: dict[str, None] = {}  # insertion-ordered set: deterministic source
    for rule in rules:
        for name in sorted(rule.condition.features):
            used.setdefault(name)
    lines = ["def evaluate(features):", "    get = features.get"]
    lines += [f"    f_{name} = get({name!r})" for name in used]
    lines += ["    H = _HITS", "    hits = []", "    append = hits.append"]
    line_to_rule: dict[int, int] = {}

    def block(indent: str, present: frozenset[str]) -> None:
        for index, rule in enumerate(rules):
            code, _ = _condition(rule.condition.tree, negate=False, present=present)
            lines.append(f"{indent}# {rule.id} when: {rule.when!r}")  # repr: no newline can end the comment
            lines.append(f"{indent}if {code}: append(H[{index}])")
            line_to_rule[len(lines)] = index
        lines.append(f"{indent}return hits")

    if used:
        complete = " and ".join(f"f_{name} is not None" for name in used)
        lines += [f"    if {complete}:", "        # every feature present: no missing-value guards"]
        block("        ", frozenset(used))
        lines.append("    # some feature missing: each leaf checks its own")
    block("    ", frozenset())
    return "\n".join(lines) + "\n", line_to_rule


def _condition(node: ast.expr, *, negate: bool, present: frozenset[str]) -> tuple[str, frozenset[str]]:
    """Code that is truthy iff ``node`` (negated if asked) is known true; plus the features it proves present."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _condition(node.operand, negate=not negate, present=present)
    if isinstance(node, ast.BoolOp):
        conjunction = isinstance(node.op, ast.And) != negate  # De Morgan under negation
        parts: list[str] = []
        if conjunction:
            known = present
            for value in node.values:  # later operands run only if earlier ones were true
                code, known = _condition(value, negate=negate, present=known)
                parts.append(code)
            return "(" + " and ".join(parts) + ")", known
        proven: frozenset[str] | None = None
        for value in node.values:
            code, known = _condition(value, negate=negate, present=present)
            parts.append(code)
            proven = known if proven is None else proven & known
        return "(" + " or ".join(parts) + ")", proven if proven is not None else present
    return _leaf(node, negate=negate, present=present)


def _leaf(node: ast.expr, *, negate: bool, present: frozenset[str]) -> tuple[str, frozenset[str]]:
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
    guards = [f"f_{name} is not None" for name in dict.fromkeys(names) if name not in present]
    divisors = [n.right for n in _post_order(node) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)]
    guards += [f"{_value(divisor)} != 0" for divisor in divisors]
    body = _value(node)
    body = f"not {body}" if negate else body
    if not guards:
        return body, present
    return "(" + " and ".join([*guards, body]) + ")", present | frozenset(names)


def _post_order(node: ast.AST) -> list[ast.AST]:
    """Children before parents, so an inner divisor is checked before the division using it."""
    out: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        out += _post_order(child)
    out.append(node)
    return out


def _value(node: ast.AST) -> str:
    """Python code of a validated value expression (features as ``f_<name>`` locals)."""
    if isinstance(node, ast.Constant):
        return repr(node.value)  # finite int/float, str, bool: repr is a valid literal
    if isinstance(node, ast.Name):
        return f"f_{node.id}"
    if isinstance(node, ast.BinOp):
        return f"({_value(node.left)} {_OPS[type(node.op)]} {_value(node.right)})"
    if isinstance(node, ast.UnaryOp):
        return f"({_OPS[type(node.op)]}{_value(node.operand)})"
    if isinstance(node, ast.BoolOp):
        return "(" + f" {_OPS[type(node.op)]} ".join(_value(v) for v in node.values) + ")"
    if isinstance(node, ast.Compare):
        parts = [_value(node.left)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += [_OPS[type(op)], _members(right) if isinstance(op, ast.In | ast.NotIn) else _value(right)]
        return "(" + " ".join(parts) + ")"
    raise AssertionError(f"unvalidated node {type(node).__name__}")  # parse_condition rejects it


def _members(node: ast.AST) -> str:
    """A set display of constants: CPython folds it into a frozenset constant (hashed lookup)."""
    assert isinstance(node, ast.Tuple | ast.List)
    values = [_value(element) for element in node.elts]
    return "{" + ", ".join(values) + "}" if values else "()"
