"""How long to wait before sending a hub submission again: exponential backoff, full jitter.
Which hub errors are worth it is ``node.hub_errors``'s (``is_transient``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
