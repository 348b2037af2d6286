"""The hub's own record types, independent of protobuf and of any store.

Times are float seconds since the Unix epoch. A token is addressed by its *token key*
``"<scheme>.<type>.<epoch>.<hex value>"``: it is all the hub ever stores about an identifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from lianfang.v1 import common_pb2

from graph.policy import token_type_of as token_type_of  # the one definition, re-exported for the hub

HOUR = 3600.0
DAY = 24 * HOUR
YEAR = 365 * DAY


class Window(IntEnum):
    """Stacking look-back windows (values match lianfang.v1.Window)."""

    H1 = common_pb2.WINDOW_1H
    H24 = common_pb2.WINDOW_24H
    D7 = common_pb2.WINDOW_7D
    D30 = common_pb2.WINDOW_30D
    D90 = common_pb2.WINDOW_90D

    @property
    def seconds(self) -> float:
        return _WINDOW_SECONDS[self]

    @property
    def label(self) -> str:
        return self.name[1:] + self.name[0] if self.name[0] == "H" else self.name[1:] + "D"


_WINDOW_SECONDS = {
    Window.H1: HOUR,
    Window.H24: DAY,
    Window.D7: 7 * DAY,
    Window.D30: 30 * DAY,
    Window.D90: 90 * DAY,
}
WINDOWS: tuple[Window, ...] = tuple(Window)  # shortest first
LONGEST_WINDOW = WINDOWS[-1].seconds


def token_key(scheme: int, token_type: int, epoch: int, value: bytes) -> str:
    return f"{scheme}.{token_type}.{epoch}.{value.hex()}"


def token_from_key(key: str) -> common_pb2.Token:
    """The token a key names; a ValueError saying the form for anything else."""
    try:
        scheme, token_type, epoch, value = key.split(".")
        return common_pb2.Token(scheme=int(scheme), type=int(token_type), epoch=int(epoch), value=bytes.fromhex(value))
    except ValueError:
        raise ValueError(f"{key!r} is not a token key: scheme.type.epoch.<hex value>, e.g. 1.3.1.9f86d081…") from None


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    display_name: str
    category: str
    public_key: bytes
    status: int  # lianfang.v1.MemberStatus
    status_reason: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    """One application as the hub indexes it: who checked which tokens, when."""

    member_id: str
    application_ref: str
    received_at: float
    token_keys: tuple[str, ...]
    applicant_kind: int = 0
    product_category: str = ""
    consent_ref: str = ""
    outcome: int = 0
    outcome_at: float = 0.0


@dataclass(frozen=True, slots=True)
class TokenActivity:
    """What other members did with one token (``consortium.stacking_index``).

    ``other_applications[i]`` counts applications by members other than the caller in
    ``WINDOWS[i]``; ``member_last_seen`` maps each member seen within the longest window
    (the caller included) to its latest application time.
    """

    other_applications: tuple[int, ...]
    member_last_seen: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Marker:
    marker_id: str
    filer_member_id: str
    token_key: str
    marker_type: int  # lianfang.v1.MarkerType
    reason_code: str
    evidence_level: int  # lianfang.v1.EvidenceLevel
    filed_at: float
    event_ended_at: float
    expires_at: float | None  # None: never expires
    case_ref: str = ""
    withdrawn_at: float | None = None
    withdraw_reason: str = ""

    def is_active(self, now: float) -> bool:
        return self.withdrawn_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class CheckSnapshot:
    """What Check needs from the store, gathered in the round trip that records the application
    (``Store.record_logged``); stacking and rings come from the consortium log's folds."""

    newly_recorded: bool
    received_at: float
    """The stored record's time: the original one on a retry."""
    markers: dict[str, list[Marker]]
    """Every marker (any status) on the request's tokens; tokens without markers absent."""
    token_keys: tuple[str, ...]
    """The stored record's tokens: on a retry, those first recorded under its reference (which
    the retry is answered for, whatever tokens it carries)."""
