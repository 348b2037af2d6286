"""Blacklist marker rules: polarity, evidence, expiry, and how hits are summarised.

Negative markers count against an applicant; protective ones (victim of impersonation,
protective registration) protect the person and are always returned as PROTECTIVE. A marker
expires a configurable time after the event it records ended.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, consortium_pb2

from consortium.records import DAY, Marker, token_from_key, token_type_of
from runtime.errors import FieldViolation
from runtime.identifier_text import check_free_text, check_reason_code
from runtime.timestamps import to_timestamp

NEGATIVE = frozenset(
    {
        common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
        common_pb2.MARKER_TYPE_SUSPECT,
        common_pb2.MARKER_TYPE_COURT_DISHONEST,
    }
)
PROTECTIVE = frozenset({common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION, common_pb2.MARKER_TYPE_PROTECTIVE_REGISTRATION})


def _default_retention() -> dict[int, float | None]:
    return {
        **{t: 5.0 for t in NEGATIVE},
        **{t: 2.0 for t in PROTECTIVE},
    }


def years_after(at: float, years: float) -> float:
    """``at`` plus ``years`` on the calendar (UTC): the same date and time so many years later
    (29 February becomes the 28th), a fraction of a year as that share of 365.2425 days. Five
    times 365 days ended a marker a day early across a leap day."""
    whole = int(years)
    start = datetime.datetime.fromtimestamp(at, datetime.UTC)
    try:
        moved = start.replace(year=start.year + whole)
    except ValueError:  # 29 February in a common year
        moved = start.replace(year=start.year + whole, day=28)
    return moved.timestamp() + (years - whole) * 365.2425 * DAY


@dataclass(frozen=True)
class MarkerPolicy:
    """How long markers live, per marker type."""

    retention_years: Mapping[int, float | None] = field(default_factory=_default_retention)
    """Years after the event ends until a marker expires, on the calendar (None: never).
    Negative markers default to 5 years, protective ones to 2 years."""

    def expires_at(self, marker_type: int, event_ended_at: float) -> float | None:
        retention = self.retention_years.get(marker_type, 5.0)
        return None if retention is None else years_after(event_ended_at, retention)


def polarity(marker_type: int) -> int:
    if marker_type in PROTECTIVE:
        return common_pb2.MARKER_POLARITY_PROTECTIVE
    return common_pb2.MARKER_POLARITY_NEGATIVE


def validate_filing(request: consortium_pb2.FileMarkerRequest) -> list[FieldViolation]:
    """Marker-specific rules (the token itself is validated by the caller)."""
    violations = []
    if request.marker_type not in NEGATIVE | PROTECTIVE:
        violations.append(FieldViolation("marker_type", "must be a known marker type"))
    check_reason_code(request.reason_code, "reason_code", violations)
    if request.evidence_level not in common_pb2.EvidenceLevel.values():
        violations.append(FieldViolation("evidence_level", "unknown evidence level"))
    elif (
        request.marker_type == common_pb2.MARKER_TYPE_CONFIRMED_FRAUD
        and request.evidence_level == common_pb2.EVIDENCE_LEVEL_UNSPECIFIED
    ):
        violations.append(FieldViolation("evidence_level", "confirmed fraud requires an evidence level"))
    check_free_text(request.case_ref, "case_ref", violations, max_chars=128)
    return violations


def _ts(seconds: float | None) -> Timestamp | None:
    return None if seconds is None else to_timestamp(seconds)


def marker_status(marker: Marker, now: float, disputed: bool = False) -> int:
    if marker.withdrawn_at is not None:
        return common_pb2.MARKER_STATUS_WITHDRAWN
    if marker.expires_at is not None and marker.expires_at <= now:
        return common_pb2.MARKER_STATUS_EXPIRED
    return common_pb2.MARKER_STATUS_DISPUTED if disputed else common_pb2.MARKER_STATUS_ACTIVE


def marker_message(marker: Marker, now: float, disputed: bool = False) -> consortium_pb2.Marker:
    return consortium_pb2.Marker(
        marker_id=marker.marker_id,
        filer_member_id=marker.filer_member_id,
        token=token_from_key(marker.token_key),
        marker_type=marker.marker_type,
        polarity=polarity(marker.marker_type),
        reason_code=marker.reason_code,
        evidence_level=marker.evidence_level,
        status=marker_status(marker, now, disputed),
        filed_at=_ts(marker.filed_at),
        event_ended_at=_ts(marker.event_ended_at),
        expires_at=_ts(marker.expires_at),
        withdrawn_at=_ts(marker.withdrawn_at),
        case_ref=marker.case_ref,
        withdraw_reason=marker.withdraw_reason if marker.withdrawn_at is not None else "",
    )


def blacklist_answer(
    markers: Iterable[Marker], now: float, disputed: Callable[[str], bool] | None = None
) -> tuple[list[consortium_pb2.BlacklistHit], list[common_pb2.Reason]]:
    """Active markers grouped by (token type, marker type, reason code), each with a reason;
    ``disputed``: whether a marker is contested (labelled by an open dispute), counted per hit."""
    groups: dict[tuple[int, int, str], list[Marker]] = {}
    for m in markers:
        if m.is_active(now):
            groups.setdefault((token_type_of(m.token_key), m.marker_type, m.reason_code), []).append(m)
    hits: list[consortium_pb2.BlacklistHit] = []
    reasons: list[common_pb2.Reason] = []
    for (token_type, marker_type, reason_code), ms in sorted(groups.items()):
        filers = {m.filer_member_id for m in ms}
        evidence = max(m.evidence_level for m in ms)
        pol = polarity(marker_type)
        contested = sum(1 for m in ms if disputed(m.marker_id)) if disputed is not None else 0
        hits.append(
            consortium_pb2.BlacklistHit(
                token_type=token_type,
                marker_type=marker_type,
                polarity=pol,
                reason_code=reason_code,
                evidence_level=evidence,
                filing_members=len(filers),
                first_filed=_ts(min(m.filed_at for m in ms)),
                last_filed=_ts(max(m.filed_at for m in ms)),
                disputed_filings=contested,
            )
        )
        kind = common_pb2.MarkerType.Name(marker_type).removeprefix("MARKER_TYPE_")
        prefix = "PROTECTIVE" if pol == common_pb2.MARKER_POLARITY_PROTECTIVE else "BLACKLIST"
        reasons.append(
            common_pb2.Reason(
                code=f"{prefix}_{kind}",
                token_type=token_type,
                detail=(
                    f"{len(filers)} member(s) filed {kind.lower()} ({reason_code}), evidence "
                    f"{common_pb2.EvidenceLevel.Name(evidence).removeprefix('EVIDENCE_LEVEL_').lower()}"
                    + (f"; {contested} filing(s) disputed by the data subject" if contested else "")
                ),
            )
        )
    return hits, reasons
