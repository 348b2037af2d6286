"""The Redis store's lean link on Redis Cluster: one :class:`RedisLink` per primary, each command
routed by the slot of its first key.

redis-py's cluster pipeline is pure Python per command (and refuses EVALSHA outright); the hot
path sends one Check's nine scripts plus the log tail, so it gets the same treatment as on a
single server: a batch is split by node, each node's share goes out in one write over its
multiplexed connection, in the batch's order, and the replies are put back in place. Every key
the store writes carries a hash tag, so a command never spans slots.

Topology changes: a ``MOVED`` reply (a slot moved, a replica was promoted) refreshes the slot map
from any reachable node and re-sends just the redirected commands; ``ASK`` (a slot mid-migration)
re-sends the command to the importing node behind ``ASKING``. A node that cannot be reached also
refreshes the map and is retried once (failover); then its connection error stands, which the
store reports as Unavailable. Re-sending is safe because every command the store sends this way
is idempotent. Only during such a change can a redirected command run after later commands of
the same batch that stayed on their node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx
from redis.asyncio.connection import parse_url
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from consortium.store.redis_link import Command, RedisLink, hiredis

Address = tuple[str, int]
_ATTEMPTS = 3  # rounds of redirection / failover before an error stands
_KEYLESS_SLOT = 0  # PING and the like: any node will do
_SUPPORTED_OPTIONS = frozenset({"host", "port", "db", "username", "password"})


def _key_of(command: Command) -> str | bytes | None:
    name = str(command[0]).upper() if not isinstance(command[0], bytes) else command[0].decode().upper()
    if name in ("EVALSHA", "EVAL"):
        return command[3] if int(command[2]) > 0 else None  # type: ignore[return-value]
    return command[1] if len(command) > 1 else None  # type: ignore[return-value]


def slot_of(command: Command) -> int:
    key = _key_of(command)
    if key is None:
        return _KEYLESS_SLOT
    return key_slot(key.encode() if isinstance(key, str) else key)


def open_cluster_link(url: str, timeout: float) -> ClusterLink | None:
    """A cluster link seeded with ``url``'s node, or None when redis-py must serve this URL."""
    if hiredis is None:
        return None
    options = parse_url(url)
    if options.get("connection_class") is not None or not set(options) <= _SUPPORTED_OPTIONS:
        return None  # TLS or extra options: redis-py's cluster client
    if int(options.get("db", 0) or 0) != 0:
        raise ValueError("Redis Cluster has only database 0")
    seed = (str(options.get("host", "localhost")), int(options.get("port", 6379)))
    return ClusterLink([seed], username=options.get("username"), password=options.get("password"), timeout=timeout)


class ClusterLink:
    """Routes pipelines of single-slot commands to the primaries that own their slots."""

    def __init__(
        self,
        seeds: Sequence[Address],
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self._seeds = list(seeds)
        self._username, self._password, self._timeout = username, password, timeout
        self._links: dict[Address, RedisLink] = {}
        self._owner: list[Address] | None = None  # slot → primary
        self._refreshing: asyncio.Task[None] | None = None

    def _link(self, address: Address) -> RedisLink:
        link = self._links.get(address)
        if link is None:
            link = self._links[address] = RedisLink(
                host=address[0],
                port=address[1],
                username=self._username,
                password=self._password,
                timeout=self._timeout,
            )
        return link

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Replies in the order of ``commands`` (error replies as exception instances)."""
        if self._owner is None:
            await self._refresh()
        results: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        for attempt in range(_ATTEMPTS):
            owner = self._owner
            assert owner is not None
            groups: dict[Address, list[int]] = {}
            for i in pending:
                groups.setdefault(owner[slot_of(commands[i])], []).append(i)
            replies = await asyncio.gather(
                *(self._link(node).execute([commands[i] for i in idx]) for node, idx in groups.items()),
                return_exceptions=True,
            )
            retry: list[int] = []
            asks: list[tuple[int, Address]] = []
            last = attempt == _ATTEMPTS - 1
            for idx, reply in zip(groups.values(), replies, strict=True):
                if isinstance(reply, BaseException):
                    if last or not isinstance(reply, rx.ConnectionError | rx.TimeoutError):
                        raise reply
                    retry += idx  # the node may have failed over: ask the cluster again
                    continue
                for i, answer in zip(idx, reply, strict=True):
                    if isinstance(answer, rx.MovedError) and not last:
                        retry.append(i)
                    elif isinstance(answer, rx.AskError) and not last:
                        asks.append((i, (answer.host, answer.port)))
                    else:
                        results[i] = answer
            for i, node in asks:
                _, results[i] = await self._link(node).execute([("ASKING",), commands[i]])
            if not retry:
                return results
            await self._refresh()
            pending = sorted(retry)
        raise AssertionError("unreachable: the last attempt keeps every reply")

    async def _refresh(self) -> None:
        """Reloads the slot map; concurrent callers share one refresh."""
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.get_running_loop().create_task(self._load_slots())
        await asyncio.shield(task)

    async def _load_slots(self) -> None:
        error: Exception = rx.ConnectionError("no Redis Cluster node is known")
        for node in dict.fromkeys([*self._links, *self._seeds]):
            try:
                [reply] = await self._link(node).execute([("CLUSTER", "SLOTS")])
            except (rx.ConnectionError, rx.TimeoutError) as exc:
                error = exc
                continue
            if isinstance(reply, Exception):
                error = reply
                continue
            owner: list[Address | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
            for start, end, primary, *_ in reply:
                host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
                address = (host or node[0], int(primary[1]))
                for slot in range(int(start), int(end) + 1):
                    owner[slot] = address
            if any(a is None for a in owner):
                error = rx.ClusterDownError("the cluster does not cover every slot")
                continue
            self._owner = owner  # type: ignore[assignment]
            for stale in [a for a in self._links if a not in set(owner)]:
                self._links.pop(stale).close()
            return
        raise error

    def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        for link in self._links.values():
            link.close()
        self._links.clear()
