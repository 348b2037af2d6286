"""A real Redis Cluster for integration tests: N ``redis-server`` processes in cluster mode,
joined by ``redis-cli --cluster create`` (primaries only, the 16,384 slots split between them).

Tests reach it through any node's URL with ``cluster=True`` (``redis+cluster://`` for the hub);
the client discovers the rest. Killing or restarting one node drives the failure tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.support.redis_process import RedisNotInstalled, RedisProcess, free_port

_MAX_CLUSTER_PORT = 55_535  # a node's bus listens on port + 10,000


def cluster_port() -> int:
    """A free port whose cluster-bus port (+10,000) is valid and free too."""
    for _ in range(1000):
        port = free_port()
        if port > _MAX_CLUSTER_PORT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def redis_cli_binary() -> str:
    found = shutil.which("redis-cli")
    if found is None:
        raise RedisNotInstalled("redis-cli is not on PATH; run deploy/install-redis.sh")
    return found


class RedisCluster:
    """``masters`` primaries on free ports under ``dir`` (one sub-folder each)."""

    def __init__(self, dir: Path, masters: int = 3, *, appendonly: bool = False) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 primaries")
        self.dir = Path(dir)
        self.nodes = [
            RedisProcess(self.dir / f"node-{i}", port=cluster_port(), cluster=True, appendonly=appendonly)
            for i in range(masters)
        ]

    @property
    def url(self) -> str:
        """The first node's URL (a seed: the client discovers the other nodes)."""
        return self.nodes[0].url

    @property
    def hub_url(self) -> str:
        """The hub's store URL for this cluster."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 30.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        if not self._joined():
            subprocess.run(
                [
                    redis_cli_binary(),
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{n.port}" for n in self.nodes),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
        deadline = time.monotonic() + timeout
        while not self._formed():
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)
        return self

    def _info(self, node: RedisProcess) -> str:
        client = redis.Redis(port=node.port, socket_timeout=2)
        try:
            info = client.execute_command("CLUSTER", "INFO")
        finally:
            client.close()
        return info.decode() if isinstance(info, bytes) else str(info)

    def _joined(self) -> bool:
        """The nodes were joined once (a restarted node rejoins from its nodes.conf by itself)."""
        return any("cluster_known_nodes:1\r" not in self._info(node) for node in self.nodes)

    def _formed(self) -> bool:
        """Every node reports the cluster ok with all slots assigned."""
        for node in self.nodes:
            text = self._info(node)
            if "cluster_state:ok" not in text or "cluster_slots_assigned:16384" not in text:
                return False
        return True

    def flush(self) -> None:
        """Empties every primary (data and scripts), so a test starts from nothing."""
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=2)
            try:
                client.flushall()
                client.script_flush()
            finally:
                client.close()

    def keys_per_node(self) -> list[int]:
        counts = []
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=2)
            try:
                counts.append(int(client.dbsize()))
            finally:
                client.close()
        return counts

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
