"""What ``lianfang up`` launches: the launcher's TOML, and the state directory it fills.

The launcher file (``deploy/local/consortium.toml``) names the members and ports; ``[hub]`` and
``[node]`` tables pass any further setting through to every hub or node. ``prepare`` makes, once
and then reuses, everything a real consortium needs: a development CA with the hub's, the nodes'
and every principal's client certificate, the admin, analyst and audit keys, each member's
signing key and identity-provider key, and the consortium token key; then writes one TOML per
process (``hub.toml``, ``node-<member>.toml``) that ``lianfang hub serve`` / ``lianfang node
serve`` read as they would in production. Port 0 in the launcher file means "pick a free one".
"""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.credentials import generate_key_file, load_private_key, public_key_bytes, write_secret
from node.identity.tokens import new_consortium_key
from runtime.config import ConfigError
from runtime.tls import DevCertificateAuthority
from runtime.toml_file import file_error, read_toml_file

ADMIN_NAME = "local"


@dataclass(frozen=True)
class MemberPlan:
    member_id: str
    name: str
    category: str = "microloan"
    port: int = 0
    metrics_port: int = 0


@dataclass(frozen=True)
class LaunchPlan:
    """The parsed launcher file; relative ``state_dir`` is relative to the file's folder."""

    state_dir: Path
    host: str = "127.0.0.1"
    hub_port: int = 7443
    hub_metrics_port: int = 9443
    members: tuple[MemberPlan, ...] = ()
    hub: dict[str, Any] = field(default_factory=dict)
    node: dict[str, Any] = field(default_factory=dict)


def load_plan(path: str | Path, state_dir: str | None = None) -> LaunchPlan:
    path = Path(path)
    data = read_toml_file(path, file_error("launcher config"))
    top = data.get("consortium", {})
    known = {"state_dir", "host", "hub_port", "hub_metrics_port"}
    for key in top:
        if key not in known:
            raise ConfigError(f"[consortium] {key}: unknown setting (known: {', '.join(sorted(known))})")
    members = []
    for i, m in enumerate(data.get("members", [])):
        if "id" not in m:
            raise ConfigError(f"[[members]] #{i + 1}: id is required")
        members.append(
            MemberPlan(
                m["id"],
                m.get("name", m["id"]),
                m.get("category", "microloan"),
                m.get("port", 0),
                m.get("metrics_port", 0),
            )
        )
    if not members:
        raise ConfigError(f"launcher config {path}: at least one [[members]] entry is required")
    state = Path(state_dir) if state_dir else path.parent / top.get("state_dir", "state")
    return LaunchPlan(
        state_dir=state.resolve(),
        host=top.get("host", "127.0.0.1"),
        hub_port=int(top.get("hub_port", 7443)),
        hub_metrics_port=int(top.get("hub_metrics_port", 9443)),
        members=tuple(members),
        hub=dict(data.get("hub", {})),
        node=dict(data.get("node", {})),
    )


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Process:
    """One child to start: ``lianfang <noun> serve --config <config>``."""

    name: str  # "hub" or the member id
    noun: str  # "hub" or "node"
    config: Path
    address: str  # host:port its gRPC API listens on (TLS)
    metrics: str  # host:port of its /metrics


@dataclass(frozen=True)
class Prepared:
    hub: Process
    nodes: tuple[Process, ...]
    ca_file: str
    admin_key: str
    admin_cert: tuple[str, str]
    member_public_keys: dict[str, bytes]


def _toml(table: str, values: dict[str, Any]) -> str:
    def encode(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(str(k))} = {encode(x)}" for k, x in v.items()) + " }"
        return json.dumps(str(v), ensure_ascii=False)

    return f"[{table}]\n" + "".join(f"{k} = {encode(v)}\n" for k, v in values.items())


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _key(path: Path) -> bytes:
    """The public key of a signing key file, made on first use."""
    return public_key_bytes(load_private_key(path)) if path.exists() else generate_key_file(path)


def prepare(plan: LaunchPlan) -> Prepared:
    """Fills ``plan.state_dir`` (idempotent: existing keys and the CA are kept) and writes the configs."""
    state = plan.state_dir
    keys = state / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    ca = DevCertificateAuthority(state / "certs")
    hub_cert = ca.issue("hub", ("localhost", plan.host))
    admin_cert = ca.issue_client(f"admin/{ADMIN_NAME}")
    ca.issue_client(f"analyst/{ADMIN_NAME}")
    consortium_key = keys / "consortium-epoch-1.hex"
    if not consortium_key.exists():
        write_secret(consortium_key, new_consortium_key().hex().encode())
    hub_port = plan.hub_port or free_port(plan.host)
    hub_metrics = f"{plan.host}:{plan.hub_metrics_port or free_port(plan.host)}"
    hub_settings = {
        "listen": f"{plan.host}:{hub_port}",
        "store": f"sqlite:///{state / 'hub.db'}",
        "tls_cert": hub_cert.cert_file,
        "tls_key": hub_cert.key_file,
        "tls_client_ca": ca.ca_file,
        "admin_keys": {ADMIN_NAME: b64(_key(keys / "admin.pem"))},
        "analyst_keys": {ADMIN_NAME: b64(_key(keys / "analyst.pem"))},
        "audit_key_file": str(keys / "hub-audit.pem"),
        "metrics_listen": hub_metrics,
        **plan.hub,
    }
    _key(keys / "hub-audit.pem")
    hub_config = state / "hub.toml"
    hub_config.write_text(_toml("hub", hub_settings))
    hub = Process("hub", "hub", hub_config, f"localhost:{hub_port}", hub_metrics)
    nodes, publics = [], {}
    for m in plan.members:
        publics[m.member_id] = _key(keys / f"{m.member_id}.pem")
        identity = _key(keys / f"{m.member_id}-identity.pem")  # the lender's identity provider (dev)
        node_cert = ca.issue(f"node-{m.member_id}", ("localhost", plan.host))
        client = ca.issue_client(m.member_id)
        port = m.port or free_port(plan.host)
        metrics = f"{plan.host}:{m.metrics_port or free_port(plan.host)}"
        settings = {
            "member_id": m.member_id,
            "member_key_file": str(keys / f"{m.member_id}.pem"),
            "consortium_key_file": str(consortium_key),
            "api_identity_key": b64(identity),
            "listen": f"{plan.host}:{port}",
            "hub_address": hub.address,
            "hub_ca_file": ca.ca_file,
            "hub_cert_file": client.cert_file,
            "hub_key_file": client.key_file,
            "tls_cert": node_cert.cert_file,
            "tls_key": node_cert.key_file,
            "database": str(state / f"node-{m.member_id}.db"),
            "metrics_listen": metrics,
            **plan.node,
        }
        config = state / f"node-{m.member_id}.toml"
        config.write_text(_toml("node", settings))
        nodes.append(Process(m.member_id, "node", config, f"localhost:{port}", metrics))
    return Prepared(
        hub, tuple(nodes), ca.ca_file, str(keys / "admin.pem"), (admin_cert.cert_file, admin_cert.key_file), publics
    )
