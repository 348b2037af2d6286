"""A SCAN of the keyspace that a caller can stop and resume, on standalone Redis and on every
primary of a Redis Cluster.

redis-py's ``scan_iter`` walks the whole keyspace in one go; a walk that outlives one call (the
re-keying walk, which records its position in the consortium log so a restarted run continues)
needs the position itself: which primary, and its SCAN cursor. SCAN's guarantee carries over: a
key present for the whole walk is returned at least once, possibly more than once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster

from runtime.errors import Unavailable


@dataclass(frozen=True, slots=True)
class ScanPosition:
    """Where a walk stands: the node (``host:port``; ``""`` on standalone Redis, and on a
    cluster a walk not yet started), that node's SCAN cursor, and the node's ``run_id`` when
    the cursor was given: a restarted server hashes its keys with a new seed, so an old cursor
    would skip keys there, and that node is scanned again from the start. On a cluster also
    ``topology``, a digest of which primary served which slots: after a failover or a
    resharding, keys may have moved to a primary already walked, so the walk starts over."""

    node: str = ""
    cursor: int = 0
    run_id: str = ""
    topology: str = ""

    def encode(self) -> str:
        return f"{self.cursor}|{self.run_id}|{self.topology}|{self.node}"

    @staticmethod
    def decode(text: str) -> ScanPosition | None:
        """The position ``encode`` wrote; None when ``text`` is not one."""
        parts = text.split("|", 3)
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        cursor, run_id, topology, node = parts
        return ScanPosition(node, int(cursor), run_id, topology)


START = ScanPosition()


async def scan_step(
    client: Any, position: ScanPosition, match: str, count: int
) -> tuple[list[bytes], ScanPosition | None]:
    """One SCAN from ``position``: the keys it returned and the next position (None when the
    walk has visited every primary). On a cluster the primaries (as CLUSTER SLOTS names them)
    are walked in name order; a position taken under another slot assignment starts the walk
    over, and one on a server restarted since starts that server's scan over."""
    scan: Any = client.scan  # on a cluster: ({node: cursor}, keys) from the target node
    info: Any = client.info
    if not isinstance(client, RedisCluster):
        run_id = str((await info("server"))["run_id"])
        cursor = position.cursor if position.run_id == run_id else 0
        after, keys = await scan(cursor=cursor, match=match, count=count)
        return list(keys), None if int(after) == 0 else ScanPosition("", int(after), run_id)
    topology, names = await _slots(client)
    if position.topology != topology:
        position = START  # a new walk, or the slots moved under this one: from the first primary
    if position.node not in names:
        position = ScanPosition(names[0], 0)
    node = client.get_node(node_name=position.node)
    if node is None:  # a primary redis-py does not know yet
        await client.nodes_manager.initialize()
        node = client.get_node(node_name=position.node)
        if node is None:
            raise Unavailable(f"Redis Cluster primary {position.node} is not reachable")
    run_id = str((await info("server", target_nodes=node))["run_id"])
    cursor = position.cursor if position.run_id == run_id else 0
    cursors, keys = await scan(cursor=cursor, match=match, count=count, target_nodes=node)
    after = int(cursors[node.name])
    if after != 0:
        return list(keys), ScanPosition(node.name, after, run_id, topology)
    later = names.index(node.name) + 1
    return list(keys), ScanPosition(names[later], 0, "", topology) if later < len(names) else None


async def _slots(client: RedisCluster) -> tuple[str, list[str]]:
    """Which primary serves which slots, from one CLUSTER SLOTS reply (always asked of the same
    node, so that nodes whose gossip lags cannot make the answer flap): a short digest, and the
    primaries' names in order. A slot still migrating counts as its current owner's, so keys a
    resharding moves after the walk passed their new primary are missed (re-keying's second
    pass walks again)."""
    asked = min(client.get_primaries(), key=lambda n: n.name)
    slots: Any = await client.cluster_slots(target_nodes=asked)
    served = sorted((tuple(r), f"{v['primary'][0]}:{v['primary'][1]}") for r, v in dict(slots).items())
    digest = hashlib.sha256(repr(served).encode()).hexdigest()[:16]
    return digest, sorted({name for _, name in served})
