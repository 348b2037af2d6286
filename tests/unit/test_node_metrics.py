"""The node's own counters: a hub that is silent past the deadline is an outage as much as an
unreachable one (the circuit breaker counts both), and a decision is counted when it is made."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from node.metrics import NodeMetrics
from node.origination.decision import Decision
from runtime.errors import DeadlineExceeded, FieldViolation, InvalidArgument, Unavailable

SCREEN = "/lianfang.v1.OriginationService/Screen"


def _outages(registry: CollectorRegistry, method: str) -> float:
    return registry.get_sample_value("lianfang_node_hub_unavailable_total", {"method": method}) or 0.0


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (DeadlineExceeded("consortium hub did not answer within the deadline"), 1),
        (Unavailable("consortium hub unreachable"), 1),
        (InvalidArgument([FieldViolation("identifiers", "none given")]), 0),
    ],
)
async def test_screen_failures_count_hub_outages(error: Exception, counted: int) -> None:
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry)

    async def failing(request: Any, context: Any) -> Any:
        raise error

    wrap = metrics.interceptor().wrapper(SCREEN)
    assert wrap is not None
    with pytest.raises(type(error)):
        await wrap(failing)(None, None)
    assert _outages(registry, "Screen") == counted


def test_a_decision_is_counted_with_its_hub_outage() -> None:
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry)
    metrics.count_decision(Decision("refer", ["HUB_UNAVAILABLE"]))
    metrics.count_decision(Decision("approve", ["WITHIN_PRE_CREDIT"]))
    assert registry.get_sample_value("lianfang_node_decisions_total", {"outcome": "refer"}) == 1
    assert registry.get_sample_value("lianfang_node_decisions_total", {"outcome": "approve"}) == 1
    assert _outages(registry, "SubmitApplication") == 1
