"""What the hostile-input tests need: every RPC of hub and node from the generated descriptors,
a credential of a principal allowed to call it, a raw-bytes call, and store snapshots that show
whether a rejected call wrote anything."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor as d
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lianfang.v1 import audit_pb2, canaries_pb2, consortium_pb2, node_pb2

from consortium.policy import REQUIRED_SCOPE, Scope
from node.origination.roles import ALLOWED_ROLES

# Every service of the hub's and the node's contract files: a service added to one is fuzzed too.
HUB_SERVICES = [s for f in (consortium_pb2, audit_pb2, canaries_pb2) for s in f.DESCRIPTOR.services_by_name.values()]
NODE_SERVICES = list(node_pb2.DESCRIPTOR.services_by_name.values())


@dataclass(frozen=True)
class Rpc:
    path: str  # "/lianfang.v1.Service/Method"
    request: d.Descriptor
    server_streaming: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def rpcs(services: list[d.ServiceDescriptor]) -> list[Rpc]:
    """Every unary and server-streaming RPC of the services (none of ours streams from the client)."""
    return [
        Rpc(f"/{s.full_name}/{m.name}", m.input_type, m.server_streaming)
        for s in services
        for m in s.methods
        if not m.client_streaming
    ]


HUB_RPCS = rpcs(HUB_SERVICES)
NODE_RPCS = rpcs(NODE_SERVICES)

SCOPE_SUBJECT = {
    Scope.QUERY: "lender-a",
    Scope.CONTRIBUTE: "lender-a",
    Scope.AUDIT: "lender-a",
    Scope.ADMIN: "admin/demo",
    Scope.ANALYST: "analyst/demo",
}


def hub_subject(rpc: Rpc) -> tuple[str, Scope]:
    scope = REQUIRED_SCOPE[rpc.path]
    return SCOPE_SUBJECT[scope], scope


def node_role(rpc: Rpc) -> str:
    return sorted(ALLOWED_ROLES[rpc.path])[0]


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    message: str
    details: status_pb2.Status | None

    def violations(self) -> list[error_details_pb2.BadRequest.FieldViolation]:
        found: list[error_details_pb2.BadRequest.FieldViolation] = []
        for any_detail in self.details.details if self.details else ():
            bad = error_details_pb2.BadRequest()
            if any_detail.Unpack(bad):
                found += bad.field_violations
        return found


def call_raw(
    channel: grpc.Channel, path: str, body: bytes, metadata: tuple[tuple[str, str], ...], *, streaming: bool = False
) -> Outcome:
    """Sends ``body`` as the request's bytes, whatever they are; the status that comes back. A
    server stream that sends its first message is OK (then cancelled: a Watch never ends)."""
    try:
        if streaming:
            call = channel.unary_stream(path, request_serializer=None, response_deserializer=None)(
                body, metadata=metadata, timeout=30
            )
            try:
                next(iter(call), None)
            finally:
                call.cancel()
        else:
            stub = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
            stub(body, metadata=metadata, timeout=30)
        return Outcome(grpc.StatusCode.OK, "", None)
    except grpc.RpcError as error:
        status = None
        for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
        return Outcome(error.code(), error.details() or "", status)  # type: ignore[attr-defined]


def serving(channel: grpc.Channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def sqlite_counts(path: Path, *, ignore: frozenset[str] = frozenset()) -> dict[str, int]:
    """Rows per table of a SQLite file (read-only; the server keeps writing through WAL)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables if t not in ignore}
    finally:
        db.close()


Snapshot = Callable[[], object]
