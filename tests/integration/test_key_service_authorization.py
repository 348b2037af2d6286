"""Every key-service RPC × every key-service scope against a real key service over mutual TLS:
allowed exactly when the RPC's scope is the token's; the table covers every RPC it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from google.protobuf import symbol_database
from lianfang.v1 import keys_pb2

from clients.credentials import KEYS_AUDIENCE, JwtSigner, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from consortium.key_service.policy import KIND_SCOPES, REQUIRED_SCOPE, KeyCaller, KeyScope

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
SERVICE = keys_pb2.DESCRIPTOR.services_by_name["KeyService"]
RPCS = sorted(f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods)
SUBJECT = {KeyCaller.MEMBER: "lender-a", KeyCaller.ADMIN: "admin/demo", KeyCaller.HUB: "hub/main"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def c(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalConsortium]:
    consortium = await start_local_consortium(tmp_path_factory.mktemp("keys-authz"), ["lender-a"], token_mode="oprf")
    try:
        yield consortium
    finally:
        await consortium.stop()


def test_the_table_covers_every_rpc_of_the_key_service() -> None:
    assert sorted(REQUIRED_SCOPE) == RPCS


def key_file(c: LocalConsortium, kind: KeyCaller) -> str:
    return {
        KeyCaller.MEMBER: c.members["lender-a"].key_file,
        KeyCaller.ADMIN: str(c.folder / "keys" / "admin.pem"),
        KeyCaller.HUB: str(c.folder / "keys" / "hub-rekey.pem"),
    }[kind]


async def call(c: LocalConsortium, method: str, subject: str, token: str) -> grpc.StatusCode:
    assert c.key_service is not None
    descriptor = SERVICE.methods_by_name[method.rsplit("/", 1)[-1]]
    request_type = symbol_database.Default().GetSymbol(descriptor.input_type.full_name)
    channel = c.key_service.channel(subject)
    stub = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=bytes)
    try:
        await stub(request_type(), metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await channel.close()


@MODULE_LOOP
@pytest.mark.parametrize("scope", list(KeyScope), ids=lambda s: s.value)
@pytest.mark.parametrize("method", RPCS, ids=lambda m: m.rsplit("/", 1)[-1])
async def test_rpc_by_scope(c: LocalConsortium, method: str, scope: KeyScope) -> None:
    kind = next(k for k, scopes in KIND_SCOPES.items() if scope in scopes)
    signer = JwtSigner(
        SUBJECT[kind], load_private_key(key_file(c, kind)), audience=KEYS_AUDIENCE, scopes=(scope.value,)
    )
    code = await call(c, method, SUBJECT[kind], signer.token())
    if REQUIRED_SCOPE[method] is scope:
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), code
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED, code


@MODULE_LOOP
async def test_wrong_audience_certificate_or_kind_is_refused(c: LocalConsortium) -> None:
    member = load_private_key(key_file(c, KeyCaller.MEMBER))
    method = f"/{SERVICE.full_name}/GetPublicKeys"
    hub_token = JwtSigner("lender-a", member, scopes=("query",)).token()  # audience lianfang-hub
    assert await call(c, method, "lender-a", hub_token) == grpc.StatusCode.UNAUTHENTICATED
    token = JwtSigner("lender-a", member, audience=KEYS_AUDIENCE, scopes=("evaluate",)).token()
    assert await call(c, method, "lender-b", token) == grpc.StatusCode.UNAUTHENTICATED  # another's certificate
    grab = JwtSigner("lender-a", member, audience=KEYS_AUDIENCE, scopes=("rekey",)).token()
    assert await call(c, f"/{SERVICE.full_name}/GetRekeyDelta", "lender-a", grab) == grpc.StatusCode.PERMISSION_DENIED
    admin = load_private_key(key_file(c, KeyCaller.ADMIN))
    once = JwtSigner("admin/demo", admin, audience=KEYS_AUDIENCE, scopes=("admin",)).token()
    audit = f"/{SERVICE.full_name}/ListEvaluationAudit"
    assert await call(c, audit, "admin/demo", once) == grpc.StatusCode.OK
    assert await call(c, audit, "admin/demo", once) == grpc.StatusCode.UNAUTHENTICATED  # single-use
