"""Canaries: synthetic identities whose tokens the admin plants, so that a Check carrying one is
evidence of enumeration or of a leaked token list (no real applicant has them).

Detection is a fold of the consortium log, like everything else the hub knows: ``["cn", admin,
label, at, [canonical token keys]]`` plants, and every application event (``"a"``) is compared
with the planted set — so every replica raises the same alerts, and the Check path itself is
untouched: the caller gets its usual answer and cannot tell it hit a canary. Alerts are for
admins (``CanaryService.ListCanaryAlerts``) and are logged as a warning when they happen. Only
linking token types are in application events, so canaries cannot be IP subnets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from consortium.aliases import type_of
from consortium.log_format import encode_event
from consortium.rings import looked_up
from consortium.store.base import LogCursor

log = logging.getLogger("lianfang.hub.canaries")
LIVE_SECONDS = 300.0  # replaying an old hit at start-up does not log it again


def canary_event(admin: str, label: str, at: float, token_keys: list[str]) -> str:
    return encode_event(["cn", admin, label, at, token_keys])


@dataclass(frozen=True, slots=True)
class CanaryAlert:
    member_id: str
    application_ref: str
    label: str
    token_type: int
    received_at: float
    cursor: LogCursor  # the Check's position in the consortium (audit) log


class CanaryBook:
    """Planted canary tokens and the alerts they raised (a ``RingTracker`` observer)."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}  # canonical token key → label
        self.alerts: list[CanaryAlert] = []
        self._started = time.time()

    def observe(self, cursor: LogCursor, event: str, decoded: list[Any] | None) -> None:
        if not decoded:
            return
        if decoded[0] == "cn":
            for key in decoded[4]:
                self.labels.setdefault(str(key), str(decoded[2]))
        elif decoded[0] in ("a", "sa") and self.labels:  # a Check, or a subject access request
            member, at, tokens = decoded[1], decoded[3], looked_up(decoded)
            ref = decoded[2] if decoded[0] == "a" else "subject-access"
            for key in tokens:
                label = self.labels.get(str(key))
                if label is not None:
                    self._alert(CanaryAlert(str(member), str(ref), label, type_of(str(key)), float(at), cursor))
                    break  # one alert per application

    def _alert(self, alert: CanaryAlert) -> None:
        self.alerts.append(alert)
        if alert.received_at >= self._started - LIVE_SECONDS:
            log.warning(
                "canary hit: a Check or subject access request carried a planted synthetic identity",
                extra={"fields": {"member": alert.member_id, "label": alert.label, "token_type": alert.token_type}},
            )
