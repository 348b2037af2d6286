"""One node process: keys, a hub client and the node's own gRPC API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health
from lianfang.v1 import node_pb2, node_pb2_grpc

from clients.channel import open_channel
from clients.credentials import JwtSigner, load_private_key
from clients.hub import HubClient
from node.config import NodeConfig
from node.identity.tokens import HmacTokeniser
from node.screening import OriginationServicer
from runtime.config import ConfigError
from runtime.server import create_server, serve
from runtime.tls import TlsConfig

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["OriginationService"].full_name


def read_consortium_key(path: str) -> bytes:
    try:
        text = Path(path).read_text().strip()
        key = bytes.fromhex(text)
    except FileNotFoundError:
        raise ConfigError(f"consortium_key_file {path} not found") from None
    except ValueError:
        raise ConfigError(f"consortium_key_file {path}: expected 64 hex characters") from None
    if len(key) != 32:
        raise ConfigError(f"consortium_key_file {path}: expected a 32-byte key")
    return key


@dataclass
class RunningNode:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    hub: HubClient

    async def stop(self, grace: float | None = None) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.hub.close()


async def start_node(config: NodeConfig) -> RunningNode:
    signer = JwtSigner(config.member_id, load_private_key(config.member_key_file))
    channel = open_channel(config.hub_address, ca_file=config.hub_ca_file, plaintext=config.hub_plaintext)
    hub = HubClient(channel, signer, default_timeout=config.hub_timeout_seconds)
    tokeniser = HmacTokeniser(read_consortium_key(config.consortium_key_file), config.key_epoch)
    tls = None if config.plaintext else TlsConfig(config.tls_cert, config.tls_key)
    server, port, health_servicer = await create_server(
        config.listen,
        [
            (
                node_pb2_grpc.add_OriginationServiceServicer_to_server,
                OriginationServicer(hub, tokeniser, hub_timeout=config.hub_timeout_seconds),
                SERVICE_NAME,
            )
        ],
        tls=tls,
    )
    return RunningNode(server, port, health_servicer, hub)


async def run_node(config: NodeConfig) -> None:
    node = await start_node(config)
    await serve(node.server, node.health, grace_seconds=config.grace_seconds, on_stop=node.hub.close)
