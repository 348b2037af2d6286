"""Every node RPC × every role against a real node over TLS: the role interceptor lets a call
through exactly when the role is in the method's row of ``ALLOWED_ROLES``; a method missing
from the table is refused, not left open; health and reflection stay open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from google.protobuf import symbol_database
from lianfang.v1 import node_pb2

from clients.channel import open_channel
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.node import staff_signer
from node.origination.roles import ALLOWED_ROLES, ROLES, RoleInterceptor
from runtime.interceptors import refuse_unlisted

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
SERVICES = node_pb2.DESCRIPTOR.services_by_name.values()
RPCS = sorted(f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def c(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalConsortium]:
    consortium = await start_local_consortium(tmp_path_factory.mktemp("node-authz"), ["lender-a"])
    try:
        yield consortium
    finally:
        await consortium.stop()


def test_the_table_covers_every_rpc_of_the_node() -> None:
    assert sorted(ALLOWED_ROLES) == RPCS


def test_a_method_missing_from_the_table_is_refused_and_health_stays_open() -> None:
    roles = RoleInterceptor(b"\x01" * 32)
    assert roles.wrapper("/lianfang.v1.LoanService/NotInTheTable") is refuse_unlisted
    assert roles.wrapper("/grpc.health.v1.Health/Check") is None
    assert roles.wrapper("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") is None


async def call(c: LocalConsortium, method: str, role: str) -> tuple[grpc.StatusCode, str]:
    """``method`` with an empty request, as ``role``: the status and its message."""
    member = c.members["lender-a"]
    service, name = method.rsplit("/", 1)
    descriptor = node_pb2.DESCRIPTOR.services_by_name[service.rsplit(".", 1)[-1]].methods_by_name[name]
    request_type = symbol_database.Default().GetSymbol(descriptor.input_type.full_name)
    token = staff_signer(member.identity_key, f"{role}-authz", role).token()
    channel = open_channel(f"localhost:{member.node.port}", ca_file=c.ca.ca_file)
    stub = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=bytes)
    try:
        await stub(request_type(), metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        return grpc.StatusCode.OK, ""
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    finally:
        await channel.close()


@MODULE_LOOP
@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("method", RPCS, ids=lambda m: m.rsplit("/", 1)[-1])
async def test_rpc_by_role(c: LocalConsortium, method: str, role: str) -> None:
    code, message = await call(c, method, role)
    refused_by_role = code == grpc.StatusCode.PERMISSION_DENIED and "may not call" in message
    if role in ALLOWED_ROLES[method]:
        assert not refused_by_role and code != grpc.StatusCode.UNAUTHENTICATED, (code, message)
    else:
        assert refused_by_role, (code, message)


def test_the_table_keeps_the_separation_of_duties() -> None:
    """The rows that matter most, pinned: a change to them must be made here too, on purpose."""

    def allowed(role: str) -> set[str]:
        return {m.rsplit("/", 1)[-1] for m, roles in ALLOWED_ROLES.items() if role in roles}

    # a borrower reaches the products on offer, its own application, contract, drawdowns and
    # loan, and nothing else
    assert allowed("customer") == {
        "ListProducts",
        "SubmitApplication",
        "GetApplication",
        "GetContract",
        "SendSigningCode",
        "SignContract",
        "RequestDrawdown",
        "GetLoan",
    }
    # what changes the consortium's blacklist for every member is the risk manager's alone
    for method in ("ConfirmFraud", "WithdrawMarker", "ListMarkers"):
        assert {r for m, r in ALLOWED_ROLES.items() if m.endswith("/" + method)} == {frozenset({"risk_manager"})}
    # credit and money decisions are never the system admin's, nor each other's
    assert not allowed("system_admin") & {"DecideReferral", "ReviewDisbursement", "SubmitDueDiligence"}
    assert "ReviewDisbursement" not in allowed("credit_approver")
    assert "DecideReferral" not in allowed("disbursement_reviewer")


@MODULE_LOOP
@pytest.mark.parametrize("subject", ["", "   ", "\u200b"])
async def test_a_token_without_a_subject_is_refused(c: LocalConsortium, subject: str) -> None:
    """Who owns an application rests on the subject: a customer token naming nobody read the
    unclaimed applications staff submitted and left its own unowned, for any customer to take."""
    member = c.members["lender-a"]
    token = staff_signer(member.identity_key, subject, "customer").token()
    channel = open_channel(f"localhost:{member.node.port}", ca_file=c.ca.ca_file)
    stub = channel.unary_unary(
        "/lianfang.v1.LoanService/ListProducts",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=bytes,
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub(node_pb2.ListProductsRequest(), metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "subject" in (refused.value.details() or "")
    finally:
        await channel.close()
