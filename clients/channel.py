"""Opening channels to the hub or a node: TLS by default, plaintext only when asked."""

from __future__ import annotations

import grpc

from runtime.tls import channel_credentials

DEFAULT_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
)


def open_channel(
    address: str,
    *,
    ca_file: str = "",
    cert_file: str = "",
    key_file: str = "",
    plaintext: bool = False,
    server_name: str = "",
) -> grpc.aio.Channel:
    """A grpc.aio channel; ``ca_file`` is the CA that signed the server's certificate."""
    options: list[tuple[str, str | int]] = list(DEFAULT_OPTIONS)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    if plaintext:
        return grpc.aio.insecure_channel(address, options=options)
    if not ca_file:
        raise ValueError("a CA file is required for TLS (or pass plaintext=True)")
    return grpc.aio.secure_channel(address, channel_credentials(ca_file, cert_file, key_file), options=options)
