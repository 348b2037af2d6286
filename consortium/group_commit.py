"""Group commit: requests that arrive while the store is busy go to it together, in one round trip.

Why: under load many Checks are in flight at once. Sent one by one, each pays its own store
round trip (a write, a wake-up, a read, a reply to decode) and reads back the log entries of all
the others still in flight, so a hub with *c* Checks in flight decodes ~*c* entries per Check.
Sent as a group, they share one ``record_logged`` and one read of the log, and are answered in
log order exactly as a BatchCheck is. With nothing in flight a request goes at once, alone: it
waits for nobody, so an idle hub's latency is unchanged.

At most one flush runs at a time; whatever is submitted meanwhile forms the next group (up to
``max_size`` units, e.g. applications). ``flush`` writes each item's results into the item; if
it raises, every item of its group fails with that error. A caller that gives up (its RPC was
cancelled) stops waiting; its item is still flushed, as a request already sent to a store is.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Coalesces concurrent submissions into sequential flushes of whole groups."""

    def __init__(
        self, flush: Callable[[list[T]], Awaitable[None]], size_of: Callable[[T], int], max_size: int = 1000
    ) -> None:
        """``flush(group)`` handles a group in submission order; ``size_of(item)`` is an item's
        share of ``max_size`` (an item larger than it still goes, alone)."""
        self._flush = flush
        self._size_of = size_of
        self._max_size = max_size
        self._queue: deque[tuple[T, asyncio.Future[None]]] = deque()
        self._draining: asyncio.Task[None] | None = None
        self.flushes = 0  # how many groups went to the store (tests, metrics)

    async def submit(self, item: T) -> None:
        """Returns once ``item``'s group has been flushed (raises what the flush raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._draining is None:
            # A context of its own: the flush serves many calls, so it must not run as the first
            # of them (the per-call ``CallInfo`` lives in a context variable).
            self._draining = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())
        await done

    def _next_group(self) -> list[tuple[T, asyncio.Future[None]]]:
        group = [self._queue.popleft()]
        size = self._size_of(group[0][0])
        while self._queue and size + (more := self._size_of(self._queue[0][0])) <= self._max_size:
            group.append(self._queue.popleft())
            size += more
        return group

    async def _drain(self) -> None:
        try:
            while self._queue:
                group = self._next_group()
                self.flushes += 1
                try:
                    await self._flush([item for item, _ in group])
                except asyncio.CancelledError:
                    self._queue.extendleft(reversed(group))  # cancelled below with the rest
                    raise
                except Exception as exc:  # every waiter of the group gets the store's or the fold's error
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._draining = None
            for _, done in self._queue:  # left only if this task itself was cancelled (loop shutdown)
                if not done.done():
                    done.cancel()
            self._queue.clear()
