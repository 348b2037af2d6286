"""Rules and rule sets as data: frozen values, validated when built, loaded from TOML files.

A rule set is a versioned file owned by risk management; the node compiles it once at load
(:mod:`node.rules.compiler`). Every check that can be made without an input is made here, so a
bad file is refused at start-up or reload with the file, rule id and key in the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from node.rules.errors import RuleSetError
from node.rules.expressions import Condition, check_features, parse_condition
from node.rules.features import Catalogue, is_consortium_feature
from runtime.toml_file import read_toml_file

Action = Literal["decline", "refer", "flag"]
ACTIONS: frozenset[str] = frozenset({"decline", "refer", "flag"})
CONSORTIUM_SOURCE = "consortium"

RULE_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
REASON_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,47}\Z")
SOURCE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\Z")

_RULE_KEYS = ("id", "when", "action", "reason_code", "description", "source")
_REQUIRED_RULE_KEYS = ("id", "when", "action", "reason_code", "source")
_TOP_KEYS = ("name", "version", "description", "rules")


@dataclass(frozen=True)
class Rule:
    """One rule: when ``when`` holds for an application, it hits with ``action`` and ``reason_code``.

    ``source`` names the input family the rule judges on ("consortium", "bureau", "internal"…).
    A rule reading any consortium feature (``cs_…``) must say ``source = "consortium"``: that is
    what lets :func:`node.rules.decision.decide` keep consortium data alone from declining.
    """

    id: str
    when: str
    action: Action
    reason_code: str
    description: str = ""
    source: str = "internal"
    condition: Condition = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require(
            isinstance(self.id, str) and RULE_ID_RE.match(self.id) is not None,
            "id",
            f"rule id {self.id!r} must match {RULE_ID_RE.pattern}",
            None,
        )
        _require(
            self.action in ACTIONS, "action", f"unknown action {self.action!r} (one of {sorted(ACTIONS)})", self.id
        )
        _require(
            isinstance(self.reason_code, str) and REASON_CODE_RE.match(self.reason_code) is not None,
            "reason_code",
            f"reason code {self.reason_code!r} must match {REASON_CODE_RE.pattern}",
            self.id,
        )
        _require(
            isinstance(self.source, str) and SOURCE_RE.match(self.source) is not None,
            "source",
            f"source {self.source!r} must match {SOURCE_RE.pattern}",
            self.id,
        )
        _require(isinstance(self.description, str), "description", "must be a string", self.id)
        try:
            condition = parse_condition(self.when)
        except RuleSetError as exc:
            raise exc.located(rule_id=self.id) from None
        consortium = sorted(f for f in condition.features if is_consortium_feature(f))
        _require(
            not consortium or self.source == CONSORTIUM_SOURCE,
            "source",
            f"reads consortium features {consortium} so its source must be {CONSORTIUM_SOURCE!r}",
            self.id,
        )
        object.__setattr__(self, "condition", condition)

    @property
    def is_consortium(self) -> bool:
        return self.source == CONSORTIUM_SOURCE


@dataclass(frozen=True)
class RuleSet:
    """A named, versioned, ordered collection of rules with unique ids."""

    name: str
    version: str
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        _require(
            isinstance(self.name, str) and NAME_RE.match(self.name) is not None,
            "name",
            f"rule set name {self.name!r} must match {NAME_RE.pattern}",
            None,
        )
        _require(
            isinstance(self.version, str) and NAME_RE.match(self.version) is not None,
            "version",
            f"version {self.version!r} must be a string matching {NAME_RE.pattern}",
            None,
        )
        object.__setattr__(self, "rules", tuple(self.rules))
        seen: set[str] = set()
        for rule in self.rules:
            _require(isinstance(rule, Rule), "rules", f"not a Rule: {rule!r}", None)
            _require(rule.id not in seen, "id", "duplicate rule id", rule.id)
            seen.add(rule.id)

    def check_features(self, catalogue: Catalogue) -> None:
        """Every feature name declared and operand types consistent with ``catalogue``."""
        for rule in self.rules:
            try:
                check_features(rule.condition, catalogue)
            except RuleSetError as exc:
                raise exc.located(rule_id=rule.id) from None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired. One object per rule, made at compile time and shared by every hit."""

    rule_id: str
    reason_code: str
    action: Action
    source: str

    @property
    def is_consortium(self) -> bool:
        return self.source == CONSORTIUM_SOURCE


def load_rule_set(path: str | Path, catalogue: Catalogue | None = None) -> RuleSet:
    """Read a rule set from a TOML file (``name``, ``version``, ``[[rules]]`` tables)."""
    path = Path(path)
    data = read_toml_file(path, RuleSetError)
    try:
        rule_set = rule_set_from_mapping(data)
        if catalogue is not None:
            rule_set.check_features(catalogue)
    except RuleSetError as exc:
        raise exc.located(path=path, file_line=_line_of_rule(path, exc.rule_id)) from None
    return rule_set


def _line_of_rule(path: Path, rule_id: str | None) -> int | None:
    """The file line of the rule's ``id = "<rule_id>"``, so an analyst is sent to the right rule
    of a long file (an error's own position is inside the rule's condition)."""
    if rule_id is None:
        return None
    pattern = re.compile(rf"""^\s*id\s*=\s*["']{re.escape(rule_id)}["']""")
    text = path.read_bytes().decode("utf-8", errors="replace")
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), None)


def rule_set_from_mapping(data: Mapping[str, Any]) -> RuleSet:
    """Build a rule set from parsed TOML (or any mapping of the same shape)."""
    unknown = sorted(set(data) - set(_TOP_KEYS))
    _require(not unknown, unknown[0] if unknown else None, f"unknown key (allowed: {', '.join(_TOP_KEYS)})", None)
    for key in ("name", "version"):
        _require(key in data, key, "missing", None)
    tables = data.get("rules", [])
    _require(isinstance(tables, list), "rules", "must be an array of tables ([[rules]])", None)
    rules = [_rule_from_table(index, table) for index, table in enumerate(tables)]
    return RuleSet(name=data["name"], version=data["version"], rules=tuple(rules))


def _rule_from_table(index: int, table: object) -> Rule:
    label = f"rules[{index}]"
    _require(isinstance(table, dict), None, "must be a table", label)
    table = cast(dict[str, Any], table)
    rule_id = table.get("id")
    label = rule_id if isinstance(rule_id, str) and rule_id else label
    for key in _REQUIRED_RULE_KEYS:
        _require(key in table, key, "missing", label)
    unknown = sorted(set(table) - set(_RULE_KEYS))
    _require(not unknown, unknown[0] if unknown else None, f"unknown key (allowed: {', '.join(_RULE_KEYS)})", label)
    for key, value in table.items():
        _require(isinstance(value, str), key, f"must be a string, not {type(value).__name__}", label)
    return Rule(
        id=table["id"],
        when=table["when"],
        action=table["action"],
        reason_code=table["reason_code"],
        description=table.get("description", ""),
        source=table["source"],
    )


def _require(ok: bool, key: str | None, message: str, rule_id: str | None) -> None:
    if not ok:
        raise RuleSetError(message, rule_id=rule_id, key=key)
