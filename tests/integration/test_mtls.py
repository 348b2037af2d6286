"""Mutual TLS at the hub: no certificate, a certificate from another CA and plain TCP are refused
at the handshake; a certificate and a token of different principals are refused together —
a stolen token is useless without the certificate's key, and vice versa."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import consortium_pb2_grpc

from clients.channel import open_channel
from clients.demo.consortium import LocalConsortium, start_local_consortium
from runtime.tls import DevCertificateAuthority
from tests.support.consortium import check_request, phone, raw_jwt


@pytest.fixture
async def consortium(tmp_path: Path) -> AsyncIterator[LocalConsortium]:
    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b"])
    try:
        yield c
    finally:
        await c.stop()


async def check(channel: grpc.aio.Channel, token: str, ref: str = "m-1") -> grpc.StatusCode:
    try:
        await consortium_pb2_grpc.ConsortiumServiceStub(channel).Check(
            check_request(ref, phone(1)), metadata=(("authorization", f"Bearer {token}"),), timeout=5
        )
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await channel.close()


def token_of(c: LocalConsortium, member: str) -> str:
    return raw_jwt(c.members[member].key_file, member)


async def test_matching_certificate_and_token_pass(consortium: LocalConsortium) -> None:
    assert await check(consortium.hub_channel("lender-a"), token_of(consortium, "lender-a")) == grpc.StatusCode.OK


async def test_handshake_refuses_plain_tcp_no_certificate_and_another_ca(
    consortium: LocalConsortium, tmp_path: Path
) -> None:
    c = consortium
    token = token_of(c, "lender-a")
    assert await check(grpc.aio.insecure_channel(c.hub_address), token) == grpc.StatusCode.UNAVAILABLE
    assert await check(open_channel(c.hub_address, ca_file=c.ca.ca_file), token) == grpc.StatusCode.UNAVAILABLE
    rogue = DevCertificateAuthority(tmp_path / "rogue-ca").issue_client("lender-a")  # right name, wrong CA
    channel = open_channel(c.hub_address, ca_file=c.ca.ca_file, cert_file=rogue.cert_file, key_file=rogue.key_file)
    assert await check(channel, token) == grpc.StatusCode.UNAVAILABLE


async def test_token_and_certificate_must_name_the_same_principal(consortium: LocalConsortium) -> None:
    c = consortium
    # lender-b's certificate with lender-a's (stolen) token, and the other way round.
    assert await check(c.hub_channel("lender-b"), token_of(c, "lender-a")) == grpc.StatusCode.UNAUTHENTICATED
    assert await check(c.hub_channel("lender-a"), token_of(c, "lender-b")) == grpc.StatusCode.UNAUTHENTICATED
    # An admin certificate does not make a member token an admin's, nor the reverse.
    assert await check(c.hub_channel("admin/demo"), token_of(c, "lender-a")) == grpc.StatusCode.UNAUTHENTICATED


async def test_the_demo_node_talks_to_the_hub_over_mutual_tls(consortium: LocalConsortium) -> None:
    config = consortium.members["lender-a"].config
    assert config.hub_cert_file and config.hub_key_file and consortium.hub.server is not None
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(config.hub_cert_file).read_bytes())
    assert cert.subject.rfc4514_string() == "CN=lender-a"
