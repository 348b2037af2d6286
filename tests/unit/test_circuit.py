"""The hub circuit breaker's transitions, on a manual clock."""

from __future__ import annotations

import pytest

from clients.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen
from runtime.clock import ManualClock


def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("hub", failure_threshold=3, reset_seconds=10.0, clock=clock)


def test_closed_opens_after_threshold_consecutive_failures_only() -> None:
    b = breaker(ManualClock())
    b.record_failure()
    b.record_failure()
    b.record_success()  # the run is broken: counting starts again
    b.record_failure()
    b.record_failure()
    assert b.state == CLOSED and b.allow()
    b.record_failure()
    assert b.state == OPEN
    assert not b.allow()
    with pytest.raises(CircuitOpen):
        b.check()


def test_open_turns_half_open_after_cool_down_and_lets_one_probe() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(9.9)
    assert b.state == OPEN and not b.allow()
    clock.advance(0.1)
    assert b.state == HALF_OPEN
    assert b.allow()  # the probe
    assert not b.allow()  # nobody else while it is out
    assert b.state == HALF_OPEN


def test_probe_success_closes() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.record_success()
    assert b.state == CLOSED and b.allow() and b.allow()
    b.record_failure()
    assert b.state == CLOSED  # the failure count started again


def test_probe_failure_reopens_for_another_cool_down() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.record_failure()  # one failure in half-open is enough
    assert b.state == OPEN and not b.allow()
    clock.advance(5)
    assert b.state == OPEN
    clock.advance(5)
    assert b.state == HALF_OPEN and b.allow()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_seconds=0)
