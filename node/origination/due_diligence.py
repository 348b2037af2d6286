"""Stage 2 — offline due diligence: who goes, what they check, and the second scoring.

The field findings (三表 water/electricity/customs, 三流 people/goods/cash, dated and geotagged
photos, a soft assessment) are scored 0-100; the score scales the pre-credit limit into the
final limit, or sends the case to a credit approver when the evidence is weak.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.config import ConfigError
from runtime.errors import FieldViolation, InvalidArgument
from runtime.identifier_text import MAX_STATEMENT_CHARS, check_free_text
from runtime.toml_file import file_error, read_toml_file

DEFAULT_MANAGERS = Path(__file__).resolve().parent.parent / "managers.toml"
PHOTO_MAX_AGE_SECONDS = 30 * 86_400
"""A photo older than this is no evidence of the visit, however long the task has been open."""
PHOTO_LEAD_SECONDS = 86_400
"""How long before its task was opened a photo may be taken and still count: a manager who
submits the application at the shop on the borrower's behalf photographs it before the task
exists. Anything earlier is no evidence of this visit."""
PHOTO_CLOCK_SKEW_SECONDS = 300
"""How far ahead of the node's clock a camera's may run: a photo dated later is refused."""
MAX_PHOTOS = 50
"""Photos per visit (their digests are kept with the decision)."""
PHOTO_SITE_METRES = 500.0
"""The photos of one visit are of one business: no two further apart than this."""
MIN_PHOTO_SUBJECTS = 3
"""Distinct subjects (signboard, kitchen, dining area…) the photo evidence needs."""
MIN_BILL_FEN = 5_000
MIN_BILL_SHARE_OF_FLOW = 0.002
"""A month's utility bill of a running business: at least 50 yuan, and at least 0.2 % of its
monthly settlement flow (a restaurant with 120,000 yuan a month pays thousands for power)."""
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Manager:
    id: str
    name: str
    localities: tuple[str, ...]
    industries: tuple[str, ...]


@dataclass(frozen=True)
class FieldTeam:
    managers: tuple[Manager, ...]
    checklists: dict[str, tuple[str, ...]]

    def checklist(self, industry: str) -> tuple[str, ...]:
        return self.checklists.get(industry) or self.checklists.get("default", ())

    def assign(self, locality: str, industry: str, open_tasks: dict[str, int]) -> Manager:
        """属地原则 first, 行业专长 second, then the lightest workload; never fails if anyone exists."""

        def rank(m: Manager) -> tuple[int, int, int, str]:
            return (locality not in m.localities, industry not in m.industries, open_tasks.get(m.id, 0), m.id)

        return min(self.managers, key=rank)


def load_field_team(path: str | Path = DEFAULT_MANAGERS) -> FieldTeam:
    data = read_toml_file(Path(path), file_error("managers file"))
    managers = []
    for i, m in enumerate(data.get("managers", [])):
        try:
            managers.append(Manager(m["id"], m["name"], tuple(m["localities"]), tuple(m["industries"])))
        except KeyError as exc:
            raise ConfigError(f"managers[{i}]: missing {exc.args[0]}") from None
    if not managers:
        raise ConfigError(f"managers file {path}: no [[managers]]")
    checklists = {k: tuple(v) for k, v in data.get("checklists", {}).items()}
    return FieldTeam(tuple(managers), checklists)


@dataclass(frozen=True)
class DueDiligenceResult:
    score: float
    factor: float  # final limit = pre-credit × factor; 0 → refer to a credit approver
    reasons: tuple[str, ...]


def _steady(bills: list[int], floor_fen: float = 1) -> bool:
    """Three months of at least ``floor_fen`` that vary by less than half their mean: the
    business is running (bills of 1 fen a month are not a running business)."""
    return (
        len(bills) >= 3 and min(bills) >= max(floor_fen, 1) and statistics.pstdev(bills) < 0.5 * statistics.mean(bills)
    )


def _bill_floor(features: dict[str, Any]) -> float:
    flow = features.get("flow_monthly_avg")
    share = MIN_BILL_SHARE_OF_FLOW * flow * 100 if isinstance(flow, int | float) and flow > 0 else 0
    return max(MIN_BILL_FEN, share)


def _one_site(photos: list[Any]) -> bool:
    """No two photos further apart than PHOTO_SITE_METRES (two sites 900 m apart are not one)."""
    return all(
        _metres(a.latitude, a.longitude, b.latitude, b.longitude) <= PHOTO_SITE_METRES
        for i, a in enumerate(photos)
        for b in photos[i + 1 :]
    )


def _subject(text: str) -> str:
    """A photo's subject as compared: letters only, one case ("Signboard." is "signboard")."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(min(1.0, a)))


def _taken_at(photo: Any) -> float:
    return float(photo.taken_at.seconds) + photo.taken_at.nanos / 1e9


def validate_findings(findings: Any, now: float) -> None:
    """Refuses findings no visit could have produced, every violation named, before anything is
    scored or stored (a gamed photo would raise the final limit): a photo digest that is no
    SHA-256, a position off the globe, a photo undated or dated in the future (beyond the clock
    skew), the same image twice; notes over MAX_STATEMENT_CHARS or holding what looks like a
    personal identifier (free text, as everywhere else). ``findings``: a DueDiligenceFindings."""
    v: list[FieldViolation] = []
    if not 1 <= findings.soft_assessment <= 5:
        v.append(FieldViolation("findings.soft_assessment", "must be 1 (poor) to 5 (excellent)"))
    if len(findings.photos) > MAX_PHOTOS:
        v.append(FieldViolation("findings.photos", f"at most {MAX_PHOTOS} photos"))
    else:
        first: dict[str, int] = {}  # digest -> index of the photo that has it
        for i, photo in enumerate(findings.photos):
            path = f"findings.photos[{i}]"
            if not _SHA256_HEX.fullmatch(photo.sha256):
                v.append(FieldViolation(f"{path}.sha256", "the image's SHA-256 digest: 64 hexadecimal characters"))
            elif photo.sha256.lower() in first:
                v.append(
                    FieldViolation(
                        f"{path}.sha256", f"the same image as findings.photos[{first[photo.sha256.lower()]}]"
                    )
                )
            else:
                first[photo.sha256.lower()] = i
            if not -90 <= photo.latitude <= 90:  # NaN too
                v.append(FieldViolation(f"{path}.latitude", "degrees within -90..90"))
            if not -180 <= photo.longitude <= 180:
                v.append(FieldViolation(f"{path}.longitude", "degrees within -180..180"))
            if not photo.HasField("taken_at"):
                v.append(FieldViolation(f"{path}.taken_at", "when the photo was taken is required"))
            elif _taken_at(photo) > now + PHOTO_CLOCK_SKEW_SECONDS:
                v.append(FieldViolation(f"{path}.taken_at", "is in the future"))
    check_free_text(findings.notes, "findings.notes", v, max_chars=MAX_STATEMENT_CHARS)
    if v:
        raise InvalidArgument(v)


def score_findings(findings: Any, features: dict[str, Any], now: float, *, opened_at: float) -> DueDiligenceResult:
    """Second scoring of a visit. ``findings`` is a lianfang.v1.DueDiligenceFindings (checked by
    :func:`validate_findings`); ``opened_at``: when its task was opened.

    A photo counts as evidence of this visit when it is geotagged and was taken from
    PHOTO_LEAD_SECONDS before the task was opened (and within the last PHOTO_MAX_AGE_SECONDS)
    up to now (plus the clock skew); an image counts once."""
    score = 0.0
    reasons: list[str] = []
    floor = _bill_floor(features)
    if _steady(list(findings.electricity_fen), floor):
        score += 15
    else:
        reasons.append("DD_ELECTRICITY_IRREGULAR")
    if _steady(list(findings.water_fen), MIN_BILL_FEN) or _steady(list(findings.customs_fen), MIN_BILL_FEN):
        score += 10
    else:
        reasons.append("DD_WATER_OR_CUSTOMS_IRREGULAR")
    if findings.peak_customers_per_hour > 0 or list(findings.customs_fen):
        score += 10
    if findings.purchase_records_consistent:
        score += 15
    else:
        reasons.append("DD_GOODS_FLOW_INCONSISTENT")
    bank_flow = features.get("flow_monthly_avg")
    if isinstance(bank_flow, int | float) and bank_flow > 0:
        ratio = findings.monthly_wallet_receipts_fen / 100 / bank_flow
        score += 15 if ratio >= 0.2 else 8 if ratio > 0 else 0
    since = max(opened_at - PHOTO_LEAD_SECONDS, now - PHOTO_MAX_AGE_SECONDS)
    fresh = {
        p.sha256.lower(): p
        for p in findings.photos
        if _SHA256_HEX.fullmatch(p.sha256)
        and (p.latitude or p.longitude)
        and since <= _taken_at(p) <= now + PHOTO_CLOCK_SKEW_SECONDS
    }
    subjects = {_subject(p.subject) for p in fresh.values()} - {""}
    if len(fresh) < 3 or len(subjects) < MIN_PHOTO_SUBJECTS:
        reasons.append("DD_PHOTO_EVIDENCE_INSUFFICIENT")
    elif not _one_site(list(fresh.values())):
        reasons.append("DD_PHOTO_LOCATIONS_SCATTERED")
    else:
        score += 15
    score += 4 * max(0, min(5, findings.soft_assessment))
    if score >= 85:
        factor = 1.5
    elif score >= 70:
        factor = 1.0
    elif score >= 55:
        factor = 0.9
    else:
        factor = 0.0
        reasons.append("DD_SCORE_LOW")
    return DueDiligenceResult(round(score, 1), factor, tuple(reasons))
