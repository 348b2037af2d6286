"""The caller's deadline bounds stage 1: the hub call and every source get what is left."""

from __future__ import annotations

import asyncio
import time

import pytest

from node.origination.consortium_check import MIN_BUDGET, stage1_limits
from node.sources.base import SourceRequest
from node.sources.runner import run_stage1
from node.sources.simulation import SimulatorSettings
from node.sources.simulators import default_sources


def test_limits_without_and_with_a_caller_deadline() -> None:
    free = stage1_limits(0.8, 0.1, None)
    assert (free.hub_timeout, free.cap) == (0.8, None) and free.extra_deadline == pytest.approx(0.9)
    short = stage1_limits(5.0, 0.1, 1.0)
    assert short.hub_timeout == pytest.approx(0.9) and short.cap == pytest.approx(0.9)
    assert short.extra_deadline == pytest.approx(0.9)
    roomy = stage1_limits(0.8, 0.1, 10.0)
    assert roomy.hub_timeout == 0.8 and roomy.cap == pytest.approx(9.9)
    assert stage1_limits(0.8, 0.1, 0.05).cap == MIN_BUDGET  # no time left: answer at once


async def test_cap_bounds_slow_sources() -> None:
    slow = default_sources({"tax": SimulatorSettings(latency_ms=3_000)})
    request = SourceRequest("a", "person", "x", resident_id="11010519491231002X", industry="catering")

    async def hub() -> str:
        await asyncio.sleep(3)
        return "late"

    started = time.monotonic()
    result = await run_stage1(slow, request, hub(), deadlines={}, default_deadline=5.0, extra_deadline=5.0, cap=0.2)
    assert time.monotonic() - started < 1.0
    assert {o.name: o.status for o in result.outcomes}["tax"] == "timeout"
    assert result.extra is None and isinstance(result.extra_error, TimeoutError)
    with pytest.raises(ValueError):
        await run_stage1(slow, request, hub(), deadlines={}, default_deadline=1.0, cap=0)
