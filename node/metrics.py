"""The node's domain metrics: decisions, how reachable its dependencies are, the outbox depth.

* ``lianfang_node_decisions_total{outcome}`` — stage-1 decisions (approve, decline, refer,
  due_diligence), counted from SubmitApplication answers by ``DecisionInterceptor``;
* ``lianfang_node_hub_unavailable_total{method}`` — calls that met an unreachable hub (a Screen
  answered UNAVAILABLE, a decision carrying HUB_UNAVAILABLE);
* ``lianfang_node_dependency_up{dependency}`` — 1 while a dependency answers: ``hub`` and, in
  OPRF token mode, ``key_service`` are probed with grpc.health.v1 every ``PROBE_SECONDS`` over
  the node's own channels to them (``NodeMetrics.probe``);
* ``lianfang_node_outbox_depth`` — submissions waiting for the hub, ``lianfang_node_outbox_dead``
  — those the hub refused for good (dead letters), ``lianfang_node_hub_circuit_open`` — 1 while
  the hub circuit breaker is open or half-open. ``node.server`` calls
  ``watch_outbox(outbox.depth, outbox.dead, breaker)`` once; the gauges then read them at every
  scrape (0 until then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lianfang.v1 import consortium_pb2, keys_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge

from clients.circuit import CLOSED, CircuitBreaker
from node.hub_errors import OUTAGE
from node.origination.decision import Decision
from runtime.interceptors import Behavior, UnaryWrappingInterceptor, Wrapper

PROBE_SECONDS = 5.0
HUB_SERVICE = consortium_pb2.DESCRIPTOR.services_by_name["ConsortiumService"].full_name
KEY_SERVICE = keys_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name
_SCREEN = "/lianfang.v1.OriginationService/Screen"


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.decisions = Counter(
            "lianfang_node_decisions_total", "Stage-1 decisions, by outcome.", ("outcome",), registry=registry
        )
        self.hub_unavailable = Counter(
            "lianfang_node_hub_unavailable_total",
            "Calls that found the consortium hub unreachable, by node method.",
            ("method",),
            registry=registry,
        )
        self.dependency_up = Gauge(
            "lianfang_node_dependency_up",
            "1 while a dependency of the node answers, 0 while it does not.",
            ("dependency",),
            registry=registry,
        )
        self.outbox_depth = Gauge(
            "lianfang_node_outbox_depth", "Hub submissions waiting in the node's outbox.", registry=registry
        )
        self.outbox_dead = Gauge(
            "lianfang_node_outbox_dead", "Outbox items the hub refused for good (dead letters).", registry=registry
        )
        self.circuit_open = Gauge(
            "lianfang_node_hub_circuit_open", "1 while the hub circuit breaker is open or half-open.", registry=registry
        )
        self.hub_alerts_lost = Gauge(
            "lianfang_node_hub_alerts_lost",
            "Post-loan alerts on this member's borrowers the hub discarded that the node may never have received.",
            registry=registry,
        )

    def watch_outbox(
        self,
        depth: Callable[[], float],
        dead: Callable[[], float] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Makes the outbox gauges read ``depth()`` (and ``dead()``, the breaker) at every scrape."""
        self.outbox_depth.set_function(depth)
        if dead is not None:
            self.outbox_dead.set_function(dead)
        if breaker is not None:
            self.circuit_open.set_function(lambda: float(breaker.state != CLOSED))

    def count_decision(self, decision: Decision) -> None:
        """One stage-1 decision just made (``Origination.on_decision``)."""
        self.decisions.labels(decision.outcome).inc()
        if "HUB_UNAVAILABLE" in decision.reasons:
            self.hub_unavailable.labels("SubmitApplication").inc()

    def interceptor(self) -> DecisionInterceptor:
        return DecisionInterceptor(self)

    async def probe(
        self, dependency: str, channel: grpc.aio.Channel, service: str, interval: float = PROBE_SECONDS
    ) -> None:
        """Keeps ``dependency_up{dependency}`` true to the health ``service`` reports over
        ``channel`` (runs until cancelled). With several replicas (a ReplicaChannel, the hub's)
        each is asked: the dependency is up while any replica serves, which is what the node's
        calls need."""
        stubs = [health_pb2_grpc.HealthStub(c) for c in getattr(channel, "channels", [channel])]
        gauge = self.dependency_up.labels(dependency)
        request = health_pb2.HealthCheckRequest(service=service)

        async def serving(stub: health_pb2_grpc.HealthStub) -> bool:
            try:
                reply = await stub.Check(request, timeout=max(interval, 1.0))
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        while True:
            try:
                gauge.set(1 if any(await asyncio.gather(*(serving(s) for s in stubs))) else 0)
            except Exception:  # a closed channel at shutdown, say: report down, keep probing
                gauge.set(0)
            await asyncio.sleep(interval)


class DecisionInterceptor(UnaryWrappingInterceptor):
    """Counts hub outages from Screen's failures: the hub unreachable, or silent past the
    deadline (the outage codes the circuit breaker counts too). Decisions are counted where
    they are made (``NodeMetrics.count_decision``): a resent SubmitApplication answers the
    decision already made, which is not another one."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def wrapper(self, method: str) -> Wrapper | None:
        if method != _SCREEN:
            return None
        outages = self.metrics.hub_unavailable.labels("Screen")

        def around(behavior: Behavior) -> Behavior:
            async def counted(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await behavior(request, context)
                except Exception as error:
                    if getattr(error, "code", None) in OUTAGE:
                        outages.inc()
                    raise

            return counted

        return around
