"""The typed SDK clients as a member's engineer uses them without the CLI: every public call
takes keyword-only ``timeout`` and ``metadata``; ``timeout`` bounds the whole method (0 means
now, not the default); reads fail over between hub replicas; ``async with`` closes the channel."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clients.analyst import AnalystClient
from clients.audit import AuditClient
from clients.canaries import CanaryClient
from clients.channel import open_channel
from clients.credentials import JwtSigner, load_private_key
from clients.demo.consortium import start_local_consortium
from clients.errors import LianfangRpcError
from clients.hub import AdminClient, HubClient
from clients.keys import KeyServiceClient
from clients.node import NodeClient
from clients.replicas import _Rotation, _StreamCall
from clients.rpc import RpcClient
from runtime.contract_limits import STREAM_TOKEN_EXPIRED
from tests.support.consortium import rid
from tests.support.redis_process import free_port

CLIENTS = [HubClient, AdminClient, AnalystClient, AuditClient, CanaryClient, KeyServiceClient, NodeClient]


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.__name__)
def test_every_call_takes_keyword_only_timeout_and_metadata(client: type[RpcClient]) -> None:
    calls = [
        (name, inspect.signature(fn))
        for name, fn in inspect.getmembers(client, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "close" and fn.__qualname__.startswith(client.__name__ + ".")
    ]
    assert calls, client
    for name, signature in calls:
        kinds = {p.name: p.kind for p in signature.parameters.values()}
        wanted = {"timeout": inspect.Parameter.KEYWORD_ONLY, "metadata": inspect.Parameter.KEYWORD_ONLY}
        assert {k: kinds.get(k) for k in wanted} == wanted, f"{client.__name__}.{name}{signature}"


async def test_reads_fail_over_timeouts_bound_methods_and_clients_close(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    try:
        dead = f"localhost:{free_port()}"  # a replica that is down: nothing listens there
        admin_key = load_private_key(tmp_path / "c" / "keys" / "admin.pem")
        analyst_key = load_private_key(tmp_path / "c" / "keys" / "analyst.pem")

        def replicas(subject: str) -> grpc.aio.Channel:
            cert = c.ca.issue_client(subject)
            return open_channel(
                f"{c.hub_address},{dead}", ca_file=c.ca.ca_file, cert_file=cert.cert_file, key_file=cert.key_file
            )

        member_key = load_private_key(c.members["lender-a"].key_file)
        async with AuditClient(replicas("lender-a"), JwtSigner("lender-a", member_key)) as member_audit:
            # a subject access is logged at the hub (and counts against quota): not resent
            outcomes = []
            for n in range(2):
                try:
                    await member_audit.subject_access([rid(1)], request_ref=f"sar-{n}")
                    outcomes.append("ok")
                except LianfangRpcError as error:
                    outcomes.append(error.code.name)
            assert sorted(outcomes) == ["UNAVAILABLE", "ok"]
        async with (
            AnalystClient(replicas("analyst/demo"), JwtSigner("analyst/demo", analyst_key)) as analyst,
            AuditClient(replicas("admin/demo"), JwtSigner("admin/demo", admin_key)) as audit,
        ):
            for _ in range(4):  # round robin: every other call is first sent to the dead replica
                assert (await analyst.list_rings(limit=5)).matched >= 0
                assert (await audit.tree_head()).tree_size >= 1
            with pytest.raises(LianfangRpcError) as err:  # no time at all: expired, not the default
                await audit.tree_head(timeout=0)
            assert err.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(LianfangRpcError) as err:  # closed on the way out of ``async with``
            await analyst.list_rings(limit=5)
        assert (err.value.code, str(err.value)) == (grpc.StatusCode.CANCELLED, "CANCELLED: the client is closed")
        member = c.members["lender-a"].hub_client
        for bad, fragment in (
            ([("X-Request-Id", "r-1")], "lower-case"),
            ([("x-request-id", "请求")], "printable ASCII"),
            ([("trace-bin", "not bytes")], "must be bytes"),
        ):
            with pytest.raises(ValueError, match=fragment):  # not gRPC core's internal error class
                await member.list_my_markers(metadata=bad)
        assert await member.list_my_markers(metadata=[("x-request-id", "r-1"), ("trace-bin", b"\x00")]) is not None
    finally:
        await c.stop()


class _EndedStream:
    """A replica's stream call that ends with ``error`` (what grpc.aio raises at its end)."""

    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        self.error = error

    def __aiter__(self) -> _EndedStream:
        return self

    async def __anext__(self) -> object:
        raise self.error

    def cancel(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("details", "passed_over"), [(STREAM_TOKEN_EXPIRED, False), ("hub shutting down: reconnect", True)]
)
async def test_a_watch_ended_for_its_token_does_not_pass_its_replica_over(details: str, passed_over: bool) -> None:
    now = [0.0]
    rotation = _Rotation(2, cool_down=2.0, clock=lambda: now[0])
    empty = grpc.aio.Metadata()
    ended = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, empty, empty, details=details)
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in _StreamCall(_EndedStream(ended), rotation, 0):
            pass
    picks = {rotation.pick() for _ in range(4)}
    assert picks == ({1} if passed_over else {0, 1})


async def test_closing_a_client_ends_its_watch_with_the_sdk_s_error(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    try:
        member = c.members["lender-a"]
        client = HubClient(c.hub_channel("lender-a"), JwtSigner("lender-a", load_private_key(member.key_file)))
        started = asyncio.Event()

        async def listen() -> None:
            stream = client.watch()
            started.set()
            async for _ in stream:
                pass

        listener = asyncio.create_task(listen())
        await started.wait()
        await asyncio.sleep(0.3)  # the stream is open at the hub
        await client.close()
        with pytest.raises(LianfangRpcError) as err:
            await asyncio.wait_for(listener, 10)
        assert err.value.code is grpc.StatusCode.CANCELLED
    finally:
        await c.stop()


async def test_a_client_whose_shared_channel_was_closed_says_so() -> None:
    """Clients may share a channel (``NodeClient.as_role``): once another closed it, calls and
    watches raise the SDK's error, not gRPC's internal UsageError."""
    channel = grpc.aio.insecure_channel(f"localhost:{free_port()}")
    signer = JwtSigner("lender-a", Ed25519PrivateKey.generate())
    closer, other = HubClient(channel, signer), HubClient(channel, signer)
    await closer.close()
    with pytest.raises(LianfangRpcError) as err:
        await other.list_my_markers()
    assert err.value.code is grpc.StatusCode.CANCELLED
    with pytest.raises(LianfangRpcError) as err:
        async for _ in other.watch():
            pass
    assert err.value.code is grpc.StatusCode.CANCELLED
