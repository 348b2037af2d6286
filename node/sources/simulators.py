"""Simulated external providers of the pre-screen (seed 002, stage 1) — not real data.

Each class stands in for one provider a bank would contract (business registry, 银税互动 tax
interface, the bank's own settlement ledger, the credit bureau, court records, an anti-fraud
vendor, a face / licence verification vendor). A real provider implements the same
``DataSource`` and replaces its simulator; nothing downstream changes.

Money is in yuan (int), durations in years (float) or months (int), ratios in [0, 1].
Features that do not apply to the applicant kind are omitted (a person has no business licence).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

from node.sources.base import DataSource, FeatureValue, SourceRequest
from node.sources.overrides import Scenarios, load_scenarios
from node.sources.simulation import Profile, Simulator, SimulatorSettings, chance, poisson

SEED_PERSONAS_FILE = str(Path(__file__).parent / "scenarios" / "seed_personas.toml")
"""Scenario file pinning the three applicants of seed 002 (see ``node.sources.personas``)."""

# Effective tax burden by industry: the tax interface estimates turnover as tax / rate.
_TAX_RATE = {"catering": 0.02, "software": 0.03, "manufacturing": 0.03}


def _is_business(request: SourceRequest) -> bool:
    return request.applicant_kind != "person"


class RegistrySimulator(Simulator):
    """Simulates the business registry (工商): status, abnormal-operations list, age, staff."""

    name = "registry"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        if not _is_business(request):
            return {}
        status = "normal"
        if chance(rng, 0.005 + 0.06 * profile.risk**2):
            status = rng.choice(("revoked", "cancelled"))
        return {
            "registry_status": status,
            "registry_abnormal": chance(rng, 0.01 + 0.3 * profile.risk**2),
            "registry_years": profile.years,
            "registry_staff": profile.staff,
            "registry_legal_rep_match": not chance(rng, 0.005 + 0.1 * profile.risk**2),
        }


class TaxSimulator(Simulator):
    """Simulates the 银税互动 tax interface: two years of filings, tax paid, turnover estimate."""

    name = "tax"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        if not _is_business(request):
            return {}
        rate = _TAX_RATE.get(request.industry, 0.025)
        estimate = round(profile.revenue * rng.uniform(0.85, 1.05), -3)
        if profile.years < 1:
            grade = "M"  # new taxpayer, not graded yet
        else:
            graded = profile.risk + rng.gauss(0.0, 0.08)
            grade = "A" if graded < 0.15 else "B" if graded < 0.4 else "C" if graded < 0.7 else "D"
        return {
            "tax_annual": int(round(estimate * rate, -2)),
            "tax_revenue_estimate": int(estimate),
            "tax_years_filed": 2 if profile.years >= 2 else 1,
            "tax_grade": grade,
            "tax_arrears": chance(rng, 0.01 + 0.3 * profile.risk**2),
        }


class SettlementFlowSimulator(Simulator):
    """Simulates the analysis of the applicant's settlement account at the lender (12 months)."""

    name = "flow"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        monthly = profile.revenue / 12 * rng.uniform(0.85, 1.15)
        drop = rng.gauss(0.0, 0.08) + (0.6 * profile.risk if chance(rng, profile.risk) else 0.0)
        return {
            "flow_months": max(1, min(12, int(profile.years * 12))),
            "flow_monthly_avg": int(round(monthly, -2)),
            "flow_avg_daily_balance": int(round(monthly * rng.uniform(0.08, 0.2) * (1 - 0.5 * profile.risk), -2)),
            "flow_volatility": round(0.08 + 0.5 * profile.risk + rng.uniform(0.0, 0.1), 3),
            "flow_drop_3m": round(min(1.0, max(0.0, drop)), 3),
            "flow_large_abnormal": chance(rng, 0.01 + 0.3 * profile.risk**2),
        }


class CreditBureauSimulator(Simulator):
    """Simulates the personal and enterprise credit bureau (征信) reports."""

    name = "bureau"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        loans = poisson(rng, 0.5 + 4 * profile.risk)
        features: dict[str, FeatureValue] = {
            "bureau_overdue_count": poisson(rng, 4 * profile.risk**2),
            "bureau_queries_3m": poisson(rng, 1 + 6 * profile.risk),
            "bureau_loans_outstanding": loans,
            "bureau_debt": int(round(sum(rng.uniform(20_000, 150_000) for _ in range(loans)), -3)),
        }
        if _is_business(request):
            borrows = chance(rng, 0.4 + 0.5 * profile.risk)
            debt = profile.revenue * rng.uniform(0.05, 0.5) * (0.5 + profile.risk) if borrows else 0.0
            features["enterprise_debt"] = int(round(debt, -3))
            features["enterprise_overdue_count"] = poisson(rng, 2 * profile.risk**2)
        return features


class JudicialSimulator(Simulator):
    """Simulates court records: lawsuits, enforcement cases, the dishonest-debtor list (失信)."""

    name = "judicial"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        return {
            "judicial_lawsuits": poisson(rng, 3 * profile.risk**2),
            "judicial_enforcement": poisson(rng, 1.5 * profile.risk**3),
            "judicial_dishonest": chance(rng, 0.003 + 0.25 * profile.risk**3),
        }


class AntiFraudSimulator(Simulator):
    """Simulates an anti-fraud vendor: phone real-name tenure, address stability, device risk."""

    name = "fraud"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        calm = 1 - 0.8 * profile.risk
        device = 0.6 * profile.risk + rng.gauss(0.05, 0.05)
        return {
            "fraud_phone_tenure_months": 1 + int(rng.uniform(3, 180) * calm),
            "fraud_phone_realname": not chance(rng, 0.005 + 0.2 * profile.risk**2),
            "address_stability_years": round(rng.uniform(0.3, 15.0) * calm, 1),
            "fraud_device_risk": round(min(1.0, max(0.0, device)), 3),
            "fraud_blacklist_hit": chance(rng, 0.002 + 0.3 * profile.risk**3),
        }


class IdentityVerificationSimulator(Simulator):
    """Simulates enterprise and person authentication: face match of the person, licence check."""

    name = "identity"

    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        impostor = chance(rng, 0.003 + 0.1 * profile.risk**2)
        score = rng.uniform(0.2, 0.6) if impostor else rng.uniform(0.85, 0.995)
        features: dict[str, FeatureValue] = {"auth_face_score": round(score, 3), "auth_face_match": score >= 0.8}
        if _is_business(request):
            features["auth_licence_valid"] = not chance(rng, 0.003 + 0.05 * profile.risk**2)
        return features


SIMULATOR_CLASSES: tuple[type[Simulator], ...] = (
    RegistrySimulator,
    TaxSimulator,
    SettlementFlowSimulator,
    CreditBureauSimulator,
    JudicialSimulator,
    AntiFraudSimulator,
    IdentityVerificationSimulator,
)
SOURCE_NAMES: tuple[str, ...] = tuple(c.name for c in SIMULATOR_CLASSES)


def default_sources(
    settings: Mapping[str, SimulatorSettings] | None = None, scenario_file: str | None = None
) -> list[DataSource]:
    """One simulator per source, with per-source settings and optional scenario overrides.

    ``settings`` is keyed by source name (``SOURCE_NAMES``); missing names get the defaults.
    Pass ``SEED_PERSONAS_FILE`` as ``scenario_file`` to pin the seed's personas.
    """
    settings = settings or {}
    unknown = set(settings) - set(SOURCE_NAMES)
    if unknown:
        raise ValueError(f"settings for unknown sources: {', '.join(sorted(unknown))}")
    scenarios: Scenarios = load_scenarios(scenario_file, SOURCE_NAMES) if scenario_file else {}
    return [cls(settings.get(cls.name), scenarios) for cls in SIMULATOR_CLASSES]
