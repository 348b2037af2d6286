"""The feature catalogue: every name a rule or scorecard may read, with its type and meaning.

Rules are checked against it when they are loaded, so a misspelt feature or a comparison of a
number with a string is a load error rather than a rule that silently never fires. Features
starting with ``cs_`` are consortium answers (the hub's stacking, blacklist and ring answers);
rules reading them are consortium rules (see :mod:`node.rules.decision`).

A feature that is absent from the input mapping, or ``None``, is *missing*: the data source did
not answer (timeout, hub unreachable, no record). Missing-value semantics are defined by the
compiler and the scorecards, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

FeatureType = Literal["number", "integer", "boolean", "string"]
"""``number`` is int or float; ``boolean`` is a Python bool (an int, so it compares as 0/1)."""

FEATURE_TYPES: frozenset[str] = frozenset({"number", "integer", "boolean", "string"})
CONSORTIUM_PREFIX = "cs_"


class Feature(NamedTuple):
    type: FeatureType
    description: str


Catalogue = Mapping[str, Feature]
"""name → (type, description)."""

STACKING_TOKEN_TYPES: tuple[str, ...] = (
    "resident_id",
    "uscc",
    "phone",
    "email",
    "device_id",
    "ip",
    "ip_subnet",
    "bank_account",
    "address",
    "legal_rep",
)
"""Token types of the hub's stacking answer (``TokenType`` in common.proto, lower-cased)."""

STACKING_WINDOWS: tuple[str, ...] = ("1h", "24h", "7d", "30d", "90d")


def _stacking() -> dict[str, Feature]:
    features: dict[str, Feature] = {}
    for token in STACKING_TOKEN_TYPES:
        for window in STACKING_WINDOWS:
            features[f"cs_stack_{token}_{window}_members"] = Feature(
                "integer", f"other member lenders that saw this applicant's {token} in the last {window} (多头借贷)"
            )
            features[f"cs_stack_{token}_{window}_apps"] = Feature(
                "integer", f"applications at those other lenders with this {token} in the last {window}"
            )
    return features


CATALOGUE: dict[str, Feature] = {
    **_stacking(),
    # consortium: shared blacklist and rings
    "cs_blacklist_negative": Feature("integer", "negative markers (fraud, suspect, court dishonest) on any identifier"),
    "cs_blacklist_confirmed_fraud": Feature("integer", "CONFIRMED_FRAUD markers on any identifier"),
    "cs_blacklist_max_evidence": Feature("integer", "strongest evidence among negative markers (0 none … 4 court)"),
    "cs_blacklist_filing_members": Feature("integer", "distinct members that filed negative markers"),
    "cs_protective": Feature("boolean", "a protective marker exists (impersonation victim / protective registration)"),
    "cs_shared_identifiers": Feature(
        "integer", "phone/device/email/account types given by several different applicants (not stacking)"
    ),
    "cs_ring_score": Feature("number", "risk score 0..1 of the fraud ring linked to this application"),
    "cs_ring_members": Feature("integer", "distinct lenders in the linked ring"),
    "cs_ring_applications": Feature("integer", "applications in the linked ring"),
    # business registry (工商)
    "registry_abnormal": Feature("boolean", "listed in the abnormal-operations directory or not in normal status"),
    "registry_years": Feature("number", "years since registration"),
    # tax (银税互动)
    "tax_annual": Feature("number", "tax paid over the last 12 months, CNY"),
    # settlement account flows (结算流水)
    "flow_monthly_avg": Feature("number", "average monthly inflow over 12 months, CNY"),
    "flow_volatility": Feature("number", "coefficient of variation of monthly inflow"),
    "flow_avg_daily_balance": Feature("number", "average daily balance over 12 months, CNY"),
    # credit bureau (征信)
    "bureau_overdue_count": Feature("integer", "overdue records of the applicant in 24 months"),
    "bureau_queries_3m": Feature("integer", "loan-approval queries by other institutions in 3 months"),
    "enterprise_debt": Feature("number", "the enterprise's outstanding debt, CNY"),
    # judicial (司法)
    "judicial_dishonest": Feature("boolean", "on the court dishonest-debtor list (失信被执行人)"),
    "judicial_lawsuits": Feature("integer", "open lawsuits as defendant"),
    # anti-fraud / device
    "fraud_phone_tenure_months": Feature("number", "months the phone number has been registered to the applicant"),
    "fraud_device_risk": Feature("number", "device risk score 0..1 from the anti-fraud SDK"),
    "address_stability_years": Feature("number", "years at the current address"),
    # identity verification (人脸识别, 企业认证)
    "auth_face_match": Feature("boolean", "the face check of the applicant or legal representative passed"),
    "auth_licence_valid": Feature("boolean", "the business licence was verified"),
    # the application itself
    "amount_to_limit_ratio": Feature("number", "requested amount / pre-credit limit"),
    "requested_amount": Feature("number", "requested amount, CNY"),
    "collateral_value": Feature("number", "the pledged asset's value, CNY (0: none pledged)"),
    "applicant_age": Feature("integer", "age of the applicant (or legal representative) in years"),
    "applicant_kind": Feature("string", "person, individual_business or company"),
}


def is_consortium_feature(name: str) -> bool:
    """Consortium answers are the ``cs_`` features; rules reading them never decline on their own."""
    return name.startswith(CONSORTIUM_PREFIX)


def fits(feature: Feature, value: object) -> bool:
    """``value`` is of ``feature``'s declared type (a bool is not a number here, nor a number a
    bool): what a source may hand over and a categorical scorecard bin may list."""
    if feature.type == "boolean":
        return isinstance(value, bool)
    if feature.type == "string":
        return isinstance(value, str)
    if isinstance(value, bool):
        return False
    if feature.type == "integer":  # 2.0 from a JSON provider is a count of 2
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float)
