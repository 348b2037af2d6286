"""Two hub processes (``lianfang hub serve``) on one real Redis give identical ring and stacking
answers.

The workload alternates between the hubs, so each process learns half of the applications only
through the shared consortium log.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from clients.analyst import AnalystClient
from clients.credentials import JwtSigner, generate_key_file, load_private_key
from clients.errors import LianfangRpcError
from clients.hub import AdminClient, HubClient
from clients.key_epochs import generate_encryption_key_file
from tests.support.consortium import by_type, check_request, phone, raw_jwt, rid, token
from tests.support.redis_process import free_port

MEMBERS = ["lender-a", "lender-b", "lender-c"]


def _wait_serving(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "hub did not come up"
        time.sleep(0.1)


@pytest.fixture
def two_hubs(redis_url: str, tmp_path: Path) -> Iterator[tuple[list[int], Path]]:
    keys = tmp_path / "keys"
    admin = base64.b64encode(generate_key_file(keys / "admin.pem")).decode()
    analyst = base64.b64encode(generate_key_file(keys / "analyst.pem")).decode()
    env = {
        **os.environ,
        "LIANFANG_HUB_STORE": redis_url,
        "LIANFANG_HUB_ADMIN_KEYS": f"ops={admin}",
        "LIANFANG_HUB_ANALYST_KEYS": f"fraud={analyst}",
        "LIANFANG_HUB_MEMBER_CACHE_SECONDS": "0.1",
    }
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "clients.cli.main", "hub", "serve", "--plaintext", "--listen", f"127.0.0.1:{port}"],
            env=env,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_serving(port, proc)
        yield ports, keys
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def at_epoch(token_: common_pb2.Token, epoch: int) -> common_pb2.Token:
    """The token as tagged with another key epoch (its value is not recomputed: enough here)."""
    copy = common_pb2.Token()
    copy.CopyFrom(token_)
    copy.epoch = epoch
    return copy


def _application(rng: random.Random, n: int) -> list[common_pb2.Token]:
    """A person with a phone and a device, drawn from small pools so rings form (and some
    devices cross the cap of ten applications and become hub tokens)."""
    tokens = [rid(n), phone(rng.randrange(60)), token(common_pb2.TOKEN_TYPE_DEVICE_ID, f"dev-{rng.randrange(25)}")]
    if rng.random() < 0.3:
        tokens.append(token(common_pb2.TOKEN_TYPE_IP, f"10.9.0.{rng.randrange(8)}"))
    return tokens


async def test_two_hub_processes_on_one_redis_give_identical_ring_answers(
    two_hubs: tuple[list[int], Path], tmp_path: Path
) -> None:
    ports, keys = two_hubs
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
    admin = AdminClient(channels[0], JwtSigner("admin/ops", load_private_key(keys / "admin.pem")))
    members: dict[str, list[HubClient]] = {}
    for member in MEMBERS:
        public = generate_key_file(tmp_path / f"{member}.pem")
        await admin.register_member(member, member, "microloan", public)
        await admin.change_member("approve", member)
        signer = JwtSigner(member, load_private_key(tmp_path / f"{member}.pem"))
        members[member] = [HubClient(channel, signer) for channel in channels]
    analysts = [
        AnalystClient(ch, JwtSigner("analyst/fraud", load_private_key(keys / "analyst.pem"))) for ch in channels
    ]
    await asyncio.sleep(0.3)  # the second hub's member cache (0.1 s) sees the approvals

    rng = random.Random(7)
    refs = []
    for n in range(120):
        member = MEMBERS[n % 3]
        hub = n % 2  # alternate hubs: each sees half the Checks directly
        ref = f"app-{n}"
        answer = await members[member][hub].check_request(check_request(ref, *_application(rng, n)))
        if answer.HasField("ring"):
            assert answer.ring.size >= 2
        refs.append(f"{member}/{ref}")
        if n % 17 == 0:
            await members[member][1 - hub].report_outcome(ref, common_pb2.OUTCOME_DEFAULTED)

    sample = rng.sample(refs, 15)  # GetRing analyses the ring's graph: a sample keeps this quick
    answers = [[await a.get_ring(application=ref) for ref in sample] for a in analysts]
    assert answers[0] == answers[1]
    assert max(r.ring.size for r in answers[0]) >= 5  # the workload did build rings
    assert sum(r.ring.defaulted for r in answers[0]) > 0
    listed = [await a.list_rings(limit=500) for a in analysts]
    assert listed[0] == listed[1] and listed[0].matched > 0
    # A Check on either hub now answers the same ring for the same application.
    late = [await members["lender-a"][h].check_request(check_request("late", rid(0), phone(1))) for h in (0, 1)]
    assert late[0].ring == late[1].ring
    assert late[0].stacking == late[1].stacking
    # Stacking counts the other hub's Checks too: it is folded from the same log.
    await members["lender-b"][1].check_request(check_request("x-1", phone(1000)))
    await members["lender-b"][1].check_request(check_request("x-2", phone(1000)))
    crossed = await members["lender-c"][0].check_request(check_request("x-3", phone(1000)))
    assert by_type(crossed, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (1, 2)
    # A single-use token spent at one replica is refused at the other (the claim is in the store).
    once = raw_jwt(str(tmp_path / "lender-a.pem"), "lender-a", scope="contribute")
    codes = []
    for channel in channels:
        try:
            await consortium_pb2_grpc.ConsortiumServiceStub(channel).ListMyMarkers(
                consortium_pb2.ListMyMarkersRequest(), metadata=(("authorization", f"Bearer {once}"),), timeout=5
            )
            codes.append(grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as error:
            codes.append(error.code())
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED]
    # A key epoch created through one replica is in use at the other at once: a Check with its
    # tokens is not refused there before that replica has folded it.
    await admin.set_encryption_key("lender-b", generate_encryption_key_file(tmp_path / "b-x25519.pem"))
    await admin.create_key_epoch(1, os.urandom(32))
    await members["lender-b"][1].check_request(check_request("e-1", rid(1)))  # hub 1 knows epoch 1 only
    await admin.create_key_epoch(2, os.urandom(32))
    await members["lender-b"][1].check_request(check_request("e-2", at_epoch(rid(1), 2)))
    with pytest.raises(LianfangRpcError) as unknown:
        await members["lender-b"][1].check_request(check_request("e-3", at_epoch(rid(1), 3)))
    assert [v.field for v in unknown.value.violations] == ["tokens[0].epoch"]
    for channel in channels:
        await channel.close()


async def test_one_key_registered_through_both_replicas_at_once_goes_to_one_member(
    two_hubs: tuple[list[int], Path], tmp_path: Path
) -> None:
    """The shared-key refusal is the store's atomic claim, not a look at the member list then a
    write: two registrations of one key racing through the two replicas make one member, and a
    member cannot rotate back to the key it gave up, on either replica."""
    ports, keys = two_hubs
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
    admins = [AdminClient(ch, JwtSigner("admin/ops", load_private_key(keys / "admin.pem"))) for ch in channels]

    async def register(hub: int, member: str, public: bytes) -> bool:
        try:
            await admins[hub].register_member(member, member, "microloan", public)
            return True
        except LianfangRpcError as error:
            assert [v.field for v in error.violations] == ["public_key"], error
            return False

    for n in range(8):
        public = generate_key_file(tmp_path / f"race-{n}.pem")
        won = await asyncio.gather(register(0, f"race-{n}-a", public), register(1, f"race-{n}-b", public))
        assert sorted(won) == [False, True], (n, won)
    first = generate_key_file(tmp_path / "first.pem")
    await admins[0].register_member("rotator", "rotator", "microloan", first)
    await admins[0].rotate_member_key("rotator", generate_key_file(tmp_path / "second.pem"), "routine")
    for admin in admins:
        with pytest.raises(LianfangRpcError) as err:
            await admin.rotate_member_key("rotator", first, "back to the old one")
        assert [(v.field, v.description) for v in err.value.violations] == [
            ("public_key", "was this member's key before (a new key pair is needed)")
        ]
    for channel in channels:
        await channel.close()
