"""Who may call what: the one table every RPC of the hub is authorised against.

Scopes and finer roles arrive with the security issue; the table is where they slot in.
"""

from __future__ import annotations

from enum import Enum


class Caller(Enum):
    MEMBER = "member"  # an ACTIVE member, JWT signed by its registered key
    ADMIN = "admin"  # a configured consortium admin
    ANALYST = "analyst"  # a configured fraud analyst: reads the link graph, nothing else


_CONSORTIUM = "/lianfang.v1.ConsortiumService/"
_ADMIN = "/lianfang.v1.AdminService/"
_ANALYST = "/lianfang.v1.AnalystService/"

REQUIRED_CALLER: dict[str, Caller] = {
    **{
        _CONSORTIUM + m: Caller.MEMBER
        for m in ("Check", "BatchCheck", "ReportOutcome", "FileMarker", "WithdrawMarker", "ListMyMarkers")
    },
    **{
        _ADMIN + m: Caller.ADMIN
        for m in (
            "RegisterMember",
            "ApproveMember",
            "SuspendMember",
            "ReinstateMember",
            "RevokeMember",
            "ListMembers",
        )
    },
    **{
        _ANALYST + m: Caller.ANALYST for m in ("GetRing", "ListRings", "GetNeighbourhood", "FindPath", "ExportSubgraph")
    },
}


def required_caller(method: str) -> Caller | None:
    """None for methods open to anyone (health, reflection)."""
    return REQUIRED_CALLER.get(method)
