"""Machinery shared by the provider simulators: settings, seeded randomness, fault injection.

Everything random is drawn from a hash of (settings seed, source name, purpose, applicant key), so
the same applicant gets the same answer, latency and injected fault on every run and every node,
and changing one source's rates never changes another source's values.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from node.sources.base import DataSource, Features, FeatureValue, SourceError, SourceRequest, SourceStatus
from node.sources.overrides import ScenarioEntry, Scenarios


@dataclass(frozen=True)
class SimulatorSettings:
    """How a simulated provider behaves; rates are fractions of applicants, not of calls."""

    latency_ms: float = 80.0
    jitter_ms: float = 40.0
    """Extra latency, uniform in [0, jitter_ms), fixed per applicant."""
    timeout_rate: float = 0.0
    """Share of applicants for whom the provider hangs (past any sensible deadline)."""
    failure_rate: float = 0.0
    """Share of applicants for whom the provider answers with an error."""
    seed: int = 0
    """Shifts the simulated population; keep it equal across sources so they describe one applicant."""
    hang_ms: float = 30_000.0
    """How long a "timed-out" provider sleeps before its own client gives up (TimeoutError)."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.hang_ms < 0:
            raise ValueError("latency_ms, jitter_ms and hang_ms must not be negative")
        if not (0 <= self.timeout_rate <= 1 and 0 <= self.failure_rate <= 1):
            raise ValueError("timeout_rate and failure_rate must be between 0 and 1")
        if self.timeout_rate + self.failure_rate > 1:
            raise ValueError("timeout_rate + failure_rate must not exceed 1")


def seeded_rng(seed: int, *parts: str) -> random.Random:
    """A generator that depends only on its inputs (not on PYTHONHASHSEED or the process)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def poisson(rng: random.Random, lam: float) -> int:
    """Small-mean Poisson draw (Knuth): counts of overdue loans, lawsuits, queries."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


_MEDIAN_REVENUE = {"catering": 1_200_000.0, "software": 3_000_000.0, "manufacturing": 4_000_000.0}
_REVENUE_PER_STAFF = {"catering": 150_000.0, "software": 250_000.0, "manufacturing": 300_000.0}
_KIND_SCALE = {"company": 1.0, "individual_business": 0.6, "person": 0.3}


@dataclass(frozen=True)
class Profile:
    """The simulated truth about an applicant, shared by all sources so their answers agree.

    Tax-based revenue, settlement flows and staff all derive from ``revenue``; bad signals in
    every source (overdues, lawsuits, device risk) grow with ``risk``.
    """

    revenue: float
    """Annual turnover in yuan."""
    years: float
    """Years in business."""
    risk: float
    """Latent riskiness in [0, 1], skewed low: most applicants are fine."""
    staff: int


def applicant_profile(request: SourceRequest, seed: int) -> Profile:
    """The applicant's simulated truth (independent of the source asking)."""
    rng = seeded_rng(seed, "profile", request.applicant_key)
    median = _MEDIAN_REVENUE.get(request.industry, 2_000_000.0) * _KIND_SCALE[request.applicant_kind]
    revenue = median * math.exp(rng.gauss(0.0, 0.6))
    years = round(0.5 + rng.expovariate(1 / 5.0), 1)
    risk = rng.betavariate(1.2, 5.0)
    if request.applicant_kind == "company":
        staff = max(1, round(revenue / _REVENUE_PER_STAFF.get(request.industry, 200_000.0)))
    else:
        staff = rng.randint(1, 8)
    return Profile(revenue=revenue, years=years, risk=risk, staff=staff)


class Simulator(DataSource):
    """Base of the shipped simulators: a stand-in for a real provider, clearly not one.

    Subclasses only draw features (``simulate``); latency, injected faults and scenario
    overrides are handled here so every simulator behaves alike.
    """

    def __init__(self, settings: SimulatorSettings | None = None, scenarios: Scenarios | None = None) -> None:
        self.settings = settings or SimulatorSettings()
        self.scenarios: Scenarios = scenarios or {}

    def _rng(self, purpose: str, key: str) -> random.Random:
        return seeded_rng(self.settings.seed, self.name, purpose, key)

    def fault(self, applicant_key: str) -> SourceStatus:
        """The injected outcome for this applicant: the same on every run."""
        u = self._rng("fault", applicant_key).random()
        if u < self.settings.timeout_rate:
            return "timeout"
        if u < self.settings.timeout_rate + self.settings.failure_rate:
            return "error"
        return "ok"

    def latency_s(self, applicant_key: str) -> float:
        jitter = self._rng("latency", applicant_key).random() * self.settings.jitter_ms
        return (self.settings.latency_ms + jitter) / 1000

    def _entry(self, applicant_key: str) -> ScenarioEntry | None:
        return self.scenarios.get(applicant_key, {}).get(self.name)

    async def fetch(self, request: SourceRequest) -> Features:
        key = request.applicant_key
        entry = self._entry(key)
        outcome = entry.outcome if entry is not None and entry.outcome else self.fault(key)
        if outcome == "timeout":
            await asyncio.sleep(self.settings.hang_ms / 1000)  # the runner's deadline cuts this short
            raise TimeoutError
        await asyncio.sleep(self.latency_s(key))
        if outcome == "error":
            raise SourceError("PROVIDER_UNAVAILABLE", f"{self.name} simulator: injected failure")
        profile = applicant_profile(request, self.settings.seed)
        features = dict(self.simulate(request, profile, self._rng("features", key)))
        if entry is not None:
            features.update(entry.features)
        return features

    @abc.abstractmethod
    def simulate(self, request: SourceRequest, profile: Profile, rng: random.Random) -> Mapping[str, FeatureValue]:
        """Plausible features for this applicant, drawn from ``profile`` and ``rng`` only."""
