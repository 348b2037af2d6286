"""A circuit breaker in front of the hub: stop waiting for a hub that is down.

Closed → open after ``failure_threshold`` consecutive outage failures (UNAVAILABLE, deadline);
while open every call fails at once with ``CircuitOpen`` instead of spending its deadline; after
``reset_seconds`` the circuit is half-open and lets exactly one probe through: its success closes
the circuit, its failure opens it for another cool-down. Any answer from the hub — even a
refusal — is a success here: the breaker tracks reachability, not correctness.

Time comes from an injectable clock, so every transition is tested without sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from runtime.clock import Clock, system_clock
from runtime.errors import Unavailable

log = logging.getLogger("lianfang.circuit")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpen(Unavailable):
    """The hub failed repeatedly; the call was not attempted (fail fast)."""

    reason_code = "HUB_UNAVAILABLE"


@dataclass
class CircuitBreaker:
    name: str = "hub"
    failure_threshold: int = 3
    reset_seconds: float = 10.0
    clock: Clock = system_clock
    _state: str = field(default=CLOSED, init=False)
    _failures: int = field(default=0, init=False)
    _opened_at: float = field(default=0.0, init=False)
    _probing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.reset_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds positive")

    @property
    def state(self) -> str:
        """closed, open or half_open (open turns half-open once the cool-down has passed)."""
        if self._state == OPEN and self.clock() >= self._opened_at + self.reset_seconds:
            self._state, self._probing = HALF_OPEN, False
        return self._state

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, True once (the probe) until it reports."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def check(self) -> None:
        """``allow()`` or raise ``CircuitOpen``."""
        if not self.allow():
            raise CircuitOpen(f"{self.name} circuit is {self._state}: failing fast")

    def record_success(self) -> None:
        if self._state != CLOSED:
            log.info("circuit closed", extra={"fields": {"circuit": self.name}})
        self._state, self._failures, self._probing = CLOSED, 0, False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == HALF_OPEN or (self._state == CLOSED and self._failures >= self.failure_threshold):
            self._state, self._opened_at, self._probing = OPEN, self.clock(), False
            log.warning(
                "circuit opened",
                extra={"fields": {"circuit": self.name, "failures": self._failures, "cool_down": self.reset_seconds}},
            )
