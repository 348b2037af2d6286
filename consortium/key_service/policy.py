"""Who may call what on the key service: its own table, separate from the hub's.

Members evaluate (``evaluate``, reusable within a token's short life: the hot path); key
administrators rotate, activate, retire and read the audit (``admin``); hub operators fetch the
re-keying factor Δ (``rekey``). A principal may only hold its kind's scope; any token other than
an ``evaluate`` one is single-use. A method missing from the table is refused (fail closed).
"""

from __future__ import annotations

from enum import Enum

AUDIENCE = "lianfang-keys"
ADMIN_PREFIX = "admin/"
HUB_PREFIX = "hub/"


class KeyCaller(Enum):
    MEMBER = "member"
    ADMIN = "admin"
    HUB = "hub"


class KeyScope(Enum):
    EVALUATE = "evaluate"
    ADMIN = "admin"
    REKEY = "rekey"


KIND_SCOPES: dict[KeyCaller, frozenset[KeyScope]] = {
    KeyCaller.MEMBER: frozenset({KeyScope.EVALUATE}),
    KeyCaller.ADMIN: frozenset({KeyScope.ADMIN}),
    KeyCaller.HUB: frozenset({KeyScope.REKEY}),
}
REUSABLE_SCOPES = frozenset({KeyScope.EVALUATE})

_KEYS = "/lianfang.v1.KeyService/"
REQUIRED_SCOPE: dict[str, KeyScope] = {
    _KEYS + "Evaluate": KeyScope.EVALUATE,
    _KEYS + "GetPublicKeys": KeyScope.EVALUATE,
    _KEYS + "RotateKey": KeyScope.ADMIN,
    _KEYS + "ActivateEpoch": KeyScope.ADMIN,
    _KEYS + "RetireEpoch": KeyScope.ADMIN,
    _KEYS + "ListEvaluationAudit": KeyScope.ADMIN,
    _KEYS + "GetRekeyDelta": KeyScope.REKEY,
}


def kind_of(subject: str) -> KeyCaller:
    if subject.startswith(ADMIN_PREFIX):
        return KeyCaller.ADMIN
    if subject.startswith(HUB_PREFIX):
        return KeyCaller.HUB
    return KeyCaller.MEMBER


def parse_scopes(claim: object) -> frozenset[KeyScope] | None:
    if not isinstance(claim, str) or not claim.strip():
        return None
    try:
        return frozenset(KeyScope(name) for name in claim.split())
    except ValueError:
        return None
