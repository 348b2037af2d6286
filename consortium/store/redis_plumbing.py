"""What every part of the Redis store stands on: its key names (every key hash-tagged, so one
token's, member's or marker's keys share a Cluster slot) and the one-round-trip script pipeline.

``RedisStore`` (``redis.py``) sets the connections and scripts up; the role modules use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx
from redis.commands.core import AsyncScript

from consortium.store.redis_cluster_link import ClusterLink
from consortium.store.redis_link import RedisLink
from consortium.store.redis_records import tag

Call = tuple[AsyncScript, list[str], list[str | int | bytes]]
"""One EVALSHA: the script, its keys, its arguments."""


class RedisPlumbing:
    """Keys and script pipelines of one Redis store (set up by ``RedisStore.__init__``)."""

    _p: str
    _redis: Any  # redis.asyncio.Redis, or RedisCluster
    _link: RedisLink | ClusterLink | None

    # -- keys -------------------------------------------------------------------------------
    def _member_key(self, member_id: str, suffix: str) -> str:
        return f"{self._p}:{{m:{tag(member_id)}}}:{suffix}"

    def _token_base(self, token_key: str) -> str:
        return f"{self._p}:{{t:{tag(token_key)}}}"

    def _marker_key(self, marker_id: str) -> str:
        return f"{self._p}:{{k:{tag(marker_id)}}}"

    # -- plain command and script pipelines --------------------------------------------------
    async def _commands(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Plain commands in one round trip (the link when there is one: hiredis, no per-command
        objects), replies in order; the first error reply is raised."""
        if self._link is not None:
            replies = await self._link.execute(commands)
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return list(replies)

    async def _run(self, calls: Sequence[Call], tail: Sequence[tuple[Any, ...]] = ()) -> list[Any]:
        """EVALSHAs in one non-transactional pipeline: one round trip. (redis-py's Script in a
        pipeline would add a SCRIPT EXISTS round trip each time.) On NOSCRIPT, e.g. after a
        restart or failover, loads the scripts and reruns just the calls that did not run.
        ``tail``: plain commands sent in the same round trip after the scripts (the consortium log);
        their replies follow the scripts' in the result."""
        results = await self._evalsha(calls, tail)
        for r in results[len(calls) :]:
            if isinstance(r, Exception):
                raise r
        tail_results, results = results[len(calls) :], results[: len(calls)]
        missing = [i for i, r in enumerate(results) if isinstance(r, rx.NoScriptError)]
        if missing:
            for s in {calls[i][0] for i in missing}:
                await self._redis.script_load(s.script)
            for i, r in zip(missing, await self._evalsha([calls[i] for i in missing]), strict=True):
                results[i] = r
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results + tail_results

    async def _evalsha(self, calls: Sequence[Call], tail: Sequence[tuple[Any, ...]] = ()) -> list[Any]:
        if self._link is not None:
            commands = [("EVALSHA", s.sha, len(keys), *keys, *args) for s, keys, args in calls]
            return await self._link.execute([*commands, *tail])
        async with self._redis.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            for command in tail:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)
