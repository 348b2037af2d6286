"""Waiting for a node's outbox (a real background drainer) with a bounded real wait, and the
two-lender consortium the outbox tests run on."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from clients.demo.consortium import LocalConsortium, start_local_consortium
from node.server import RunningNode
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock

FAST = {"outbox_poll_seconds": 0.05, "circuit_failure_threshold": 2, "circuit_reset_seconds": 30.0}


@contextlib.asynccontextmanager
async def two_lenders(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    """lender-a and lender-b on manual time, seed personas, fast outbox polling (``options``:
    more ``start_local_consortium`` arguments, e.g. ``token_mode="oprf"``; ``node_options`` are
    laid over ``FAST``)."""
    clock = ManualClock()
    node_options = {**FAST, **options.pop("node_options", {})}
    c = await start_local_consortium(
        tmp_path,
        ["lender-a", "lender-b"],
        clock=clock,
        source_latency_ms=5,
        scenario_file=SEED_PERSONAS_FILE,
        node_options=node_options,
        **options,
    )
    try:
        yield c, clock
    finally:
        await c.stop()


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
