"""Who may do what on the node API (seed 002's roles), and the interceptor that enforces it.

Callers present a JWT from the lender's own identity provider (EdDSA, audience
``lianfang-node``); its ``role`` claim is checked against ``ALLOWED_ROLES`` for every method.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.errors import PermissionDenied, Unauthenticated
from runtime.interceptors import (
    OPEN_PREFIXES,
    Behavior,
    UnaryWrappingInterceptor,
    Wrapper,
    current_call,
    metadata_value,
    refuse_unlisted,
)

NODE_AUDIENCE = "lianfang-node"
MAX_LIFETIME_SECONDS = 3600

CUSTOMER = "customer"
CUSTOMER_MANAGER = "customer_manager"
CREDIT_APPROVER = "credit_approver"
RISK_MANAGER = "risk_manager"
DISBURSEMENT_REVIEWER = "disbursement_reviewer"
POST_LOAN_OFFICER = "post_loan_officer"
SYSTEM_ADMIN = "system_admin"
ROLES = frozenset(
    {CUSTOMER, CUSTOMER_MANAGER, CREDIT_APPROVER, RISK_MANAGER, DISBURSEMENT_REVIEWER, POST_LOAN_OFFICER, SYSTEM_ADMIN}
)
_STAFF = frozenset({CUSTOMER_MANAGER, CREDIT_APPROVER, RISK_MANAGER, DISBURSEMENT_REVIEWER, POST_LOAN_OFFICER})

CREDIT_APPROVERS, DISBURSEMENT_REVIEWERS = "credit-approvers", "disbursement-reviewers"
ROLE_QUEUES = {CREDIT_APPROVER: CREDIT_APPROVERS, DISBURSEMENT_REVIEWER: DISBURSEMENT_REVIEWERS}
"""The shared task queue of a role: its tasks are assigned to the queue, not to a person."""

_LOAN = "/lianfang.v1.LoanService/"
_MONITORING = "/lianfang.v1.MonitoringService/"
_OUTBOX = "/lianfang.v1.OutboxService/"
_MARKERS = "/lianfang.v1.MarkerService/"
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "/lianfang.v1.OriginationService/Screen": frozenset({CUSTOMER_MANAGER, RISK_MANAGER}),
    _LOAN + "ListProducts": ROLES,  # the terms on offer: every front end and desk shows them
    _LOAN + "SubmitApplication": frozenset({CUSTOMER, CUSTOMER_MANAGER}),
    _LOAN + "GetApplication": frozenset({CUSTOMER}) | _STAFF,
    _LOAN + "ListTasks": _STAFF,  # includes post-loan risk-check tasks
    _LOAN + "SubmitDueDiligence": frozenset({CUSTOMER_MANAGER}),
    _LOAN + "DecideReferral": frozenset({CREDIT_APPROVER}),
    _LOAN + "GetContract": frozenset({CUSTOMER, CUSTOMER_MANAGER, CREDIT_APPROVER}),
    _LOAN + "SendSigningCode": frozenset({CUSTOMER}),
    _LOAN + "SignContract": frozenset({CUSTOMER}),
    _LOAN + "RequestDrawdown": frozenset({CUSTOMER}),
    _LOAN + "ReviewDisbursement": frozenset({DISBURSEMENT_REVIEWER}),
    _LOAN + "GetLoan": frozenset({CUSTOMER, CUSTOMER_MANAGER, RISK_MANAGER, POST_LOAN_OFFICER}),
    _LOAN + "ConfirmFraud": frozenset({RISK_MANAGER}),
    _MONITORING + "RunMonitoring": frozenset({POST_LOAN_OFFICER, SYSTEM_ADMIN}),
    _MONITORING + "ListPostLoanAlerts": frozenset({CUSTOMER_MANAGER, RISK_MANAGER, POST_LOAN_OFFICER}),
    _MONITORING + "RecordDisposition": frozenset({CUSTOMER_MANAGER, POST_LOAN_OFFICER, RISK_MANAGER}),
    _MONITORING + "RepayLoan": frozenset({POST_LOAN_OFFICER}),
    _MONITORING + "GetKpis": frozenset({RISK_MANAGER, POST_LOAN_OFFICER, SYSTEM_ADMIN}),
    _OUTBOX + "ListOutbox": frozenset({SYSTEM_ADMIN, RISK_MANAGER}),
    _OUTBOX + "RetryOutbox": frozenset({SYSTEM_ADMIN}),
    _OUTBOX + "DiscardOutbox": frozenset({SYSTEM_ADMIN}),
    _MARKERS + "ListMarkers": frozenset({RISK_MANAGER}),
    _MARKERS + "WithdrawMarker": frozenset({RISK_MANAGER}),  # as ConfirmFraud files them
    _MARKERS + "DisputeMarker": frozenset({CUSTOMER_MANAGER, RISK_MANAGER}),  # the borrower's own complaint
    _MARKERS + "ListDisputes": frozenset({CUSTOMER_MANAGER, RISK_MANAGER}),  # the answer to give them
    _MARKERS + "GetBorrowerRecords": frozenset({CUSTOMER_MANAGER, RISK_MANAGER}),  # a borrower's access request
}


class RoleInterceptor(UnaryWrappingInterceptor):
    def __init__(self, identity_provider_key: bytes) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(identity_provider_key)

    def _claims(self, header: str | None) -> tuple[str, str]:
        if not header or header[:7].lower() != "bearer ":
            raise Unauthenticated("missing bearer token in 'authorization' metadata")
        try:
            claims = jwt.decode(
                header[7:],
                self._key,
                algorithms=["EdDSA"],
                audience=NODE_AUDIENCE,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME_SECONDS or claims["exp"] < time.time() - 5:
            raise Unauthenticated("token lifetime too long")
        subject = claims["sub"]
        if not isinstance(subject, str) or not any(c.isalnum() for c in subject):  # ownership rests on it
            raise Unauthenticated("invalid token: the subject (sub) must name the caller")
        role = claims.get("role")
        if role not in ROLES:
            raise PermissionDenied("token carries no known role")
        return subject, str(role)

    def wrapper(self, method: str) -> Wrapper | None:
        allowed = ALLOWED_ROLES.get(method)
        if allowed is None:  # health and reflection are open; a method missing from the table is refused
            return None if method.startswith(OPEN_PREFIXES) else refuse_unlisted
        claims = self._claims
        who = ", ".join(sorted(allowed))

        def around(behavior: Behavior) -> Behavior:
            async def authorised(request: Any, context: grpc.aio.ServicerContext) -> Any:
                subject, role = claims(metadata_value(context, "authorization"))
                call = current_call()
                call.principal, call.role = subject, role
                if role not in allowed:
                    raise PermissionDenied(f"role {role} may not call {method.rsplit('/', 1)[-1]} (it is for: {who})")
                return await behavior(request, context)

            return authorised

        return around
