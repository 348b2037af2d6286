"""A plaintext port that serves grpc.health.v1 only, for probes that cannot speak TLS.

Kubernetes' gRPC probes (``grpc: {port: …}``) and most load balancers check health without TLS
or client certificates, while the hub and node APIs require them. ``serve_health`` starts a
second server that shares the main server's ``HealthServicer`` (so it reports exactly what the
main port does, NOT_SERVING during a drain included) and registers nothing else: no API call
can reach the plaintext port.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from runtime.server import listen


async def serve_health(address: str, servicer: health.aio.HealthServicer) -> tuple[grpc.aio.Server, int]:
    """Starts the health-only server on ``address`` ("host:port"; port 0 picks one); (server, port)."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 4096)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = listen(server, address)
    await server.start()
    return server, port
