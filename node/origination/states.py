"""The application state machine. Every transition is stored with actor, time and reason;
anything not listed here is refused with FAILED_PRECONDITION."""

from __future__ import annotations

from runtime.errors import FailedPrecondition

SUBMITTED = "submitted"
DUE_DILIGENCE = "due_diligence"  # stage 2: a customer manager's field visit
REFERRED = "referred"  # waiting for a credit approver
APPROVED = "approved"
DECLINED = "declined"
SIGNED = "signed"  # stage 3: contract signed by the borrower
FUNDED = "funded"  # at least one drawdown disbursed
FRAUD_CONFIRMED = "fraud_confirmed"  # a risk manager confirmed fraud; reported to the hub
EXPIRED = "expired"  # approved, but not signed by the contract's sign-by date: apply again

ALLOWED: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({APPROVED, DECLINED, REFERRED, DUE_DILIGENCE, FRAUD_CONFIRMED}),
    DUE_DILIGENCE: frozenset({APPROVED, DECLINED, REFERRED, FRAUD_CONFIRMED}),
    REFERRED: frozenset({APPROVED, DECLINED, FRAUD_CONFIRMED}),
    APPROVED: frozenset({SIGNED, EXPIRED, FRAUD_CONFIRMED}),
    SIGNED: frozenset({FUNDED, FRAUD_CONFIRMED}),
    FUNDED: frozenset({FUNDED, FRAUD_CONFIRMED}),
    DECLINED: frozenset({FRAUD_CONFIRMED}),
    EXPIRED: frozenset({FRAUD_CONFIRMED}),
    FRAUD_CONFIRMED: frozenset(),
}


def check_transition(current: str, new: str) -> None:
    if new not in ALLOWED.get(current, frozenset()):
        raise FailedPrecondition(f"application is {current}; it cannot become {new}")
