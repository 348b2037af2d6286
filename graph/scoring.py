"""Ring risk score in 0..1 with the factors that make it, each explained in words.

Each factor turns one fact of the :class:`RingSummary` into an *excess* over the innocent value
(one person, one lender, no markers …) and then into a probability-like strength
``weight · (1 − e^(−excess/scale))``: zero when there is nothing unusual, saturating at ``weight``
so no single fact can dominate without bound. Strengths combine as a noisy-OR,
``score = 1 − Π(1 − strengthᵢ)``, which is monotone in every factor and stays below 1. Each
factor's reported *contribution* is its share of the score in proportion to ``−ln(1 − strength)``,
so the contributions add up to the score. A single application is not a ring: it scores 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import NamedTuple

from graph.summary import RingSummary


class Factor(NamedTuple):
    name: str
    value: float
    contribution: float
    explanation: str


@dataclass(frozen=True, slots=True)
class RingScore:
    ring_id: str
    score: float
    factors: tuple[Factor, ...]
    """Largest contribution first; contributions sum to ``score``."""


@dataclass(frozen=True, slots=True)
class Weight:
    """``weight``: the most this factor alone can score; ``scale``: excess reaching 63 % of it."""

    weight: float
    scale: float

    def strength(self, excess: float) -> float:
        return 0.0 if excess <= 0 else self.weight * -math.expm1(-excess / self.scale)


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """Factor weights. Outcomes and markers weigh most: they are filed facts, not patterns."""

    fraud_confirmed: Weight = Weight(0.85, 0.7)
    blacklisted: Weight = Weight(0.6, 1.0)
    persons_per_device_or_phone: Weight = Weight(0.55, 3.0)
    defaults: Weight = Weight(0.45, 2.0)
    persons: Weight = Weight(0.35, 4.0)
    velocity: Weight = Weight(0.3, 5.0)
    lenders: Weight = Weight(0.2, 3.0)
    size: Weight = Weight(0.15, 10.0)
    _weights: tuple[tuple[float, float], ...] = field(init=False, repr=False, compare=False)
    """(weight, scale) of each factor in ``FACTORS`` order, derived for ``score_ring``."""

    def __post_init__(self) -> None:
        for name in FACTORS:
            weight: Weight = getattr(self, name)
            if not (0.0 <= weight.weight < 1.0 and weight.scale > 0):
                raise ValueError(f"{name}: weight must be in [0, 1) and scale > 0")
        pairs = tuple((w.weight, w.scale) for w in (getattr(self, name) for name in FACTORS))
        object.__setattr__(self, "_weights", pairs)  # frozen: derived state, set once here


FACTORS = tuple(f.name for f in fields(ScoringConfig) if f.type == "Weight")
"""The factors of a score, in declaration order: the order ``_facts`` lists them (a test checks)."""

DEFAULT_SCORING = ScoringConfig()


def _facts(s: RingSummary) -> list[tuple[str, float, float, str]]:
    """``(name, value, excess, explanation)`` per factor."""
    linked_by = ", ".join(f"{name}×{count}" for name, count in s.shared_token_types) or "nothing shared"
    m = s.max_persons_per_device_or_phone
    return [
        (
            "fraud_confirmed",
            s.fraud_confirmed,
            s.fraud_confirmed,
            f"{s.fraud_confirmed} application(s) reported as confirmed fraud",
        ),
        ("blacklisted", s.blacklisted, s.blacklisted, f"{s.blacklisted} application(s) carry a blacklist marker"),
        (
            "persons_per_device_or_phone",
            m,
            m - 1,
            f"up to {m} distinct applicants used one device or phone within 7 days"
            if m
            else "no device or phone is shared",
        ),
        ("defaults", s.defaults, s.defaults, f"{s.defaults} application(s) defaulted"),
        ("persons", s.persons, s.persons - 1, f"{s.persons} distinct applicant(s) in the ring"),
        (
            "velocity",
            round(s.apps_per_day, 3),
            s.apps_per_day - 1.0,
            f"{s.apps_per_day:.1f} applications per day over {s.span_days:.1f} day(s)",
        ),
        ("lenders", s.lenders, s.lenders - 1, f"applications went to {s.lenders} lender(s)"),
        ("size", s.size, s.size - 1, f"{s.size} linked applications (shared tokens: {linked_by})"),
    ]


def score_ring(summary: RingSummary, config: ScoringConfig = DEFAULT_SCORING) -> RingScore:
    """Score a ring and explain it (on every linked Check answer: kept to plain arithmetic)."""
    facts = _facts(summary)
    if summary.size < 2:
        factors = [Factor(name, value, 0.0, f"single application, not a ring; {why}") for name, value, _, why in facts]
        return RingScore(summary.ring_id, 0.0, tuple(factors))
    logs: list[float] = []
    for (_, _, excess, _), (weight, scale) in zip(facts, config._weights, strict=True):
        strength = 0.0 if excess <= 0 else weight * -math.expm1(-excess / scale)  # Weight.strength
        logs.append(-math.log1p(-strength))
    total = sum(logs)
    score = -math.expm1(-total)
    factors = [
        _new_factor(Factor, (name, value, score * log / total if total > 0 else 0.0, why))
        for (name, value, _, why), log in zip(facts, logs, strict=True)
    ]
    factors.sort(key=_contribution, reverse=True)  # stable: ties keep the order of _facts
    return RingScore(summary.ring_id, score, tuple(factors))


_new_factor = tuple.__new__  # a Factor without NamedTuple's Python-level __new__
_contribution = itemgetter(2)
