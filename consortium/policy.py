"""Who may call what: the one table every RPC of the hub is authorised against.

Every call carries an EdDSA JWT whose ``scope`` claim (space-separated, as in OAuth) lists what
it may do. An RPC needs exactly one scope (``REQUIRED_SCOPE``); a principal may only hold the
scopes of its kind (``KIND_SCOPES``): members query and contribute, admins administer, analysts
read the link graph, and members and admins audit the log. A test walks every RPC × every scope against a real hub.

Tokens whose scopes are all *reusable* (``query``, the hot path) may be presented many times
within their short life, bound to the member's client certificate when the hub runs mutual TLS.
Any other token is **single-use**: its ``jti`` is claimed in the store, so a replay is refused on
every hub replica.
"""

from __future__ import annotations

from enum import Enum

from runtime.interceptors import OPEN_PREFIXES


class Caller(Enum):
    """The kind of principal, from the JWT subject."""

    MEMBER = "member"  # an ACTIVE member, JWT signed by its registered key
    ADMIN = "admin"  # a configured consortium admin (sub admin/<name>)
    ANALYST = "analyst"  # a configured fraud analyst (sub analyst/<name>)


class Scope(Enum):
    QUERY = "query"  # ask the consortium (Check)
    CONTRIBUTE = "contribute"  # give to it (outcomes, markers)
    ADMIN = "admin"  # membership administration
    ANALYST = "analyst"  # explore the link graph
    AUDIT = "audit"  # check the audit log's signed heads and proofs


KIND_SCOPES: dict[Caller, frozenset[Scope]] = {
    Caller.MEMBER: frozenset({Scope.QUERY, Scope.CONTRIBUTE, Scope.AUDIT}),
    Caller.ADMIN: frozenset({Scope.ADMIN, Scope.AUDIT}),
    Caller.ANALYST: frozenset({Scope.ANALYST}),
}

REUSABLE_SCOPES = frozenset({Scope.QUERY})
"""A token carrying only these scopes may be reused until it expires; any other is single-use."""

_CONSORTIUM = "/lianfang.v1.ConsortiumService/"
_ADMIN = "/lianfang.v1.AdminService/"
_ANALYST = "/lianfang.v1.AnalystService/"
_AUDIT = "/lianfang.v1.AuditService/"
_CANARY = "/lianfang.v1.CanaryService/"

REQUIRED_SCOPE: dict[str, Scope] = {
    _CONSORTIUM + "Check": Scope.QUERY,
    _CONSORTIUM + "BatchCheck": Scope.QUERY,
    _CONSORTIUM + "ReportOutcome": Scope.CONTRIBUTE,
    _CONSORTIUM + "FileMarker": Scope.CONTRIBUTE,
    _CONSORTIUM + "WithdrawMarker": Scope.CONTRIBUTE,
    _CONSORTIUM + "ListMyMarkers": Scope.CONTRIBUTE,
    _CONSORTIUM + "RaiseDispute": Scope.CONTRIBUTE,
    _CONSORTIUM + "ListMyDisputes": Scope.CONTRIBUTE,  # as ListMyMarkers: the member's own
    _CONSORTIUM + "GetMyKeyEpochs": Scope.QUERY,  # a node needs its keys to query at all
    _CONSORTIUM + "LinkTokens": Scope.CONTRIBUTE,
    _CONSORTIUM + "RegisterWatch": Scope.CONTRIBUTE,  # post-loan: watch one's own borrower
    _CONSORTIUM + "UnregisterWatch": Scope.CONTRIBUTE,
    _CONSORTIUM + "Watch": Scope.QUERY,  # a long-lived stream, reopened often: a reusable token
    _CONSORTIUM + "AckAlerts": Scope.QUERY,
    **{
        _ADMIN + m: Scope.ADMIN
        for m in (
            "RegisterMember",
            "ApproveMember",
            "SuspendMember",
            "ReinstateMember",
            "RevokeMember",
            "RotateMemberKey",
            "ListMembers",
            "ListUsage",
            "SetMemberQuota",
            "OpenDispute",
            "ListDisputes",
            "ResolveDispute",
            "SetEncryptionKey",
            "CreateKeyEpoch",
            "GrantKeyEpoch",
            "RetireKeyEpoch",
            "ListKeyEpochs",
        )
    },
    **{_ANALYST + m: Scope.ANALYST for m in ("GetRing", "ListRings", "GetNeighbourhood", "FindPath", "ExportSubgraph")},
    **{
        _AUDIT + m: Scope.AUDIT
        for m in ("GetTreeHead", "GetConsistencyProof", "GetInclusionProof", "ListQueriesOnMyData", "SubjectAccess")
    },
    _AUDIT + "GetEntries": Scope.ADMIN,  # entries name members, references and tokens
    _CANARY + "PlantCanaries": Scope.ADMIN,
    _CANARY + "ListCanaryAlerts": Scope.ADMIN,
}


class Unlisted(Exception):
    """A method of ours missing from the table: a bug, refused rather than left open."""


def required_scope(method: str) -> Scope | None:
    """The method's scope; None for the open methods (health, reflection); Unlisted otherwise."""
    scope = REQUIRED_SCOPE.get(method)
    if scope is None and not method.startswith(OPEN_PREFIXES):
        raise Unlisted(method)
    return scope


def parse_scopes(claim: object) -> frozenset[Scope] | None:
    """The scopes of a ``scope`` claim ("query contribute"); None when malformed or unknown."""
    if not isinstance(claim, str) or not claim.strip():
        return None
    try:
        return frozenset(Scope(name) for name in claim.split())
    except ValueError:
        return None
