"""Member lifecycle: PENDING → ACTIVE ⇄ SUSPENDED, any → REVOKED (terminal)."""

from __future__ import annotations

from dataclasses import dataclass

from lianfang.v1 import common_pb2

PENDING = common_pb2.MEMBER_STATUS_PENDING
ACTIVE = common_pb2.MEMBER_STATUS_ACTIVE
SUSPENDED = common_pb2.MEMBER_STATUS_SUSPENDED
REVOKED = common_pb2.MEMBER_STATUS_REVOKED


@dataclass(frozen=True)
class Transition:
    name: str
    allowed_from: frozenset[int]
    to: int


TRANSITIONS = {
    "approve": Transition("approve", frozenset({PENDING}), ACTIVE),
    "suspend": Transition("suspend", frozenset({ACTIVE}), SUSPENDED),
    "reinstate": Transition("reinstate", frozenset({SUSPENDED}), ACTIVE),
    "revoke": Transition("revoke", frozenset({PENDING, ACTIVE, SUSPENDED}), REVOKED),
}


def status_name(status: int) -> str:
    return common_pb2.MemberStatus.Name(status).removeprefix("MEMBER_STATUS_").lower()
