"""A visit's findings: what no visit could produce is refused with every field named, and only
photos taken for this visit count towards the photo evidence of the second scoring."""

from __future__ import annotations

import math

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import node_pb2

from node.origination.due_diligence import (
    MAX_PHOTOS,
    PHOTO_CLOCK_SKEW_SECONDS,
    PHOTO_LEAD_SECONDS,
    PHOTO_MAX_AGE_SECONDS,
    score_findings,
    validate_findings,
)
from runtime.errors import InvalidArgument
from tests.support.origination import GAMED_FIELDS, findings, game

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
FEATURES = {"flow_monthly_avg": 100_000}  # wallet receipts of 12,000 yuan: a ratio above 0.2


def refused(f: node_pb2.DueDiligenceFindings) -> list[str]:
    with pytest.raises(InvalidArgument) as err:
        validate_findings(f, NOW)
    return [v.field for v in err.value.violations]


def visit() -> node_pb2.DueDiligenceFindings:
    return findings(NOW, soft=3, consistent=True, wallet_yuan=12_000)  # photos taken an hour ago


def test_gamed_photos_and_oversized_notes_are_refused_field_by_field() -> None:
    assert refused(game(visit())) == GAMED_FIELDS


def test_each_photo_field_has_its_own_bounds() -> None:
    f = visit()
    f.photos[0].latitude = math.nan
    f.photos[1].ClearField("taken_at")
    f.photos[2].sha256 = "g" * 64
    f.soft_assessment = 6
    assert refused(f) == [
        "findings.soft_assessment",
        "findings.photos[0].latitude",
        "findings.photos[1].taken_at",
        "findings.photos[2].sha256",
    ]
    f = visit()
    f.photos[0].latitude, f.photos[0].longitude = -90.0, 180.0  # the edges are on the globe
    f.photos[1].taken_at.seconds = int(NOW) + PHOTO_CLOCK_SKEW_SECONDS  # a camera a little ahead
    validate_findings(f, NOW)
    del f.photos[:]
    for i in range(MAX_PHOTOS + 1):
        f.photos.add(sha256=f"{i:064x}", latitude=31.2, longitude=121.5, taken_at=Timestamp(seconds=int(NOW)))
    assert refused(f) == ["findings.photos"]


def test_notes_are_free_text_without_personal_identifiers() -> None:
    f = visit()
    f.notes = "老板电话 138-0013-8000, 店面整洁"
    assert refused(f) == ["findings.notes"]
    f.notes = "店面整洁, 客流稳定 " * 100  # 1,100 characters of ordinary notes
    validate_findings(f, NOW)


def photo_points(taken_at: float, opened_at: float) -> tuple[float, tuple[str, ...]]:
    f = visit()
    for p in f.photos:
        p.taken_at.seconds = int(taken_at)
    result = score_findings(f, FEATURES, NOW, opened_at=opened_at)
    return result.score, result.reasons


def test_only_photos_of_this_visit_count() -> None:
    fresh, reasons = photo_points(NOW - 3600, opened_at=NOW - 86_400)
    assert "DD_PHOTO_EVIDENCE_INSUFFICIENT" not in reasons
    # at the shop before the task existed (an assisted application): still this visit
    assert photo_points(NOW - 2 * 3600, opened_at=NOW - 3600)[0] == fresh
    for taken, opened in (
        (NOW - 86_400 - PHOTO_LEAD_SECONDS - 1, NOW - 86_400),  # before the case was opened
        (NOW - PHOTO_MAX_AGE_SECONDS - 1, NOW - 40 * 86_400),  # a task open for long: a month at most
        (NOW + 3600, NOW - 86_400),  # in the future (refused by validate_findings anyway)
    ):
        score, reasons = photo_points(taken, opened)
        assert (score, "DD_PHOTO_EVIDENCE_INSUFFICIENT" in reasons) == (fresh - 15, True)


def test_the_same_image_counts_once() -> None:
    f = visit()
    f.photos[1].sha256 = f.photos[2].sha256 = f.photos[0].sha256
    assert "DD_PHOTO_EVIDENCE_INSUFFICIENT" in score_findings(f, FEATURES, NOW, opened_at=NOW).reasons


def test_gamed_evidence_does_not_score() -> None:
    """A review's gamed visit (bills of 1 fen, three 'selfies' scattered over the Gulf of Guinea)
    scored like an honest one and raised the limit to 1.5 × the pre-credit limit."""
    honest = score_findings(visit(), FEATURES, NOW, opened_at=NOW)
    assert not {"DD_ELECTRICITY_IRREGULAR", "DD_PHOTO_EVIDENCE_INSUFFICIENT"} & set(honest.reasons)

    tiny = visit()
    tiny.electricity_fen[:] = [1, 1, 1]
    tiny.water_fen[:] = [1, 1, 1]
    reasons = score_findings(tiny, FEATURES, NOW, opened_at=NOW).reasons
    assert {"DD_ELECTRICITY_IRREGULAR", "DD_WATER_OR_CUSTOMS_IRREGULAR"} <= set(reasons)
    small_for_the_flows = visit()  # 60 yuan a month of power for 100,000 yuan a month of sales
    small_for_the_flows.electricity_fen[:] = [6_000, 6_100, 5_900]
    assert "DD_ELECTRICITY_IRREGULAR" in score_findings(small_for_the_flows, FEATURES, NOW, opened_at=NOW).reasons

    selfies = visit()
    for photo in selfies.photos:
        photo.subject = "selfie"
    assert "DD_PHOTO_EVIDENCE_INSUFFICIENT" in score_findings(selfies, FEATURES, NOW, opened_at=NOW).reasons

    scattered = visit()
    scattered.photos[2].latitude += 0.01  # about 1.1 km north of the other two
    result = score_findings(scattered, FEATURES, NOW, opened_at=NOW)
    assert "DD_PHOTO_LOCATIONS_SCATTERED" in result.reasons and result.score == honest.score - 15
    nearby = visit()
    nearby.photos[2].latitude += 0.002  # about 220 m: the back of the same shop
    assert score_findings(nearby, FEATURES, NOW, opened_at=NOW).score == honest.score


def test_one_site_means_no_two_photos_far_apart_and_subjects_are_compared_as_words() -> None:
    two_sites = visit()
    two_sites.photos.add().CopyFrom(two_sites.photos[0])
    two_sites.photos[3].sha256 = f"{99:064x}"
    for photo in two_sites.photos[2:]:
        photo.latitude += 0.0081  # two pairs about 900 m apart: each 450 m from their middle
    assert "DD_PHOTO_LOCATIONS_SCATTERED" in score_findings(two_sites, FEATURES, NOW, opened_at=NOW).reasons
    same_subject = visit()
    same_subject.photos[1].subject, same_subject.photos[2].subject = "Signboard.", " signboard "
    same_subject.photos[0].subject = "signboard"
    assert "DD_PHOTO_EVIDENCE_INSUFFICIENT" in score_findings(same_subject, FEATURES, NOW, opened_at=NOW).reasons
