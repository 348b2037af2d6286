"""Hostile and bad input against every RPC of a real hub and a real node (mutual TLS, SQLite):
random bytes as the request body, structurally valid messages with hostile field values, and
messages beyond ``max_message_bytes``. Every call is made by a principal allowed to make it, so
validation — not authorisation — answers. Each answer must be a proper status (never UNKNOWN or
INTERNAL; INVALID_ARGUMENT with google.rpc.BadRequest field violations), the server must still
answer health, and a refused call must leave the stores exactly as they were.

The RPC list comes from the generated descriptors: a new RPC is fuzzed without editing this file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lianfang.v1 import common_pb2, consortium_pb2, node_pb2

from clients.credentials import load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.node import staff_signer
from consortium.policy import REQUIRED_SCOPE
from node.origination.roles import ALLOWED_ROLES
from node.sources.personas import LAO_WANG
from runtime.tls import channel_credentials
from tests.support.consortium import check_request, phone, raw_jwt, rid
from tests.support.hostile import (
    HUB_RPCS,
    NODE_RPCS,
    Outcome,
    Rpc,
    call_raw,
    hub_subject,
    node_role,
    serving,
    sqlite_counts,
)
from tests.support.loop_thread import LoopThread
from tests.support.origination import application
from tests.support.outbox import settled
from tests.support.proto_strategies import messages, mutations

MAX_MESSAGE_BYTES = 512 * 1024  # small, so oversize requests stay cheap to send

# What a well-authorised caller may be told about a bad request; never UNKNOWN, INTERNAL,
# UNAVAILABLE, UNIMPLEMENTED or an authentication failure.
PROPER = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
# Refusing someone else's marker or dispute, or a role's own limits, is authorisation by data.
PERMISSION_BY_DATA = {
    "/lianfang.v1.ConsortiumService/WithdrawMarker",
    "/lianfang.v1.ConsortiumService/LinkTokens",
}

FUZZ = settings(
    max_examples=int(os.environ.get("LIANFANG_FUZZ_EXAMPLES", "12")),  # raise it to hunt locally
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@dataclass
class Targets:
    """A running hub and node, and how to call them as the right principal."""

    c: LocalConsortium
    loop: LoopThread
    channels: dict[str, grpc.Channel]
    identity_key: Ed25519PrivateKey

    def hub_call(self, rpc: Rpc, body: bytes) -> Outcome:
        subject, scope = hub_subject(rpc)
        key_file = (
            self.c.members["lender-a"].key_file
            if subject == "lender-a"
            else str(self.c.folder / "keys" / f"{subject.split('/')[0]}.pem")
        )
        token = raw_jwt(load_private_key(key_file), subject, scope=scope.value)
        metadata = (("authorization", f"Bearer {token}"),)
        return call_raw(self.channels[subject], rpc.path, body, metadata, streaming=rpc.server_streaming)

    def node_call(self, rpc: Rpc, body: bytes) -> Outcome:
        token = staff_signer(self.identity_key, "fuzz-1", node_role(rpc)).token()
        metadata = (("authorization", f"Bearer {token}"),)
        return call_raw(self.channels["node"], rpc.path, body, metadata, streaming=rpc.server_streaming)

    def hub_snapshot(self) -> dict[str, int]:
        self.loop.run(settled(self.c.members["lender-a"].node))  # no outbox delivery races the count
        return sqlite_counts(self.c.folder / "hub.db", ignore=frozenset({"token_ids"}))  # single-use jti claims

    def node_snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        return sqlite_counts(self.c.folder / "node-lender-a.db"), self.hub_snapshot()


def sync_channel(address: str, ca: str, cert: str = "", key: str = "") -> grpc.Channel:
    return grpc.secure_channel(
        address, channel_credentials(ca, cert, key), options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    )


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    loop = LoopThread()
    c = loop.run(
        start_local_consortium(
            tmp_path_factory.mktemp("hostile"),
            ["lender-a"],
            hub_options={"max_message_bytes": MAX_MESSAGE_BYTES},
            node_options={"max_message_bytes": MAX_MESSAGE_BYTES},
        )
    )
    channels: dict[str, grpc.Channel] = {}
    for subject in ("lender-a", "admin/demo", "analyst/demo"):
        cert = c.ca.issue_client(subject)
        channels[subject] = sync_channel(c.hub_address, c.ca.ca_file, cert.cert_file, cert.key_file)
    member = c.members["lender-a"]
    channels["node"] = sync_channel(f"localhost:{member.node.port}", c.ca.ca_file)
    channels["hub-health"] = channels["lender-a"]
    try:
        yield Targets(c, loop, channels, member.identity_key)
    finally:
        for channel in channels.values():
            channel.close()
        loop.run(c.stop())
        loop.close()


def assert_proper(rpc: Rpc, outcome: Outcome) -> None:
    allowed = PROPER | ({grpc.StatusCode.PERMISSION_DENIED} if rpc.path in PERMISSION_BY_DATA else set())
    assert outcome.code in allowed, (rpc.path, outcome.code, outcome.message)
    if outcome.code is grpc.StatusCode.INVALID_ARGUMENT:
        violations = outcome.violations()
        assert violations, f"{rpc.path}: INVALID_ARGUMENT without google.rpc.BadRequest ({outcome.message})"
        assert all(v.field and v.description for v in violations), violations


def exercise(
    targets: Targets,
    rpc: Rpc,
    body: bytes,
    call: Callable[[Rpc, bytes], Outcome],
    snapshot: Callable[[], object],
    health: grpc.Channel,
) -> Outcome:
    before = snapshot()
    outcome = call(rpc, body)
    assert_proper(rpc, outcome)
    if outcome.code is not grpc.StatusCode.OK:
        assert snapshot() == before, f"{rpc.path} refused with {outcome.code.name} but wrote: {outcome.message}"
    assert serving(health), f"not serving after {rpc.path}"
    return outcome


def test_every_rpc_is_covered_and_callable_by_someone() -> None:
    assert {r.path for r in HUB_RPCS} <= set(REQUIRED_SCOPE)
    assert {r.path for r in NODE_RPCS} <= set(ALLOWED_ROLES)
    assert len(HUB_RPCS) >= 30 and len(NODE_RPCS) >= 10
    assert any(r.server_streaming for r in HUB_RPCS)  # the Watch stream is fuzzed too


@pytest.mark.parametrize("rpc", HUB_RPCS, ids=lambda r: r.name)
@FUZZ
@given(body=st.binary(max_size=2_000))
def test_hub_random_bytes(targets: Targets, rpc: Rpc, body: bytes) -> None:
    exercise(targets, rpc, body, targets.hub_call, targets.hub_snapshot, targets.channels["hub-health"])


@pytest.mark.parametrize("rpc", NODE_RPCS, ids=lambda r: r.name)
@FUZZ
@given(body=st.binary(max_size=2_000))
def test_node_random_bytes(targets: Targets, rpc: Rpc, body: bytes) -> None:
    exercise(targets, rpc, body, targets.node_call, targets.node_snapshot, targets.channels["node"])


@pytest.mark.parametrize("rpc", HUB_RPCS, ids=lambda r: r.name)
@FUZZ
@given(data=st.data())
def test_hub_hostile_messages(targets: Targets, rpc: Rpc, data: st.DataObject) -> None:
    body = data.draw(messages(rpc.request)).SerializeToString()
    exercise(targets, rpc, body, targets.hub_call, targets.hub_snapshot, targets.channels["hub-health"])


@pytest.mark.parametrize("rpc", NODE_RPCS, ids=lambda r: r.name)
@FUZZ
@given(data=st.data())
def test_node_hostile_messages(targets: Targets, rpc: Rpc, data: st.DataObject) -> None:
    body = data.draw(messages(rpc.request)).SerializeToString()
    exercise(targets, rpc, body, targets.node_call, targets.node_snapshot, targets.channels["node"])


def oversize() -> bytes:
    """A parseable request just past the limit: an unknown length-delimited field 1000 of padding."""
    padding = MAX_MESSAGE_BYTES + 1
    return b"\xc2\x3e" + _varint(padding) + b"p" * padding


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


@pytest.mark.parametrize("rpc", [*HUB_RPCS, *NODE_RPCS], ids=lambda r: r.name)
def test_oversize_requests_are_resource_exhausted(targets: Targets, rpc: Rpc) -> None:
    on_node = rpc in NODE_RPCS
    body = oversize()
    snapshot = targets.node_snapshot if on_node else targets.hub_snapshot
    before = snapshot()
    outcome = (targets.node_call if on_node else targets.hub_call)(rpc, body)
    assert outcome.code is grpc.StatusCode.RESOURCE_EXHAUSTED, (rpc.path, outcome.code, outcome.message)
    assert snapshot() == before
    assert serving(targets.channels["node" if on_node else "hub-health"])


def test_the_limit_is_the_configured_one(targets: Targets) -> None:
    """Just under the limit passes the size check (and then fails validation, not size)."""
    rpc = next(r for r in HUB_RPCS if r.name == "Check")
    size = MAX_MESSAGE_BYTES - 64
    body = b"\x0a" + _varint(size) + b"r" * size  # application_ref = "rrr…": too long, not too big
    outcome = targets.hub_call(rpc, body)
    assert outcome.code is grpc.StatusCode.INVALID_ARGUMENT, outcome
    assert outcome.violations()[0].field == "application_ref"


def _seeds() -> dict[str, Message]:
    """Valid requests of the RPCs with the deepest handlers, to mutate one field at a time."""
    check = check_request("fz-1", phone(1), rid(1))
    screen = node_pb2.ScreenRequest(
        application_ref="fz-screen-1",
        consent_ref="consent-1",
        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
        product_category="consumer_instalment",
        identifiers=node_pb2.Identifiers(phones=["+86 138 0013 8000"], resident_id="11010519491231002X"),
    )
    return {
        "/lianfang.v1.ConsortiumService/Check": check,
        "/lianfang.v1.ConsortiumService/BatchCheck": consortium_pb2.BatchCheckRequest(checks=[check]),
        "/lianfang.v1.ConsortiumService/ReportOutcome": consortium_pb2.ReportOutcomeRequest(
            application_ref="fz-1", outcome=common_pb2.OUTCOME_APPROVED
        ),
        "/lianfang.v1.ConsortiumService/FileMarker": consortium_pb2.FileMarkerRequest(
            token=phone(2), marker_type=common_pb2.MARKER_TYPE_SUSPECT, reason_code="FUZZ_SUSPECT", case_ref="c-1"
        ),
        "/lianfang.v1.AnalystService/ListRings": consortium_pb2.ListRingsRequest(min_score=0.5, limit=10),
        "/lianfang.v1.AnalystService/GetNeighbourhood": consortium_pb2.GetNeighbourhoodRequest(
            entity="lender-a/fz-1", hops=2
        ),
        "/lianfang.v1.OriginationService/Screen": screen,
        "/lianfang.v1.LoanService/SubmitApplication": application(LAO_WANG, "fz-app-1"),
    }


SEEDS = _seeds()
SEEDED = [r for r in [*HUB_RPCS, *NODE_RPCS] if r.path in SEEDS]


def test_every_seed_is_a_valid_request(targets: Targets) -> None:
    """The mutations start from requests the servers accept, so they reach past validation."""
    for rpc in SEEDED:
        call = targets.node_call if rpc in NODE_RPCS else targets.hub_call
        outcome = call(rpc, SEEDS[rpc.path].SerializeToString())
        assert outcome.code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND), (rpc.path, outcome)


@pytest.mark.parametrize("rpc", SEEDED, ids=lambda r: r.name)
@FUZZ
@given(data=st.data())
def test_valid_requests_with_one_hostile_field(targets: Targets, rpc: Rpc, data: st.DataObject) -> None:
    body = data.draw(mutations(SEEDS[rpc.path])).SerializeToString()
    if rpc in NODE_RPCS:
        exercise(targets, rpc, body, targets.node_call, targets.node_snapshot, targets.channels["node"])
    else:
        exercise(targets, rpc, body, targets.hub_call, targets.hub_snapshot, targets.channels["hub-health"])
