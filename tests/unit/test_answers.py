"""Pure answer-building rules: stacking folding per type, marker grouping, polarity, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from lianfang.v1 import common_pb2 as c

from consortium.markers import MarkerPolicy, blacklist_answer, polarity
from consortium.records import DAY, HOUR, YEAR, Marker, TokenActivity, token_key
from consortium.stacking import stacking_answer

NOW = 1_800_000_000.0
PHONE_1 = token_key(1, c.TOKEN_TYPE_PHONE, 1, b"\x01" * 16)
PHONE_2 = token_key(1, c.TOKEN_TYPE_PHONE, 1, b"\x02" * 16)
RID = token_key(1, c.TOKEN_TYPE_RESIDENT_ID, 1, b"\x03" * 16)


def test_two_phones_union_members_and_take_busiest_application_count() -> None:
    activity = {
        PHONE_1: TokenActivity((1, 1, 1, 1, 1), {"b": NOW - 10, "me": NOW - 5}),
        PHONE_2: TokenActivity((0, 0, 2, 2, 3), {"b": NOW - 3 * DAY, "c": NOW - 2 * DAY, "d": NOW - 60 * DAY}),
        RID: TokenActivity((0, 0, 0, 0, 0), {"me": NOW - 1}),
    }
    stacking, reasons = stacking_answer([PHONE_1, PHONE_2, RID], activity, "me", NOW)
    assert [s.token_type for s in stacking] == [c.TOKEN_TYPE_RESIDENT_ID, c.TOKEN_TYPE_PHONE]
    phone = {w.window: (w.other_members, w.other_applications) for w in stacking[1].windows}
    assert phone == {
        c.WINDOW_1H: (1, 1),  # b (latest seen via phone 1), never "me"
        c.WINDOW_24H: (1, 1),
        c.WINDOW_7D: (2, 2),  # b, c
        c.WINDOW_30D: (2, 2),
        c.WINDOW_90D: (3, 3),  # b, c, d
    }
    assert [(r.code, r.token_type) for r in reasons] == [("STACKING_PHONE_1H", c.TOKEN_TYPE_PHONE)]
    assert "1 other member(s)" in reasons[0].detail


def _marker(
    mid: str,
    filer: str,
    mtype: int,
    *,
    evidence: int = 0,
    filed: float = NOW - DAY,
    expires: float | None = NOW + YEAR,
    withdrawn: float | None = None,
    reason: str = "X_REASON",
) -> Marker:
    return Marker(mid, filer, RID, mtype, reason, evidence, filed, filed, expires, withdrawn_at=withdrawn)


def test_blacklist_groups_filers_and_keeps_strongest_evidence() -> None:
    markers = [
        _marker("1", "a", c.MARKER_TYPE_CONFIRMED_FRAUD, evidence=c.EVIDENCE_LEVEL_DOCUMENTARY, filed=NOW - 9 * DAY),
        _marker("2", "b", c.MARKER_TYPE_CONFIRMED_FRAUD, evidence=c.EVIDENCE_LEVEL_COURT_JUDGMENT, filed=NOW - DAY),
        _marker("3", "b", c.MARKER_TYPE_CONFIRMED_FRAUD, evidence=c.EVIDENCE_LEVEL_DOCUMENTARY, filed=NOW - HOUR),
        _marker("4", "c", c.MARKER_TYPE_SUSPECT, withdrawn=NOW - HOUR),  # withdrawn: ignored
        _marker("5", "c", c.MARKER_TYPE_COURT_DISHONEST, expires=NOW - 1),  # expired: ignored
        _marker("6", "c", c.MARKER_TYPE_PROTECTIVE_REGISTRATION, reason="ASKED_BY_SUBJECT"),
    ]
    hits, reasons = blacklist_answer(markers, NOW)
    assert len(hits) == 2
    fraud, protective = hits
    assert fraud.marker_type == c.MARKER_TYPE_CONFIRMED_FRAUD
    assert fraud.filing_members == 2 and fraud.evidence_level == c.EVIDENCE_LEVEL_COURT_JUDGMENT
    assert fraud.first_filed.seconds == int(NOW - 9 * DAY) and fraud.last_filed.seconds == int(NOW - HOUR)
    assert protective.polarity == c.MARKER_POLARITY_PROTECTIVE
    assert [r.code for r in reasons] == ["BLACKLIST_CONFIRMED_FRAUD", "PROTECTIVE_PROTECTIVE_REGISTRATION"]


def test_polarity_and_default_expiry() -> None:
    assert polarity(c.MARKER_TYPE_VICTIM_OF_IMPERSONATION) == c.MARKER_POLARITY_PROTECTIVE
    assert polarity(c.MARKER_TYPE_COURT_DISHONEST) == c.MARKER_POLARITY_NEGATIVE
    policy = MarkerPolicy()

    def utc(text: str) -> float:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()

    ended = utc("2026-12-06T22:21:00")  # 5 and 2 years on the calendar, across the leap day of 2028
    assert policy.expires_at(c.MARKER_TYPE_SUSPECT, ended) == utc("2031-12-06T22:21:00")
    assert policy.expires_at(c.MARKER_TYPE_PROTECTIVE_REGISTRATION, ended) == utc("2028-12-06T22:21:00")
    leap = utc("2028-02-29T12:00:00")
    assert policy.expires_at(c.MARKER_TYPE_CONFIRMED_FRAUD, leap) == utc("2033-02-28T12:00:00")
    custom = MarkerPolicy({c.MARKER_TYPE_SUSPECT: 1.5, c.MARKER_TYPE_CONFIRMED_FRAUD: None})
    half_a_year = 0.5 * 365.2425 * DAY
    assert custom.expires_at(c.MARKER_TYPE_SUSPECT, ended) == pytest.approx(utc("2027-12-06T22:21:00") + half_a_year)
    assert custom.expires_at(c.MARKER_TYPE_CONFIRMED_FRAUD, ended) is None


def test_ring_answer_becomes_rule_features_and_fires_the_ring_rule() -> None:
    from lianfang.v1 import consortium_pb2

    from node.origination.consortium_features import consortium_features
    from node.rules import load_rules

    rules = load_rules()
    none = consortium_features(consortium_pb2.CheckResponse())
    assert (none["cs_ring_score"], none["cs_ring_members"], none["cs_ring_applications"]) == (0.0, 0, 0)
    ring = consortium_pb2.CheckResponse(ring=consortium_pb2.Ring(size=6, lenders=3, score=0.82))
    features = consortium_features(ring)
    assert (features["cs_ring_score"], features["cs_ring_members"], features["cs_ring_applications"]) == (0.82, 3, 6)
    fired = {hit.rule_id for hit in rules.evaluate(features)}
    assert "CS_RING" in fired
    two_lenders = consortium_features(
        consortium_pb2.CheckResponse(ring=consortium_pb2.Ring(size=6, lenders=2, score=0.9))
    )
    assert "CS_RING" not in {hit.rule_id for hit in rules.evaluate(two_lenders)}


def test_a_shared_identifier_adds_no_stacking_features() -> None:
    from lianfang.v1 import consortium_pb2

    from node.origination.consortium_features import consortium_features

    answer = consortium_pb2.CheckResponse()
    for token_type, shared in ((c.TOKEN_TYPE_PHONE, True), (c.TOKEN_TYPE_RESIDENT_ID, False)):
        stacking = answer.stacking.add(token_type=token_type, shared=shared)
        stacking.windows.add(window=c.WINDOW_24H, other_members=3, other_applications=4)
    features = consortium_features(answer)
    assert features["cs_stack_phone_24h_members"] == 0 and features["cs_shared_identifiers"] == 1
    assert features["cs_stack_resident_id_24h_members"] == 3


def test_an_answer_from_a_newer_or_faulty_hub_degrades_to_missing_features() -> None:
    """A token type or window this node does not know (a newer hub) is skipped, not a KeyError
    that fails the application; a ring score that is not a number is missing, not a verdict."""
    from lianfang.v1 import consortium_pb2

    from node.origination.consortium_features import consortium_features
    from node.rules import load_rules

    answer = consortium_pb2.CheckResponse(ring=consortium_pb2.Ring(size=6, lenders=3, score=float("nan")))
    unknown = answer.stacking.add(token_type=99)
    unknown.windows.add(window=c.WINDOW_24H, other_members=3, other_applications=4)
    known = answer.stacking.add(token_type=c.TOKEN_TYPE_PHONE)
    known.windows.add(window=99, other_members=5, other_applications=5)
    known.windows.add(window=c.WINDOW_24H, other_members=2, other_applications=2)
    features = consortium_features(answer)
    assert features["cs_ring_score"] is None and features["cs_stack_phone_24h_members"] == 2
    assert "CS_RING" not in {hit.rule_id for hit in load_rules().evaluate(features)}
