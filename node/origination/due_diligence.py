"""Stage 2 — offline due diligence: who goes, what they check, and the second scoring.

The field findings (三表 water/electricity/customs, 三流 people/goods/cash, dated and geotagged
photos, a soft assessment) are scored 0-100; the score scales the pre-credit limit into the
final limit, or sends the case to a credit approver when the evidence is weak.
"""

from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.config import ConfigError

DEFAULT_MANAGERS = Path(__file__).resolve().parent.parent / "managers.toml"
PHOTO_MAX_AGE_SECONDS = 30 * 86_400


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
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"managers file {path}: {exc}") from None
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


def _steady(bills: list[int]) -> bool:
    """Three positive months that vary by less than half their mean: the business is running."""
    return len(bills) >= 3 and min(bills) > 0 and statistics.pstdev(bills) < 0.5 * statistics.mean(bills)


def score_findings(findings: Any, features: dict[str, Any], now: float) -> DueDiligenceResult:
    """Second scoring of a visit. ``findings`` is a lianfang.v1.DueDiligenceFindings."""
    score = 0.0
    reasons: list[str] = []
    if _steady(list(findings.electricity_fen)):
        score += 15
    else:
        reasons.append("DD_ELECTRICITY_IRREGULAR")
    if _steady(list(findings.water_fen)) or _steady(list(findings.customs_fen)):
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
    fresh = [
        p
        for p in findings.photos
        if p.sha256 and (p.latitude or p.longitude) and now - p.taken_at.seconds <= PHOTO_MAX_AGE_SECONDS
    ]
    if len(fresh) >= 3:
        score += 15
    else:
        reasons.append("DD_PHOTO_EVIDENCE_INSUFFICIENT")
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
