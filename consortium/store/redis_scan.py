"""A SCAN of the keyspace that a caller can stop and resume, on standalone Redis and on every
primary of a Redis Cluster.

redis-py's ``scan_iter`` walks the whole keyspace in one go; a walk that outlives one call (the
re-keying walk, which records its position in the consortium log so a restarted run continues)
needs the position itself: which primary, and its SCAN cursor. SCAN's guarantee carries over: a
key present for the whole walk is returned at least once, possibly more than once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster


@dataclass(frozen=True, slots=True)
class ScanPosition:
    """Where a walk stands: the node (``host:port``; ``""`` on standalone Redis, and on a
    cluster a walk not yet started) and that node's SCAN cursor."""

    node: str = ""
    cursor: int = 0

    def encode(self) -> str:
        return f"{self.cursor}|{self.node}"

    @staticmethod
    def decode(text: str) -> ScanPosition | None:
        """The position ``encode`` wrote; None when ``text`` is not one."""
        cursor, sep, node = text.partition("|")
        if not sep or not cursor.isdigit():
            return None
        return ScanPosition(node, int(cursor))


START = ScanPosition()


async def scan_step(
    client: Any, position: ScanPosition, match: str, count: int
) -> tuple[list[bytes], ScanPosition | None]:
    """One SCAN from ``position``: the keys it returned and the next position (None when the
    walk has visited every primary). On a cluster the primaries are walked in name order; a
    position on a node that is no longer a primary (a failover during the walk) starts the walk
    over, so no key is skipped."""
    if not isinstance(client, RedisCluster):
        cursor, keys = await client.scan(cursor=position.cursor, match=match, count=count)
        return list(keys), None if int(cursor) == 0 else ScanPosition("", int(cursor))
    primaries = sorted(client.get_primaries(), key=lambda n: n.name)
    names = [n.name for n in primaries]
    if position.node not in names:
        position = ScanPosition(names[0], 0)
    node = primaries[names.index(position.node)]
    scan: Any = client.scan  # typed for standalone Redis: on a cluster, ({node: cursor}, keys)
    cursors, keys = await scan(cursor=position.cursor, match=match, count=count, target_nodes=node)
    cursor = int(cursors[node.name])
    if cursor != 0:
        return list(keys), ScanPosition(node.name, cursor)
    later = names.index(node.name) + 1
    return list(keys), ScanPosition(names[later], 0) if later < len(names) else None
