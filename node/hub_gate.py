"""Every hub call the node makes on its own initiative goes through one circuit breaker.

Stage 1 of an application and the outbox drainer share it: while the hub is down the
application fails fast (the Check goes to the outbox) instead of spending its deadline, and the
drainer's deliveries are the probes that close the circuit again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from clients.circuit import CircuitBreaker
from node.hub_errors import is_outage

T = TypeVar("T")


class HubGate:
    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    async def call(self, send: Callable[[], Awaitable[T]]) -> T:
        """``send()`` unless the circuit is open (``CircuitOpen``); its result feeds the breaker."""
        self.breaker.check()
        try:
            result = await send()
        except asyncio.CancelledError:  # our own deadline gave up on the hub: it did not answer
            self.breaker.record_failure()
            raise
        except Exception as error:
            if is_outage(error):
                self.breaker.record_failure()
            else:  # a refusal is an answer: the hub is there
                self.breaker.record_success()
            raise
        self.breaker.record_success()
        return result
