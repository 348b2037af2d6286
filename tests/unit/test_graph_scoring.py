"""Ring scoring: a single application scores 0, contributions add up to the score, the score is
monotone in every risky fact, a device farm outscores a stacker, and summaries count right."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.model import AppMeta
from graph.policy import LinkPolicy, TokenType
from graph.ring_index import RingIndex
from graph.scoring import FACTORS, Factor, RingScore, ScoringConfig, Weight, _facts, score_ring
from graph.summary import DAY_SECONDS, RingSummary, summarize

RISKY_FIELDS = (
    "size",
    "lenders",
    "persons",
    "max_persons_per_device_or_phone",
    "apps_per_day",
    "blacklisted",
    "defaults",
    "fraud_confirmed",
)

FACTOR_OF = {field: field for field in RISKY_FIELDS} | {
    "apps_per_day": "velocity",
    "max_persons_per_device_or_phone": "persons_per_device_or_phone",
}

summaries = st.builds(
    RingSummary,
    ring_id=st.just("r"),
    size=st.integers(1, 500),
    lenders=st.integers(1, 30),
    persons=st.integers(1, 500),
    max_persons_per_device_or_phone=st.integers(0, 100),
    apps_per_day=st.floats(0.0, 1_000.0),
    span_days=st.floats(0.0, 800.0),
    blacklisted=st.integers(0, 50),
    defaults=st.integers(0, 50),
    fraud_confirmed=st.integers(0, 50),
)


def tok(token_type: int, n: int) -> str:
    return f"1.{token_type}.1.{n:04x}"


@settings(deadline=None, max_examples=300)
@given(summaries, st.sampled_from(RISKY_FIELDS), st.integers(1, 20))
def test_score_is_bounded_explained_and_monotone(summary: RingSummary, field: str, step: int) -> None:
    result = score_ring(summary)
    assert 0.0 <= result.score < 1.0
    assert sum(f.contribution for f in result.factors) == pytest.approx(result.score, abs=1e-9)
    assert [f.contribution for f in result.factors] == sorted((f.contribution for f in result.factors), reverse=True)
    assert {f.name for f in result.factors} == set(FACTOR_OF.values()) and all(f.explanation for f in result.factors)
    riskier = dataclasses.replace(summary, **{field: getattr(summary, field) + step})
    assert score_ring(riskier).score >= result.score - 1e-12


@settings(deadline=None, max_examples=100)
@given(summaries)
def test_a_single_application_is_not_a_ring(summary: RingSummary) -> None:
    result = score_ring(dataclasses.replace(summary, size=1))
    assert result.score == 0.0 and all(f.contribution == 0.0 for f in result.factors)
    assert all("single application" in f.explanation for f in result.factors)


def test_device_farm_outscores_a_stacker_and_filed_fraud_dominates() -> None:
    stacker = RingSummary("s", size=3, lenders=3, persons=1, max_persons_per_device_or_phone=1, span_days=20)
    farm = RingSummary("f", size=12, lenders=4, persons=12, max_persons_per_device_or_phone=12, apps_per_day=12)
    fraud = dataclasses.replace(stacker, fraud_confirmed=2, blacklisted=1)
    assert score_ring(stacker).score < 0.25 < 0.75 < score_ring(farm).score
    assert score_ring(fraud).score > 0.6
    top = score_ring(farm).factors[0]
    assert top.name == "persons_per_device_or_phone" and top.value == 12
    assert "12 distinct applicants used one device or phone within 7 days" in top.explanation


def test_one_person_reapplying_at_one_lender_scores_near_zero() -> None:
    quiet = RingSummary("q", size=2, lenders=1, persons=1, max_persons_per_device_or_phone=1, apps_per_day=0.5)
    result = score_ring(quiet)
    assert 0.0 < result.score < 0.02
    assert [f.name for f in result.factors if f.contribution] == ["size"]


def test_scoring_config_is_validated_and_used() -> None:
    with pytest.raises(ValueError, match="blacklisted"):
        ScoringConfig(blacklisted=Weight(1.0, 1.0))
    with pytest.raises(ValueError):
        ScoringConfig(size=Weight(0.5, 0.0))
    summary = RingSummary("r", size=2, blacklisted=1)
    muted = ScoringConfig(blacklisted=Weight(0.0, 1.0))
    assert score_ring(summary, muted).score < score_ring(summary).score


def test_summary_counts_lenders_persons_devices_markers_and_velocity() -> None:
    index = RingIndex()
    device, phone = tok(5, 1), tok(3, 1)
    t0 = 1_700_000_000.0
    # Four people on one device across three lenders within two days; one person twice.
    people = ["p1", "p2", "p3", "p4", "p1"]
    for i, person in enumerate(people):
        meta = AppMeta(member_id=f"m{i % 3}", received_at=t0 + i * DAY_SECONDS / 2, person=person)
        tokens = [device, tok(1, i)] + ([phone] if i < 2 else [])
        index.add_application(f"a{i}", tokens, meta)
    index.add_application("lone", [tok(3, 99)], AppMeta(member_id="m0", received_at=t0))
    index.update_meta("a1", blacklisted=True, defaulted=True)
    index.update_meta("a2", fraud_confirmed=True)
    summary = summarize(index, "a0")
    assert summary is not None
    assert (summary.size, summary.lenders, summary.persons) == (5, 3, 4)
    assert summary.max_persons_per_device_or_phone == 4
    assert (summary.blacklisted, summary.defaults, summary.fraud_confirmed) == (1, 1, 1)
    assert summary.span_days == pytest.approx(2.0) and summary.apps_per_day == pytest.approx(2.5)
    assert summary.shared_token_types == (("device_id", 1), ("phone", 1))  # resident IDs are not shared
    lone = summarize(index, "lone")
    assert lone is not None and lone.size == 1 and lone.apps_per_day == 1.0 and score_ring(lone).score == 0
    assert summarize(index, "a3") is None  # not a ring id
    assert summarize(index, "nobody") is None


def test_applications_without_a_person_or_a_phone_count_each_and_hub_tokens_are_not_shared() -> None:
    index = RingIndex()
    cafe = tok(6, 1)
    for i in range(25):  # IP cap 20: a hub
        index.add_application(f"c{i:02d}", [cafe] + ([tok(5, 1)] if i < 3 else []))
    summary = summarize(index, "c00")
    assert summary is not None and summary.size == 3 and summary.persons == 3  # device only: each its own
    assert summary.shared_token_types == (("device_id", 1),)


def test_phone_only_pre_checks_count_by_their_phone() -> None:
    """Without a person key an application counts by its phone. One borrower checked in full and
    twice by phone alone (pre-checks at two lenders) is two applicants on the phone, not three
    (which read as RING_SHARED_DEVICE); a farm sending device-only pre-checks, each with its own
    phone, is as many applicants as phones (counted as one, it raised no alarm)."""
    phone, t0 = tok(3, 5), 1_700_000_000.0
    index = RingIndex()
    index.add_application("full", [phone, tok(1, 1)], AppMeta(member_id="m0", received_at=t0, person=tok(1, 1)))
    for i, member in enumerate(("m0", "m1")):
        index.add_application(f"pre{i}", [phone], AppMeta(member_id=member, received_at=t0 + 60 * (i + 1)))
    summary = summarize(index, "full")
    assert summary is not None and summary.size == 3
    assert (summary.persons, summary.max_persons_per_device_or_phone) == (2, 2)
    policy = LinkPolicy(windows={TokenType.PHONE: 4})  # phones link within 4 s windows
    windowed = RingIndex(policy)
    for i in range(3):  # one borrower's device and phone, 5 s apart: one applicant in three windows
        at = t0 + 5 * i
        windowed.add_application(
            f"w{i}", policy.link_keys([tok(5, 7), tok(3, 7)], at), AppMeta(member_id="m0", received_at=at)
        )
    summary = summarize(windowed, "w0")
    assert summary is not None and summary.size == 3 and summary.persons == 1
    farm = RingIndex()
    device = tok(5, 9)
    for i in range(6):
        meta = AppMeta(member_id=f"m{i % 3}", received_at=t0 + 600 * i)
        farm.add_application(f"f{i}", [device, tok(3, 100 + i)], meta)
    summary = summarize(farm, "f0")
    assert summary is not None and (summary.persons, summary.max_persons_per_device_or_phone) == (6, 6)


def test_persons_per_device_or_phone_counts_within_seven_days() -> None:
    """A switchboard number given by a dozen staff over months is not a farm of a dozen."""
    index = RingIndex()
    phone = tok(3, 7)
    t0 = 1_700_000_000.0
    for i in range(5):  # one new person every 3 days: at most 3 within any 7 days
        index.add_application(
            f"s{i}", [phone], AppMeta(member_id="m0", received_at=t0 + 3 * i * DAY_SECONDS, person=f"p{i}")
        )
    summary = summarize(index, "s0")
    assert summary is not None and summary.persons == 5
    assert summary.max_persons_per_device_or_phone == 3
    for i in range(4):  # then four more people within one day (nine in all: the phone cap is 10)
        at = t0 + 40 * DAY_SECONDS + i * 3600
        index.add_application(f"t{i}", [phone], AppMeta(member_id="m1", received_at=at, person=f"q{i}"))
    burst = summarize(index, "s0")
    assert burst is not None and burst.max_persons_per_device_or_phone == 4
    # The same person twice in the window counts once.
    index.add_application("t9", [phone], AppMeta(member_id="m1", received_at=t0 + 40 * DAY_SECONDS, person="q0"))
    again = summarize(index, "s0")
    assert again is not None and again.max_persons_per_device_or_phone == 4


def reference_score(summary: RingSummary, config: ScoringConfig) -> RingScore:
    """score_ring as first written: each factor's Weight.strength, NamedTuple factors."""
    facts = _facts(summary)
    if summary.size < 2:
        factors = [Factor(name, value, 0.0, f"single application, not a ring; {why}") for name, value, _, why in facts]
        return RingScore(summary.ring_id, 0.0, tuple(factors))
    logs = [-math.log1p(-getattr(config, name).strength(excess)) for name, _, excess, _ in facts]
    total = sum(logs)
    score = -math.expm1(-total)
    factors = [
        Factor(name, value, score * log / total if total > 0 else 0.0, why)
        for (name, value, _, why), log in zip(facts, logs, strict=True)
    ]
    factors.sort(key=lambda factor: -factor.contribution)
    return RingScore(summary.ring_id, score, tuple(factors))


@settings(max_examples=400, deadline=None)
@given(summary=summaries, muted=st.sampled_from([None, *FACTORS]))
def test_score_ring_is_the_reference_bit_for_bit(summary: RingSummary, muted: str | None) -> None:
    """Same floats, same factor order (ties included: a muted factor and the zero ones)."""
    config = ScoringConfig() if muted is None else dataclasses.replace(ScoringConfig(), **{muted: Weight(0.0, 1.0)})
    got, want = score_ring(summary, config), reference_score(summary, config)
    assert got == want and all(type(f) is Factor for f in got.factors)
    assert [name for name, *_ in _facts(summary)] == list(FACTORS)
