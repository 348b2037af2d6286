"""Which hub errors are worth retrying, and how long to wait: exponential backoff, full jitter.

Transient (retried): the hub unreachable or slow (UNAVAILABLE, DEADLINE_EXCEEDED, our own
timeout, the circuit open), a quota or rate limit (RESOURCE_EXHAUSTED — after its RetryInfo
delay), ABORTED, and INTERNAL/UNKNOWN (a hub-side blip; the row stays visible in the queue
with its error). Everything else — INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED,
NOT_FOUND, UNAUTHENTICATED… — is the hub's considered refusal: resending the same bytes cannot
succeed, so the row is dead-lettered for a person to look at (except an outcome refused with
NOT_FOUND after a person discarded its application's Check: settled, ``node.outbox.queue``).

Only outages (UNAVAILABLE, deadlines) count against the circuit breaker: any other answer
proves the hub is there. The OPRF key service (asked before the hub, for a Check queued without
tokens) is judged by the same codes and never counts against the hub's circuit; its refusals
and a proof that does not verify are permanent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import grpc

from clients.circuit import CircuitOpen
from clients.errors import LianfangRpcError
from node.identity.oprf_tokens import KeyServiceUnavailable

OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
TRANSIENT = OUTAGE | {
    grpc.StatusCode.CANCELLED,  # e.g. the channel closing as the node stops: nobody refused it
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


def is_outage(error: BaseException) -> bool:
    """The hub did not answer (counts against the circuit breaker)."""
    if isinstance(error, LianfangRpcError):
        return error.code in OUTAGE
    return isinstance(error, TimeoutError | CircuitOpen)


def is_transient(error: BaseException) -> bool:
    """Worth sending again later."""
    if isinstance(error, LianfangRpcError):
        return error.code in TRANSIENT
    if isinstance(error, KeyServiceUnavailable):
        return error.key_service_code in TRANSIENT
    return isinstance(error, TimeoutError | CircuitOpen)


def describe(error: BaseException) -> str:
    """``CODE: message`` for the row's ``last_error`` and the logs (never a request body)."""
    if isinstance(error, LianfangRpcError):
        return f"{error.code.name}: {error.message}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


@dataclass
class Backoff:
    """``delay(n)``: uniform in [0, min(cap, base·2ⁿ)] (AWS "full jitter"), so that many nodes
    coming back after one outage do not hit the hub in lockstep; at least the server's RetryInfo."""

    base_seconds: float = 0.5
    max_seconds: float = 300.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(attempts, 30))
        jittered = self.rng.uniform(0, ceiling)
        if retry_after is not None and retry_after > 0:
            return retry_after + self.rng.uniform(0, self.base_seconds)
        return jittered
