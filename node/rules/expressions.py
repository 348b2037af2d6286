"""The rule condition language: a small, whitelisted subset of Python expressions.

Conditions are written by risk managers and shipped as data, so they are never handed to
``eval``: the text is parsed with :mod:`ast` and every node is checked against a whitelist.
Allowed:

* numbers (finite int/float), strings, ``True`` / ``False``;
* feature names (ASCII identifiers starting with a letter; no ``_`` prefix, so no dunders);
* comparisons ``== != < <= > >=``, chained (``0.5 <= fraud_device_risk < 0.8``);
* ``x in (...)`` / ``x not in [...]`` with a literal tuple or list of constants;
* ``and`` / ``or`` / ``not``, parentheses;
* arithmetic ``+ - * /`` and unary ``-`` / ``+`` (no ``**``, ``//``, ``%``, bit operators).

Everything else (calls, attributes, subscripts, lambdas, comprehensions, ``:=``, f-strings,
conditional expressions, ``is``, ``None``…) is a :class:`RuleSetError` with its position. With a
feature catalogue, names must be declared and operand types must agree (no ``"a" < 3``), so a
typo fails at load, not silently at evaluation. The compiler turns a validated tree into code.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from dataclasses import dataclass
from typing import Literal

from node.rules.errors import RuleSetError
from node.rules.features import Catalogue

MAX_LENGTH = 4000
"""Longest condition accepted (characters); bounds parsing time at load."""
MAX_DEPTH = 64
"""Deepest syntax tree accepted; keeps the compiler's recursion (and CPython's) far from limits."""
MAX_EXACT_INT = 2**53
"""Largest integer constant accepted: beyond it no float holds it, and every evaluation failed."""

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")

_BOOL_OPS: tuple[type[ast.boolop], ...] = (ast.And, ast.Or)
_UNARY_OPS: tuple[type[ast.unaryop], ...] = (ast.Not, ast.USub, ast.UAdd)
_BIN_OPS: tuple[type[ast.operator], ...] = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_ORDER_OPS: tuple[type[ast.cmpop], ...] = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_EQ_OPS: tuple[type[ast.cmpop], ...] = (ast.Eq, ast.NotEq)
_MEMBER_OPS: tuple[type[ast.cmpop], ...] = (ast.In, ast.NotIn)

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed (use a tuple or list after in)",
    ast.Tuple: "a tuple is only allowed after in / not in",
    ast.List: "a list is only allowed after in / not in",
    ast.Starred: "starred expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}

Kind = Literal["num", "str", "any"]
"""Static operand kind: bools, ints and floats compare with each other, strings only with strings."""


@dataclass(frozen=True)
class Condition:
    """A validated condition: its text, its syntax tree (the body) and the features it reads."""

    text: str
    tree: ast.expr
    features: frozenset[str]


def parse_condition(text: str, catalogue: Catalogue | None = None) -> Condition:
    """Parse and validate ``text``; with ``catalogue``, check feature names and operand types.

    Raises :class:`RuleSetError` (key ``when``, with the position); callers add the file and
    rule id with :meth:`RuleSetError.located`.
    """
    if not isinstance(text, str):
        raise _error(f"must be a string, not {type(text).__name__}")
    if not text.strip():
        raise _error("is empty")
    if len(text) > MAX_LENGTH:
        raise _error(f"is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        position = (exc.lineno or 1, exc.offset or 1)
        raise _error(f"syntax error: {exc.msg}", position) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise _error(f"cannot be parsed: {type(exc).__name__}") from None
    features: set[str] = set()
    _validate(tree.body, features, 0)
    condition = Condition(text=text, tree=tree.body, features=frozenset(features))
    check_features(condition, catalogue)
    return condition


def check_features(condition: Condition, catalogue: Catalogue | None) -> None:
    """Check names against ``catalogue`` (when given) and operand kinds (always).

    Constants are checked even without a catalogue: ``"a" < 3`` is wrong whatever the input.
    """
    if _kind(condition.tree, catalogue) == "str":
        raise _at(condition.tree, "the condition is a string, not true or false (a comparison is missing)")


def constant_kind(value: object) -> Kind:
    return "str" if isinstance(value, str) else "num"


def _error(message: str, position: tuple[int, int] | None = None) -> RuleSetError:
    return RuleSetError(message, key="when", position=position)


def _at(node: ast.AST, message: str) -> RuleSetError:
    return _error(message, (getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1))


def _validate(node: ast.AST, features: set[str], depth: int) -> None:
    """Reject any node outside the whitelist; collect the feature names."""
    if depth > MAX_DEPTH:
        raise _at(node, f"is nested deeper than {MAX_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.BoolOp) and isinstance(node.op, _BOOL_OPS):
        for value in node.values:
            _validate(value, features, depth)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, _UNARY_OPS):
            raise _at(node, f"operator {type(node.op).__name__} is not allowed")
        _validate(node.operand, features, depth)
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BIN_OPS):
            raise _at(node, f"operator {_OP_TEXT.get(type(node.op), type(node.op).__name__)} is not allowed")
        _validate(node.left, features, depth)
        _validate(node.right, features, depth)
    elif isinstance(node, ast.Compare):
        _validate(node.left, features, depth)
        for op, right in zip(node.ops[:-1], node.comparators, strict=False):
            if isinstance(op, _MEMBER_OPS):  # x in (...) < y compares a truth value with y
                raise _at(right, "in / not in must end a comparison (use and: x in (...) and x < y)")
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, _MEMBER_OPS):
                _validate_literal_list(right)
            elif isinstance(op, (*_ORDER_OPS, *_EQ_OPS)):
                _validate(right, features, depth)
            else:
                raise _at(right, f"comparison {_OP_TEXT.get(type(op), type(op).__name__)} is not allowed")
    elif isinstance(node, ast.Name):
        _validate_name(node)
        features.add(node.id)
    elif isinstance(node, ast.Constant):
        _validate_constant(node)
    else:
        reason = _FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
        raise _at(node, reason)


def _validate_name(node: ast.Name) -> None:
    if node.id.startswith("__") or node.id.endswith("__"):
        raise _at(node, f"dunder names are not allowed ({node.id!r})")
    if not NAME_RE.match(node.id):
        raise _at(node, f"feature name {node.id!r} must be an ASCII identifier starting with a letter")


def _validate_constant(node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _at(node, "numbers must be finite")
        if isinstance(value, int) and abs(value) > MAX_EXACT_INT:  # beyond a float's exact integers
            raise _at(node, f"numbers must be within ±{MAX_EXACT_INT:,} (2**53)")
        return
    raise _at(node, f"constant {value!r} is not allowed (numbers, strings, True and False only)")


def _validate_literal_list(node: ast.AST) -> None:
    if not isinstance(node, ast.Tuple | ast.List):
        raise _at(node, "in / not in needs a literal tuple or list of constants, e.g. x in ('a', 'b')")
    for element in node.elts:
        if not isinstance(element, ast.Constant):
            raise _at(element, "elements after in / not in must be constants")
        _validate_constant(element)


def _kind(node: ast.expr, catalogue: Catalogue | None) -> Kind:
    """Static kind of a validated node; raises on mixed-kind operations."""
    if isinstance(node, ast.Constant):
        return constant_kind(node.value)
    if isinstance(node, ast.Name):
        if catalogue is None:
            return "any"
        feature = catalogue.get(node.id)
        if feature is None:
            close = difflib.get_close_matches(node.id, list(catalogue), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _at(node, f"unknown feature {node.id!r}{hint}")
        return "str" if feature.type == "string" else "num"
    if isinstance(node, ast.BinOp | ast.UnaryOp) and not isinstance(node.op, ast.Not):
        operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand]
        for operand in operands:
            if _kind(operand, catalogue) == "str":
                raise _at(operand, "arithmetic needs numbers, not strings")
        return "num"
    if isinstance(node, ast.UnaryOp):  # not
        _kind(node.operand, catalogue)
        return "num"
    if isinstance(node, ast.BoolOp):  # and/or give one of their operands: of one kind
        kinds = {_kind(value, catalogue) for value in node.values} - {"any"}
        if len(kinds) > 1:
            raise _at(node, "and / or mixes a number with a string")
        return kinds.pop() if kinds else "any"
    assert isinstance(node, ast.Compare)
    left = _kind(node.left, catalogue)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, _MEMBER_OPS):
            assert isinstance(right_node, ast.Tuple | ast.List)
            for element in right_node.elts:
                _check_same(left, _kind(element, catalogue), element, "in")
            left = "any"
        else:
            right = _kind(right_node, catalogue)
            _check_same(left, right, right_node, _OP_TEXT[type(op)])
            left = right
    return "num"


def _check_same(left: Kind, right: Kind, node: ast.AST, op: str) -> None:
    if "any" not in (left, right) and left != right:
        names = {"num": "a number", "str": "a string"}
        raise _at(node, f"{op!r} compares {names[left]} with {names[right]}")


_OP_TEXT: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
