"""Opening channels to the hub or a node: TLS by default, plaintext only when asked."""

from __future__ import annotations

import grpc

from clients.replicas import ReplicaChannel
from runtime.config import ConfigError
from runtime.tls import CHANNEL_SETTINGS, channel_credentials

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # the servers' default limit too
DEFAULT_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    # grpc's reconnect backoff grows to 120 s by default: a node would go on referring for up to
    # two minutes after its hub came back. Retry the connection at least every 5 s instead.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
)


def open_channel(
    address: str,
    *,
    ca_file: str = "",
    cert_file: str = "",
    key_file: str = "",
    plaintext: bool = False,
    server_name: str = "",
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    settings: tuple[str, str, str] = CHANNEL_SETTINGS,
) -> grpc.aio.Channel:
    """A grpc.aio channel; ``ca_file`` is the CA that signed the server's certificate.

    Several comma-separated addresses (hub replicas on one store) give a
    :class:`clients.replicas.ReplicaChannel`: round robin, idempotent calls failing over.

    ``max_message_bytes`` bounds what it sends and receives: a request over it fails here with
    RESOURCE_EXHAUSTED instead of travelling to a server that would refuse it.

    The CA, certificate and key files are checked here (``runtime.tls.channel_credentials``): one
    that cannot be used is a ConfigError naming its setting — ``settings``, the names of the CA,
    certificate and key settings (a node's ``hub_ca_file``…) — where grpc would open a channel
    whose every call fails."""
    options: list[tuple[str, str | int]] = [
        *DEFAULT_OPTIONS,
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    addresses = [a.strip() for a in address.split(",") if a.strip()]
    if len(addresses) > 1:
        replicas = [
            open_channel(
                a,
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
                plaintext=plaintext,
                server_name=server_name,
                max_message_bytes=max_message_bytes,
                settings=settings,
            )
            for a in addresses
        ]
        return ReplicaChannel(replicas)  # duck-typed: all a generated stub uses of a channel
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    if plaintext:
        return grpc.aio.insecure_channel(address, options=options)
    if not ca_file:
        raise ConfigError("a CA file is required for TLS (--ca, or a *_ca_file setting; or plaintext)")
    credentials = channel_credentials(ca_file, cert_file, key_file, settings=settings)
    return grpc.aio.secure_channel(address, credentials, options=options)
