"""Every hub RPC × every scope against one real hub: allowed exactly when the RPC's scope is the
token's, refused with PERMISSION_DENIED otherwise; the table covers every RPC the hub serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from google.protobuf import symbol_database
from lianfang.v1 import audit_pb2, canaries_pb2, consortium_pb2

from clients.credentials import load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from consortium.policy import KIND_SCOPES, REQUIRED_SCOPE, Caller, Scope
from tests.support.consortium import raw_jwt

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # one hub for the whole table

SERVICES = [
    *(consortium_pb2.DESCRIPTOR.services_by_name[n] for n in ("ConsortiumService", "AdminService", "AnalystService")),
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
    canaries_pb2.DESCRIPTOR.services_by_name["CanaryService"],
]
RPCS = sorted(f"/{service.full_name}/{method.name}" for service in SERVICES for method in service.methods)
SUBJECT = {Caller.MEMBER: "lender-a", Caller.ADMIN: "admin/demo", Caller.ANALYST: "analyst/demo"}


def kind_of(scope: Scope) -> Caller:
    return next(kind for kind, scopes in KIND_SCOPES.items() if scope in scopes)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def consortium(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalConsortium]:
    c = await start_local_consortium(tmp_path_factory.mktemp("authz"), ["lender-a"])
    try:
        yield c
    finally:
        await c.stop()


def test_the_table_covers_every_rpc_of_the_hub() -> None:
    assert sorted(REQUIRED_SCOPE) == RPCS


async def call(c: LocalConsortium, method: str, token: str, subject: str) -> grpc.StatusCode:
    service, name = method.strip("/").split("/")
    descriptor = next(s for s in SERVICES if s.full_name == service).methods_by_name[name]
    request_type = symbol_database.Default().GetSymbol(descriptor.input_type.full_name)
    channel = c.hub_channel(subject)  # mutual TLS with the token subject's own certificate
    metadata = (("authorization", f"Bearer {token}"),)
    try:
        if descriptor.server_streaming:  # authorised: the stream's first message arrives
            stream = channel.unary_stream(
                method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=bytes
            )
            call = stream(request_type(), metadata=metadata, timeout=10)
            await call.read()
            call.cancel()
            return grpc.StatusCode.OK
        stub = channel.unary_unary(
            method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=bytes
        )
        await stub(request_type(), metadata=metadata, timeout=10)
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await channel.close()


def key_of(c: LocalConsortium, kind: Caller) -> str:
    names = {
        Caller.MEMBER: c.members["lender-a"].key_file,
        Caller.ADMIN: "keys/admin.pem",
        Caller.ANALYST: "keys/analyst.pem",
    }
    path = names[kind]
    return path if kind is Caller.MEMBER else str(c.folder / path)


@MODULE_LOOP
@pytest.mark.parametrize("scope", list(Scope), ids=lambda s: s.value)
@pytest.mark.parametrize("method", RPCS, ids=lambda m: m.rsplit("/", 1)[-1])
async def test_rpc_by_scope(consortium: LocalConsortium, method: str, scope: Scope) -> None:
    kind = kind_of(scope)
    token = raw_jwt(load_private_key(key_of(consortium, kind)), SUBJECT[kind], scope=scope.value)
    code = await call(consortium, method, token, SUBJECT[kind])
    if REQUIRED_SCOPE[method] is scope:
        # Past authorisation: an empty request may still be invalid or name nothing.
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), code
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), code
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED, code


@MODULE_LOOP
@pytest.mark.parametrize("scope", list(Scope), ids=lambda s: s.value)
async def test_a_principal_cannot_hold_another_kinds_scope(consortium: LocalConsortium, scope: Scope) -> None:
    for kind in Caller:
        if scope in KIND_SCOPES[kind]:
            continue
        token = raw_jwt(load_private_key(key_of(consortium, kind)), SUBJECT[kind], scope=scope.value)
        method = next(m for m, s in REQUIRED_SCOPE.items() if s is scope)
        assert await call(consortium, method, token, SUBJECT[kind]) == grpc.StatusCode.PERMISSION_DENIED, (kind, scope)


def test_every_scope_is_held_by_some_kind() -> None:
    held = {scope for scopes in KIND_SCOPES.values() for scope in scopes}
    assert held == set(Scope)


def test_a_method_missing_from_the_table_is_refused_not_open() -> None:
    from consortium.policy import Unlisted, required_scope

    assert required_scope("/grpc.health.v1.Health/Check") is None
    with pytest.raises(Unlisted):
        required_scope("/lianfang.v1.ConsortiumService/SomethingNew")
