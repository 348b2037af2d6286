"""The consortium-log role of the Redis store: one stream (``{log}:events``), appended and read in
the same round trip as a Check's scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consortium.store.base import LogCursor
from consortium.store.redis_plumbing import RedisPlumbing
from consortium.store.redis_records import guarded, text


class RedisConsortiumLog(RedisPlumbing):
    """Appends to and reads the consortium log."""

    # A stream: XADD ids are monotonic and an entry is visible to every reader once added, so a
    # reader's last id is its cursor. A connection retry may re-add an event; the fold of the
    # log (consortium.rings) is idempotent for repeated events.
    def _log_key(self) -> str:
        return f"{self._p}:{{log}}:events"

    @staticmethod
    def _entries(raw: Sequence[Any]) -> list[tuple[LogCursor, str]]:
        entries = []
        for entry_id, fields in raw:
            ms, _, seq = text(entry_id).partition("-")
            # redis-py parses the fields into a dict; the raw link leaves the flat [name, value].
            value = next(iter(fields.values())) if isinstance(fields, dict) else fields[1]
            entries.append(((int(ms), int(seq)), text(value)))
        return entries

    @guarded
    async def append_log_events(self, events: Sequence[str], after: LogCursor) -> list[tuple[LogCursor, str]]:
        return await self._write_logged((), events, after)

    async def _write_logged(
        self, writes: Sequence[tuple[Any, ...]], events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """``writes`` (plain commands), then the events and the log since ``after``: one round
        trip, so the writes and their log entries reach Redis together."""
        replies = await self._commands([*writes, *self._log_commands(events, after)])
        return self._entries(replies[-1])

    @guarded
    async def log_events(self, after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        raw = await self._redis.xrange(self._log_key(), f"({after[0]}-{after[1]}", "+", count=limit)
        return self._entries(raw or [])

    def _log_commands(self, events: Sequence[str], after: LogCursor | None) -> list[tuple[Any, ...]]:
        if after is None:
            return []
        key = self._log_key()
        return [*(("XADD", key, "*", "e", event) for event in events), ("XRANGE", key, f"({after[0]}-{after[1]}", "+")]
