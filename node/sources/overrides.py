"""Scenario files: fixed provider answers for chosen applicants (the seed's personas, demos).

A simulator draws plausible values from a hash of the applicant; a scenario pins some of them so a
demo shows exactly the story of seed 002 (老王家常菜: tax 3万, flows 12万/month ...). Format::

    [applicants."92310115MA1FL3Q869"]          # applicant key: USCC, or resident ID of a person
    label = "老王家常菜"                          # free text, ignored

    [applicants."92310115MA1FL3Q869".tax]      # one table per source name
    tax_annual = 30000
    outcome = "ok"                             # optional: "ok" | "timeout" | "error" forces it

Features not listed keep their simulated values; ``outcome`` replaces the injected fault decision.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from node.sources.base import FeatureValue, SourceStatus
from runtime.toml_file import file_error, read_toml_file

_OUTCOMES: tuple[SourceStatus, ...] = ("ok", "timeout", "error")


class ScenarioError(ValueError):
    """The scenario file is malformed; names the offending table, never a feature value."""


@dataclass(frozen=True)
class ScenarioEntry:
    """Pinned answer of one source for one applicant."""

    features: Mapping[str, FeatureValue] = field(default_factory=dict)
    outcome: SourceStatus | None = None


Scenarios = Mapping[str, Mapping[str, ScenarioEntry]]
"""Applicant key (upper case) → source name → pinned answer."""


def _entry(where: str, table: Mapping[str, object]) -> ScenarioEntry:
    features: dict[str, FeatureValue] = {}
    outcome: SourceStatus | None = None
    for name, value in table.items():
        if name == "outcome":
            if value not in _OUTCOMES:
                raise ScenarioError(f"{where}.outcome must be one of {', '.join(_OUTCOMES)}")
            outcome = value  # type: ignore[assignment]  # narrowed by the membership test
        elif isinstance(value, bool | int | float | str):
            features[name] = value
        else:
            raise ScenarioError(f"{where}.{name} must be a number, string or boolean")
    return ScenarioEntry(features=features, outcome=outcome)


def parse_scenarios(data: Mapping[str, object], known_sources: Collection[str] | None = None) -> Scenarios:
    """Validate parsed TOML; ``known_sources`` (when given) catches misspelt source tables."""
    applicants = data.get("applicants", {})
    if not isinstance(applicants, dict):
        raise ScenarioError("applicants must be a table")
    result: dict[str, dict[str, ScenarioEntry]] = {}
    for key, tables in applicants.items():
        # The key is an identifier: errors refer to it by position only.
        where = f"applicants[{len(result)}]"
        if not isinstance(tables, dict):
            raise ScenarioError(f"{where} must be a table")
        entries: dict[str, ScenarioEntry] = {}
        for source, table in tables.items():
            if source in ("label", "post_loan"):  # post_loan: node.monitoring.accounts
                continue
            if not isinstance(table, dict):
                raise ScenarioError(f"{where}.{source} must be a table of features")
            if known_sources is not None and source not in known_sources:
                raise ScenarioError(f"{where}.{source}: unknown source (known: {', '.join(sorted(known_sources))})")
            entries[source] = _entry(f"{where}.{source}", table)
        result[str(key).strip().upper()] = entries
    return result


def load_scenarios(path: str | Path, known_sources: Collection[str] | None = None) -> Scenarios:
    """Read a scenario TOML file (see the module docstring for the format)."""
    data = read_toml_file(Path(path), file_error(error_type=ScenarioError))
    return parse_scenarios(data, known_sources)


def post_loan_tables(path: str | Path) -> Iterator[tuple[str, str, dict[str, object]]]:
    """``(where, applicant key, table)`` for each applicant's ``post_loan`` table, the part of a
    scenario the post-loan feeds read (``node.monitoring.accounts``, ``node.monitoring.bureau``).
    ``where`` names the table by position: the key is an identifier and stays out of errors."""
    data = read_toml_file(Path(path), file_error(error_type=ScenarioError))
    applicants = data.get("applicants", {})
    if not isinstance(applicants, dict):
        raise ScenarioError("applicants must be a table")
    for i, (key, tables) in enumerate(applicants.items()):
        post_loan = tables.get("post_loan") if isinstance(tables, dict) else None
        if post_loan is None:
            continue
        if not isinstance(post_loan, dict):
            raise ScenarioError(f"applicants[{i}].post_loan must be a table")
        yield f"applicants[{i}].post_loan", str(key), post_loan
