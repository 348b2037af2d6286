"""Waiting for a node's outbox (a real background drainer) with a bounded real wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from node.server import RunningNode


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.02)


async def drained(node: RunningNode, timeout: float = 10.0) -> None:
    """Until the node's outbox holds nothing pending (the drainer is woken first)."""
    node.engine.outbox.notify()
    await eventually(lambda: node.engine.outbox.depth() == 0, timeout, "outbox drained")


async def settled(node: RunningNode, timeout: float = 10.0) -> None:
    """Until nothing in the outbox is due or on its way (rows backing off may stay), so that a
    snapshot of the hub is not raced by a delivery."""
    drainer = node.drainer
    assert drainer is not None
    node.engine.outbox.notify()
    await eventually(
        lambda: not node.engine.outbox.due(drainer.clock()) and not drainer.busy, timeout, "outbox settled"
    )
