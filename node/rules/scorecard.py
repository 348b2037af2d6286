"""Scorecards: points tables (bins → points) summed into a 0–100 score, and grades A–E.

A scorecard is what a credit committee can read and sign off: for each characteristic (one
feature) an ordered list of bins, each worth some points; the score is ``base`` plus the points
of the bin each feature falls in, clipped to 0..100, and every contribution is reported so a
decision can be explained. Bins are either numeric ranges ``[lower, upper)`` (contiguous,
``lower`` of the first / ``upper`` of the last may be open) or lists of categorical values.

A missing feature (absent or ``None``, or NaN) scores the characteristic's ``missing`` points; a
value outside every bin (below the first ``lower``, at or above the last ``upper``, or an
unlisted category) scores ``other`` points, which default to ``missing``. Lookups are
precomputed at construction: one bisect (numeric) or one dict lookup (categorical) each.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from node.rules.errors import ScorecardError
from node.rules.features import Catalogue, fits
from runtime.toml_file import read_toml_file

Grade = Literal["A", "B", "C", "D", "E"]
Category = str | int | bool
SCORE_DECIMALS = 6
"""Scores are rounded to this many decimal places before clipping and grading."""
DEFAULT_CUTOFFS: Mapping[str, float] = {"A": 85.0, "B": 75.0, "C": 65.0, "D": 55.0}
"""Lowest score of each grade; below D is E."""
MISSING_LABEL = "missing"
OTHER_LABEL = "other"


class Contribution(NamedTuple):
    feature: str
    label: str
    points: float


@dataclass(frozen=True)
class ScoreResult:
    score: float
    """``raw`` clipped to 0..100."""
    contributions: list[Contribution]
    raw: float


@dataclass(frozen=True)
class Bin:
    """Numeric ``[lower, upper)`` (``None`` = open end) or categorical ``values``."""

    points: float
    lower: float | None = None
    upper: float | None = None
    values: tuple[Category, ...] | None = None
    label: str = ""

    def default_label(self) -> str:
        if self.values is not None:
            shown = ", ".join(_show(v) for v in self.values)
            return f"= {shown}" if len(self.values) == 1 else f"in {{{shown}}}"
        lower = "(-inf" if self.lower is None else f"[{self.lower:g}"
        upper = "+inf)" if self.upper is None else f"{self.upper:g})"
        return f"{lower}, {upper}"


@dataclass(frozen=True)
class Characteristic:
    """One feature's bins and points; validated and turned into a lookup when built."""

    feature: str
    bins: tuple[Bin, ...]
    missing: float = 0.0
    other: float | None = None
    _edges: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _range: tuple[float, float] = field(init=False, repr=False, compare=False)
    _categories: dict[Category, int] | None = field(init=False, repr=False, compare=False)
    _labels: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bins", tuple(self.bins))
        if not self.bins:
            raise ScorecardError("needs at least one bin", key="bins")
        labels = tuple(b.label or b.default_label() for b in self.bins)
        object.__setattr__(self, "_labels", labels)
        categorical = [b.values is not None for b in self.bins]
        if all(categorical):
            categories: dict[Category, int] = {}
            for index, bin_ in enumerate(self.bins):
                for value in bin_.values or ():
                    if value in categories:
                        raise ScorecardError(f"value {value!r} is in two bins", key=f"bins[{index}].values")
                    categories[value] = index
            object.__setattr__(self, "_categories", categories)
            object.__setattr__(self, "_edges", ())
            object.__setattr__(self, "_range", (-math.inf, math.inf))
            return
        if any(categorical):
            raise ScorecardError("mixes numeric ranges and categorical values", key="bins")
        for index, bin_ in enumerate(self.bins):
            if index > 0 and bin_.lower is None:
                raise ScorecardError("only the first bin may omit lower", key=f"bins[{index}].lower")
            if index < len(self.bins) - 1 and bin_.upper is None:
                raise ScorecardError("only the last bin may omit upper", key=f"bins[{index}].upper")
            if bin_.lower is not None and bin_.upper is not None and not bin_.lower < bin_.upper:
                raise ScorecardError("lower must be below upper", key=f"bins[{index}]")
            if index > 0 and bin_.lower != self.bins[index - 1].upper:
                raise ScorecardError(
                    "must start where the previous bin ends (bins are contiguous)", key=f"bins[{index}].lower"
                )
        first, last = self.bins[0].lower, self.bins[-1].upper
        object.__setattr__(self, "_categories", None)
        object.__setattr__(self, "_edges", tuple(float(b.lower) for b in self.bins[1:] if b.lower is not None))
        object.__setattr__(self, "_range", (-math.inf if first is None else first, math.inf if last is None else last))

    @property
    def is_categorical(self) -> bool:
        return self._categories is not None

    def points_for(self, value: Any) -> Contribution:
        """The bin ``value`` falls in, as (feature, label, points)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return Contribution(self.feature, MISSING_LABEL, self.missing)
        if self._categories is not None:
            try:
                index = self._categories.get(value)
            except TypeError:
                raise ScorecardError(f"unhashable value of type {type(value).__name__}", key=self.feature) from None
        elif isinstance(value, int | float):
            low, high = self._range
            inside = low <= value < high or value == high == math.inf  # +inf is in an open top bin
            index = bisect_right(self._edges, value) if inside else None
        else:
            raise ScorecardError(f"expected a number, got {type(value).__name__}", key=self.feature)
        if index is None:
            return Contribution(self.feature, OTHER_LABEL, self.missing if self.other is None else self.other)
        return Contribution(self.feature, self._labels[index], self.bins[index].points)


@dataclass(frozen=True)
class Scorecard:
    """``base`` + points of each characteristic, clipped to 0..100; graded with ``cutoffs``."""

    name: str
    base: float
    characteristics: tuple[Characteristic, ...]
    version: str = "1"
    cutoffs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CUTOFFS), hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "characteristics", tuple(self.characteristics))
        seen: set[str] = set()
        for index, characteristic in enumerate(self.characteristics):
            if characteristic.feature in seen:
                raise ScorecardError(
                    f"feature {characteristic.feature!r} is scored twice", key=f"characteristics[{index}].feature"
                )
            seen.add(characteristic.feature)
        check_cutoffs(self.cutoffs)

    def score(self, features: Mapping[str, Any]) -> ScoreResult:
        contributions = [c.points_for(features.get(c.feature)) for c in self.characteristics]
        # Points are decimals written in the file: float error must not move a score across a
        # cut-off (94.6 - 20 - 19.6 is 54.99999999999999, a D turned E), so 6 places.
        raw = round(self.base + sum(c.points for c in contributions), SCORE_DECIMALS)
        return ScoreResult(score=min(100.0, max(0.0, float(raw))), contributions=contributions, raw=float(raw))

    def grade(self, score: float) -> Grade:
        return grade(score, self.cutoffs)

    def check_features(self, catalogue: Catalogue) -> None:
        """Every scored feature declared; numeric bins only on numeric features; categorical
        values of the feature's type (``"false"`` on a boolean would never match)."""
        for index, characteristic in enumerate(self.characteristics):
            feature = catalogue.get(characteristic.feature)
            key = f"characteristics[{index}].feature"
            if feature is None:
                raise ScorecardError(f"unknown feature {characteristic.feature!r}", key=key)
            if feature.type == "string" and not characteristic.is_categorical:
                raise ScorecardError(f"numeric bins on string feature {characteristic.feature!r}", key=key)
            for at, bin_ in enumerate(characteristic.bins):
                wrong = [v for v in bin_.values or () if not fits(feature, v)]
                if wrong:
                    raise ScorecardError(
                        f"value {wrong[0]!r} is not a {feature.type} ({characteristic.feature!r} is)",
                        key=f"characteristics[{index}].bins[{at}].values",
                    )


def grade(score: float, cutoffs: Mapping[str, float] = DEFAULT_CUTOFFS) -> Grade:
    """A if ``score`` ≥ cutoffs["A"], … D if ≥ cutoffs["D"], else E."""
    for letter in ("A", "B", "C", "D"):
        if score >= cutoffs[letter]:
            return letter  # type: ignore[return-value]  # the loop's literals are Grades
    return "E"


def check_cutoffs(cutoffs: Mapping[str, float]) -> None:
    if set(cutoffs) != {"A", "B", "C", "D"}:
        raise ScorecardError("needs exactly A, B, C and D (E is everything below D)", key="grades")
    values = [cutoffs[g] for g in "ABCD"]
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
        raise ScorecardError("cut-offs must be numbers", key="grades")
    if not all(a > b for a, b in itertools.pairwise(values)):
        raise ScorecardError("cut-offs must decrease strictly from A to D", key="grades")


def load_scorecard(path: str | Path, catalogue: Catalogue | None = None) -> Scorecard:
    """Read a scorecard from TOML; errors name the file and the key."""
    path = Path(path)
    data = read_toml_file(path, ScorecardError)
    try:
        scorecard = scorecard_from_mapping(data)
        if catalogue is not None:
            scorecard.check_features(catalogue)
    except ScorecardError as exc:
        raise ScorecardError(exc.message, path=path, key=exc.key) from None
    return scorecard


def scorecard_from_mapping(data: Mapping[str, Any]) -> Scorecard:
    _keys(data, {"name", "version", "description", "base", "grades", "characteristics"}, {"name", "base"}, "")
    name, version = data["name"], data.get("version", "1")
    if not isinstance(name, str) or not name or not isinstance(version, str):
        raise ScorecardError("name and version must be non-empty strings", key="name")
    cutoffs = data.get("grades", dict(DEFAULT_CUTOFFS))
    if not isinstance(cutoffs, dict):
        raise ScorecardError("must be a table", key="grades")
    characteristics = data.get("characteristics", [])
    if not isinstance(characteristics, list):
        raise ScorecardError("must be an array of tables ([[characteristics]])", key="characteristics")
    built = [_characteristic(f"characteristics[{i}]", table) for i, table in enumerate(characteristics)]
    return Scorecard(
        name=name, base=_number(data["base"], "base"), characteristics=tuple(built), version=version, cutoffs=cutoffs
    )


def _characteristic(key: str, table: object) -> Characteristic:
    if not isinstance(table, dict):
        raise ScorecardError("must be a table", key=key)
    _keys(table, {"feature", "missing", "other", "bins"}, {"feature", "bins"}, key)
    feature = table["feature"]
    if not isinstance(feature, str) or not feature:
        raise ScorecardError("must be a feature name", key=f"{key}.feature")
    key = f"{key} ({feature})"
    bins = table["bins"]
    if not isinstance(bins, list):
        raise ScorecardError("must be an array of tables", key=f"{key}.bins")
    other = table.get("other")
    try:
        return Characteristic(
            feature=feature,
            bins=tuple(_bin(f"{key}.bins[{i}]", b) for i, b in enumerate(bins)),
            missing=_number(table.get("missing", 0), f"{key}.missing"),
            other=None if other is None else _number(other, f"{key}.other"),
        )
    except ScorecardError as exc:
        if exc.key is not None and exc.key.startswith(key):
            raise
        raise ScorecardError(exc.message, key=f"{key}.{exc.key}" if exc.key else key) from None


def _bin(key: str, table: object) -> Bin:
    if not isinstance(table, dict):
        raise ScorecardError("must be a table", key=key)
    _keys(table, {"lower", "upper", "values", "points", "label"}, {"points"}, key)
    values = table.get("values")
    if values is not None:
        if "lower" in table or "upper" in table:
            raise ScorecardError("a bin has either values or lower/upper", key=key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
            raise ScorecardError("must be a non-empty list of strings, integers or booleans", key=f"{key}.values")
    elif "lower" not in table and "upper" not in table:
        raise ScorecardError("needs lower and/or upper, or values", key=key)
    label = table.get("label", "")
    if not isinstance(label, str):
        raise ScorecardError("must be a string", key=f"{key}.label")
    lower, upper = table.get("lower"), table.get("upper")
    return Bin(
        points=_number(table["points"], f"{key}.points"),
        lower=None if lower is None else _number(lower, f"{key}.lower"),
        upper=None if upper is None else _number(upper, f"{key}.upper"),
        values=None if values is None else tuple(values),
        label=label,
    )


def _keys(table: Mapping[str, Any], allowed: set[str], required: set[str], key: str) -> None:
    prefix = f"{key}." if key else ""
    absent = sorted(required - set(table))
    if absent:
        raise ScorecardError("missing", key=prefix + absent[0])
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScorecardError(f"unknown key (allowed: {', '.join(sorted(allowed))})", key=prefix + unknown[0])


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScorecardError(f"must be a finite number, not {value!r}", key=key)
    return float(value)


def _show(value: Category) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
