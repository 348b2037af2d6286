"""The borrower's query authorisation (个人信息查询授权书) as the hub needs it: when it ends.

The hub refuses a Check whose authorisation has expired (DESIGN.md "Consent and purpose"). A
lender's front end may say when the signed authorisation ends; otherwise it is taken to last
``CONSENT_VALIDITY_SECONDS`` from the application.
"""

from __future__ import annotations

CONSENT_VALIDITY_SECONDS = 30 * 86_400.0


def consent_end(now: float, stated: float = 0.0) -> float:
    """When the authorisation ends: as stated by the caller, else 30 days from ``now``."""
    return stated or now + CONSENT_VALIDITY_SECONDS
