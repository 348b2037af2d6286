"""The one interface every external data provider of the big-data pre-screen implements.

Seed 002, stage 1: the node calls business registry, tax (银税互动), settlement flows, personal and
enterprise credit bureau, judicial, anti-fraud and identity providers in parallel. A real provider
and a simulator implement the same ``DataSource``, so the pipeline cannot tell them apart.

Sources run inside the node, so ``SourceRequest`` carries raw identifiers; they must never reach
logs, error messages or anything sent to the hub.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FeatureValue = float | int | str | bool
"""Features are flat scalars so rule sets and scorecards can bin them directly."""

Features = Mapping[str, FeatureValue]

ApplicantKind = Literal["person", "individual_business", "company"]
APPLICANT_KINDS: tuple[ApplicantKind, ...] = ("person", "individual_business", "company")

SourceStatus = Literal["ok", "timeout", "error"]


@dataclass(frozen=True)
class SourceRequest:
    """What a provider needs to look an applicant up (raw identifiers: node-internal only)."""

    application_ref: str
    applicant_kind: ApplicantKind
    name: str
    uscc: str = ""
    resident_id: str = ""
    """The applicant's own ID when the applicant is a person."""
    legal_rep_resident_id: str = ""
    """Legal representative (company) or operator (individual business)."""
    phones: tuple[str, ...] = ()
    industry: str = ""
    """e.g. "catering", "software", "manufacturing"."""
    locality: str = ""
    """e.g. "shanghai-pudong"."""

    def __post_init__(self) -> None:
        if self.applicant_kind not in APPLICANT_KINDS:
            raise ValueError(f"applicant_kind must be one of {', '.join(APPLICANT_KINDS)}")
        if not self.applicant_key:
            raise ValueError("a source request needs a uscc, resident_id or legal_rep_resident_id")

    @property
    def applicant_key(self) -> str:
        """The identifier providers index the applicant by: the USCC of a business, else the ID.

        Simulators seed on it and scenario files are keyed by it.
        """
        if self.applicant_kind != "person" and self.uscc:
            return self.uscc.strip().upper()
        return (self.resident_id or self.legal_rep_resident_id or self.uscc).strip().upper()

    @property
    def person_id(self) -> str:
        """The natural person behind the application (for face checks, personal credit)."""
        return self.resident_id if self.applicant_kind == "person" else self.legal_rep_resident_id


class SourceError(Exception):
    """The provider answered with a refusal or failure (not a bug in the node).

    ``code`` is a short provider-level code (e.g. "PROVIDER_UNAVAILABLE"); neither it nor the
    message may contain applicant identifiers, because both are logged and shown to staff.
    """

    def __init__(self, code: str = "PROVIDER_FAILED", message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def failure_name(error: Exception) -> str:
    """What a log may say of a provider's failure: "deadline", its code, else the exception type
    (never the message: it may carry identifiers)."""
    if isinstance(error, TimeoutError):
        return "deadline"
    return error.code if isinstance(error, SourceError) else type(error).__name__


class DataSource(abc.ABC):
    """An external data provider: one lookup per application, features out.

    Implementations prefix feature names with their source (``tax_annual``, ``flow_months`` ...) so
    outcomes of all sources can be merged into one flat feature map. They raise ``SourceError`` when
    the provider refuses or fails; deadlines are enforced by the runner, not by the source.
    """

    name: str
    """Short lower-case name; appears in reason codes as ``SOURCE_TIMEOUT_<NAME>``."""

    @abc.abstractmethod
    async def fetch(self, request: SourceRequest) -> Features:
        """Look the applicant up and return its features."""


def reason_code(status: SourceStatus, source: str) -> str:
    """Reason code of a degraded source, e.g. ``SOURCE_TIMEOUT_TAX``; empty when ``ok``."""
    return "" if status == "ok" else f"SOURCE_{status.upper()}_{source.upper()}"


@dataclass(frozen=True)
class SourceOutcome:
    """What one source contributed to a pre-screen: features, or why there are none.

    A ``timeout`` or ``error`` outcome carries no features; the decision layer turns its
    ``reason_code`` into a referral instead of guessing the missing values.
    """

    name: str
    status: SourceStatus
    features: Features = field(default_factory=dict)
    elapsed_ms: float = 0.0
    reason_code: str = ""
    detail: str = ""
    """Provider code or exception type of a failure; never identifiers."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"
