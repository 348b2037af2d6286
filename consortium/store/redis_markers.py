"""The blacklist role of the Redis store: a token's markers in one hash (``{t:<token>}:markers``),
a pointer from each marker id to its token (``{k:<marker>}``), and each filer's index
(``{m:<member>}:markers``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from redis.commands.core import AsyncScript

from consortium.records import Marker
from consortium.store.redis_plumbing import RedisPlumbing
from consortium.store.redis_records import guarded, marker_json, marker_record, num, sorted_markers, text
from runtime.errors import AlreadyExists, NotFound, Unavailable

FILER_PAGE = 10_000
"""Markers read per round trip when listing a filer's."""


class RedisMarkers(RedisPlumbing):
    """Filing, withdrawing, reading and expiring markers."""

    _cas: AsyncScript

    @guarded
    async def add_marker(self, marker: Marker) -> None:
        await self._claim_marker(marker)
        async with self._redis.pipeline(transaction=False) as pipe:
            for command in self._marker_writes(marker):
                pipe.execute_command(*command)
            await pipe.execute()

    async def _claim_marker(self, marker: Marker) -> None:
        pointer = self._marker_key(marker.marker_id)
        if not await self._redis.set(pointer, marker.token_key, nx=True):
            # Taken, unless an earlier add crashed after claiming the id: then complete it.
            owner = await self._redis.get(pointer)
            markers_key = f"{self._token_base(marker.token_key)}:markers"
            if (
                owner is None
                or text(owner) != marker.token_key
                or await self._redis.hexists(markers_key, marker.marker_id)
            ):
                raise AlreadyExists(f"marker {marker.marker_id!r} already exists")

    def _marker_writes(self, marker: Marker) -> list[tuple[Any, ...]]:
        markers_key = f"{self._token_base(marker.token_key)}:markers"
        filer_key = self._member_key(marker.filer_member_id, "markers")
        return [
            ("HSETNX", markers_key, marker.marker_id, marker_json(marker)),
            ("ZADD", filer_key, num(marker.filed_at), marker.marker_id),
        ]

    async def _marker_raw(self, marker_id: str) -> tuple[str, Any] | None:
        token = await self._redis.get(self._marker_key(marker_id))
        if token is None:
            return None
        key = f"{self._token_base(text(token))}:markers"
        raw = await self._redis.hget(key, marker_id)
        return None if raw is None else (key, raw)

    @guarded
    async def get_marker(self, marker_id: str) -> Marker | None:
        found = await self._marker_raw(marker_id)
        return None if found is None else marker_record(found[1])

    @guarded
    async def withdraw_marker(self, marker_id: str, at: float, reason: str) -> Marker:
        for _ in range(16):  # optimistic: a concurrent withdraw of the same marker makes us retry
            found = await self._marker_raw(marker_id)
            if found is None:
                raise NotFound(f"marker {marker_id!r} not found")
            key, raw = found
            old = marker_record(raw)
            if old.withdrawn_at is not None:
                return old  # the first withdrawal's time and reason stand
            new = dataclasses.replace(old, withdrawn_at=at, withdraw_reason=reason)
            if await self._run([(self._cas, [key], [marker_id, raw, marker_json(new)])]) == [1]:
                return new
        raise Unavailable(f"marker {marker_id!r} is being changed concurrently; retry")

    @guarded
    async def markers_for_tokens(self, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        """Markers per token, ordered by (filed_at, marker_id)."""
        tokens = list(dict.fromkeys(token_keys))
        rows = await self._commands([("HVALS", f"{self._token_base(k)}:markers") for k in tokens]) if tokens else []
        return {k: sorted_markers(r) for k, r in zip(tokens, rows, strict=True) if r}

    @guarded
    async def purge_markers(self, now: float) -> list[Marker]:
        """Walks each filer's marker index (markers are few next to applications)."""
        purged: list[Marker] = []
        for member_id in [text(m) for m in await self._redis.smembers(f"{self._p}:members")]:
            for marker in await self.markers_by_filer(member_id):
                if marker.expires_at is None or marker.expires_at > now:
                    continue
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hdel(f"{self._token_base(marker.token_key)}:markers", marker.marker_id)
                    pipe.delete(self._marker_key(marker.marker_id))
                    pipe.zrem(self._member_key(member_id, "markers"), marker.marker_id)
                    await pipe.execute()
                purged.append(marker)
        return purged

    @guarded
    async def markers_by_filer(self, member_id: str) -> list[Marker]:
        """Each id of the filer's index, its token's pointer, then the marker: two round trips per
        ``FILER_PAGE`` markers (a member filing a court list has millions; reconciliation reads
        them all at every hub start)."""
        ids = [text(i) for i in await self._redis.zrange(self._member_key(member_id, "markers"), 0, -1)]
        raws: list[Any] = []
        for start in range(0, len(ids), FILER_PAGE):
            page = ids[start : start + FILER_PAGE]
            tokens = await self._commands([("GET", self._marker_key(marker_id)) for marker_id in page])
            found = [
                (marker_id, text(token)) for marker_id, token in zip(page, tokens, strict=True) if token is not None
            ]
            if found:
                raws += await self._commands(
                    [("HGET", f"{self._token_base(token)}:markers", marker_id) for marker_id, token in found]
                )
        return sorted_markers([r for r in raws if r is not None])
