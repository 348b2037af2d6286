"""The hub's domain metrics: what its answers found, counted from the answers themselves.

``CheckAnswerInterceptor`` reads every Check and BatchCheck response on its way out, so the
servicers stay free of metric calls and a metric can never disagree with what a member was
told. Never a token or an application reference in a label: only types and flags.

* ``lianfang_hub_check_answers_total`` — applications answered (a BatchCheck counts each);
* ``lianfang_hub_stacking_hits_total{token_type}`` — answers with a stacking reason for the type;
* ``lianfang_hub_marker_hits_total{marker_type,polarity}`` — blacklist hits in answers;
* ``lianfang_hub_ring_hits_total{high_risk}`` — answers linked to a ring (score ≥ 0.7: high risk);
* ``lianfang_hub_ring_answer_size`` — histogram of the ring sizes (applications) in linked answers:
  answers piling into the top buckets mean rings are percolating (a hub token's cap or an
  identifier's link window set too loose for the traffic), long before every answer is high-risk;
* ``lianfang_hub_ring_link_drift_applications`` — applications folded since start-up that another
  hub logged under other ring-link settings (replicas that answer differently: alert when > 0).
"""

from __future__ import annotations

import functools
from typing import Any

import grpc
from lianfang.v1 import common_pb2, consortium_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runtime.interceptors import Behavior, UnaryWrappingInterceptor, Wrapper

_CHECK = "/lianfang.v1.ConsortiumService/Check"
_BATCH = "/lianfang.v1.ConsortiumService/BatchCheck"
HIGH_RISK_SCORE = 0.7  # as RING_HIGH_RISK
# Applications in a ring: the fraud rings a member acts on hold a handful to a few hundred; a
# ring of thousands is a structure of the graph (a shared hub of traffic), not a gang.
RING_SIZE_BUCKETS = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000)


@functools.cache  # enum.Name is slow and runs for every stacking hit of every answer
def _name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return "unknown"


class HubMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry  # also the hub's per-RPC counters (runtime.metrics.RpcMetrics)
        self.answers = Counter(
            "lianfang_hub_check_answers_total",
            "Applications answered by Check or BatchCheck (a resent Check is counted once).",
            registry=registry,
        )
        self.stacking_hits = Counter(
            "lianfang_hub_stacking_hits_total",
            "Answers in which another member saw the identifier (a STACKING_ reason), by token type.",
            ("token_type",),
            registry=registry,
        )
        self.marker_hits = Counter(
            "lianfang_hub_marker_hits_total",
            "Blacklist hits in answers, by marker type and polarity.",
            ("marker_type", "polarity"),
            registry=registry,
        )
        self.ring_hits = Counter(
            "lianfang_hub_ring_hits_total",
            "Answers linked to a ring of applications, by whether the ring is high-risk.",
            ("high_risk",),
            registry=registry,
        )
        self.ring_size = Histogram(
            "lianfang_hub_ring_answer_size",
            "Applications in the ring of each answer linked to one.",
            buckets=RING_SIZE_BUCKETS,
            registry=registry,
        )
        self.ring_link_drift = Gauge(
            "lianfang_hub_ring_link_drift_applications",
            "Applications folded since start-up that another hub logged under other ring-link settings.",
            registry=registry,
        )
        self.epoch_link_conflicts = Gauge(
            "lianfang_hub_epoch_link_conflicts",
            "Key-epoch pairings Checks or LinkTokens made against links already made (alc entries of the log).",
            registry=registry,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}

    def observe(self, answer: consortium_pb2.CheckResponse) -> None:
        """Counts one answer to a new application: a resent Check (``newly_recorded`` false) is
        answered again but not counted again, or client retries would inflate every hit rate.
        Children of the labelled counters are looked up once per label value (``labels()``
        validates and locks on every call: this runs on every Check)."""
        if not answer.newly_recorded:
            return
        self.answers.inc()
        stacked: set[int] = set()
        for reason in answer.reasons:
            token_type = reason.token_type
            if token_type not in stacked and reason.code.startswith("STACKING_"):
                stacked.add(token_type)
                self._child(self.stacking_hits, _name(common_pb2.TokenType, token_type, "TOKEN_TYPE_")).inc()
        for hit in answer.blacklist:
            self._child(
                self.marker_hits,
                _name(common_pb2.MarkerType, hit.marker_type, "MARKER_TYPE_"),
                _name(common_pb2.MarkerPolarity, hit.polarity, "MARKER_POLARITY_"),
            ).inc()
        if answer.HasField("ring"):
            ring = answer.ring
            self._child(self.ring_hits, "true" if ring.score >= HIGH_RISK_SCORE else "false").inc()
            self.ring_size.observe(ring.size)

    def _child(self, counter: Counter, *values: str) -> Counter:
        key = (id(counter), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*values)
        return child

    def interceptor(self) -> CheckAnswerInterceptor:
        return CheckAnswerInterceptor(self)


class CheckAnswerInterceptor(UnaryWrappingInterceptor):
    """Feeds every successful Check and BatchCheck answer to ``HubMetrics.observe``."""

    def __init__(self, metrics: HubMetrics) -> None:
        self.metrics = metrics

    def wrapper(self, method: str) -> Wrapper | None:
        if method not in (_CHECK, _BATCH):
            return None
        observe = self.metrics.observe

        def around(behavior: Behavior) -> Behavior:
            async def counted(request: Any, context: grpc.aio.ServicerContext) -> Any:
                response = await behavior(request, context)
                if isinstance(response, consortium_pb2.BatchCheckResponse):
                    for result in response.results:
                        observe(result)
                elif isinstance(response, consortium_pb2.CheckResponse):
                    observe(response)
                return response

            return counted

        return around
