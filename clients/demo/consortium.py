"""A whole consortium in one process: dev CA, hub, admin, N member nodes, all over real TLS.

Used by ``lianfang demo`` and by the end-to-end tests, so both exercise the same assembly.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clients.analyst import AnalystClient
from clients.channel import open_channel
from clients.credentials import JwtSigner, generate_key_file, load_private_key, public_key_bytes, write_secret
from clients.demo.key_service import LocalKeyService, start_local_key_service
from clients.hub import AdminClient, HubClient
from clients.key_epochs import generate_encryption_key_file
from clients.node import NodeClient, staff_signer
from consortium.config import HubConfig
from consortium.server import RunningHub, start_hub
from node.config import NodeConfig
from node.identity.keyring import KeyRing
from node.identity.tokens import new_consortium_key
from node.server import RunningNode, start_node
from runtime.clock import Clock, system_clock
from runtime.tls import DevCertificateAuthority


@dataclass
class LocalMember:
    member_id: str
    node: RunningNode
    node_client: NodeClient  # signed as the member's risk manager
    hub_client: HubClient  # the member's back office talking to the hub directly (markers, outcomes)
    key_file: str
    identity_key: Ed25519PrivateKey  # the lender's identity provider: signs staff and customer JWTs
    config: NodeConfig

    @property
    def tokeniser(self) -> KeyRing:
        """The node's current consortium keys (the back office tokenises with the same ones)."""
        return self.node.keyring

    def as_role(self, role: str, subject: str = "") -> NodeClient:
        """A client of this member's node for one person in one role."""
        return self.node_client.as_role(staff_signer(self.identity_key, subject or f"{role}-1", role))


@dataclass
class LocalConsortium:
    folder: Path
    hub: RunningHub
    admin: AdminClient
    analyst: AnalystClient
    ca: DevCertificateAuthority
    clock: Clock
    audit_public_key: str  # base64 raw Ed25519: what members verify the hub's tree heads with
    members: dict[str, LocalMember] = field(default_factory=dict)
    hub_config: HubConfig | None = None
    key_service: LocalKeyService | None = None  # token_mode "oprf"

    @property
    def hub_address(self) -> str:
        return f"localhost:{self.hub.port}"

    def hub_channel(self, subject: str) -> grpc.aio.Channel:
        """A mutual-TLS channel to the hub with a client certificate for ``subject`` (the hub
        binds it to the JWT's subject): ``lender-a``, ``admin/demo``, ``analyst/demo``."""
        cert = self.ca.issue_client(subject)
        return open_channel(self.hub_address, ca_file=self.ca.ca_file, cert_file=cert.cert_file, key_file=cert.key_file)

    async def restart_node(self, member_id: str) -> None:
        """Stops a member's node process and starts it again on the same configuration and files."""
        m = self.members[member_id]
        await m.node_client.close()
        await m.node.stop(0.5)
        m.node = await start_node(m.config, clock=self.clock)
        m.node_client = NodeClient(
            open_channel(f"localhost:{m.node.port}", ca_file=self.ca.ca_file),
            staff_signer(m.identity_key, f"risk-{member_id}", "risk_manager"),
        )

    async def restart_hub(self) -> None:
        """Stops the hub process and starts it again on the same port, configuration and store
        (it replays the consortium log); clients' channels reconnect on their own."""
        assert self.hub_config is not None
        await self.hub.stop(0.5)
        config = dataclasses.replace(self.hub_config, listen=f"127.0.0.1:{self.hub.port}")
        self.hub = await start_hub(config, clock=self.clock)

    async def rotate_keys(self, epoch: int) -> None:
        """Starts a rotation: a new epoch's key, wrapped to every member; nodes pick it up and
        send both epochs (the overlap) until ``retire_keys``."""
        await self.admin.create_key_epoch(epoch, new_consortium_key())
        for m in self.members.values():
            await m.node.refresh_keys()

    async def retire_keys(self, epoch: int) -> None:
        """Ends the overlap: the old epoch is retired; nodes send the new one only."""
        await self.admin.retire_key_epoch(epoch)
        for m in self.members.values():
            await m.node.refresh_keys()

    async def stop(self) -> None:
        for m in self.members.values():
            await m.node_client.close()
            await m.hub_client.close()
            await m.node.stop(0.5)
        await self.admin.close()
        await self.analyst.close()
        await self.hub.stop(0.5)
        if self.key_service is not None:
            await self.key_service.stop()


async def start_local_consortium(
    folder: str | Path,
    member_ids: list[str],
    *,
    store_url: str = "",
    clock: Clock = system_clock,
    member_category: str = "microloan",
    source_latency_ms: float = 0.0,
    scenario_file: str = "",
    node_options: dict[str, Any] | None = None,
    hub_options: dict[str, Any] | None = None,
    key_source: str = "file",
    token_mode: str = "hmac",
) -> LocalConsortium:
    """Starts a hub and one node per member id, enrols and approves every member.

    ``key_source="hub"``: every member gets an X25519 key, the admin wraps epoch 1's token key
    to each (the hub holds only the wrapped blobs) and the nodes fetch it; ``rotate_keys`` and
    ``retire_keys`` run a rotation. ``"file"``: one shared key file, epoch 1.
    ``token_mode="oprf"``: a key service runs too and the nodes get their tokens from it
    (``consortium.key_service.rotate`` re-keys the hub).
    """
    folder = Path(folder)
    ca = DevCertificateAuthority(folder / "certs")
    hub_cert = ca.issue("hub")
    admin_key_file = folder / "keys" / "admin.pem"
    admin_public = generate_key_file(admin_key_file)
    analyst_key_file = folder / "keys" / "analyst.pem"
    analyst_public = generate_key_file(analyst_key_file)
    audit_key_file = folder / "keys" / "hub-audit.pem"  # kept across restarts: heads stay verifiable
    if audit_key_file.exists():
        audit_public = public_key_bytes(load_private_key(audit_key_file))
    else:
        audit_public = generate_key_file(audit_key_file)
    hub_config = HubConfig(
        listen="127.0.0.1:0",
        store=store_url or f"sqlite:///{folder / 'hub.db'}",
        tls_cert=hub_cert.cert_file,
        tls_key=hub_cert.key_file,
        tls_client_ca=ca.ca_file,  # mutual TLS: every principal presents its own certificate
        admin_keys={"demo": base64.b64encode(admin_public).decode()},
        analyst_keys={"demo": base64.b64encode(analyst_public).decode()},
        **{"audit_key_file": str(audit_key_file), "member_cache_seconds": 0.2, **(hub_options or {})},
    )
    hub = await start_hub(hub_config, clock=clock)
    hub_address = f"localhost:{hub.port}"

    def channel(subject: str) -> grpc.aio.Channel:
        cert = ca.issue_client(subject)
        return open_channel(hub_address, ca_file=ca.ca_file, cert_file=cert.cert_file, key_file=cert.key_file)

    admin = AdminClient(channel("admin/demo"), JwtSigner("admin/demo", load_private_key(admin_key_file)))
    analyst = AnalystClient(channel("analyst/demo"), JwtSigner("analyst/demo", load_private_key(analyst_key_file)))
    consortium = LocalConsortium(
        folder, hub, admin, analyst, ca, clock, base64.b64encode(audit_public).decode(), hub_config=hub_config
    )
    consortium_key = new_consortium_key()
    key_file = folder / "keys" / "consortium-epoch-1.hex"
    write_secret(key_file, consortium_key.hex().encode())
    key_file.chmod(0o600)
    enrolled: dict[str, tuple[Path, bytes]] = {}
    for member_id in member_ids:
        member_key = folder / "keys" / f"{member_id}.pem"
        public = generate_key_file(member_key)
        await admin.register_member(member_id, member_id.replace("-", " ").title(), member_category, public)
        await admin.change_member("approve", member_id, "demo enrolment")
        enrolled[member_id] = (member_key, public)
        if key_source == "hub":
            x25519 = generate_encryption_key_file(folder / "keys" / f"{member_id}-x25519.pem")
            await admin.set_encryption_key(member_id, x25519)
    if key_source == "hub" and member_ids:
        await admin.create_key_epoch(1, consortium_key)
    if token_mode == "oprf":
        publics = {m: public for m, (_, public) in enrolled.items()}
        consortium.key_service = await start_local_key_service(folder, ca, publics, clock, admin_public)
    for member_id, (member_key, _) in enrolled.items():
        node_cert = ca.issue(f"node-{member_id}")
        hub_client_cert = ca.issue_client(member_id)
        identity_key = Ed25519PrivateKey.generate()
        keys: dict[str, Any] = (
            {"key_source": "hub", "encryption_key_file": str(folder / "keys" / f"{member_id}-x25519.pem")}
            if key_source == "hub"
            else {"consortium_key_file": str(key_file)}
        )
        oprf_options: dict[str, Any] = (
            {"token_mode": "oprf", "key_service_address": consortium.key_service.address}
            if consortium.key_service is not None
            else {}
        )
        node_config = NodeConfig(
            member_id=member_id,
            member_key_file=str(member_key),
            api_identity_key=base64.b64encode(public_key_bytes(identity_key)).decode(),
            listen="127.0.0.1:0",
            hub_address=hub_address,
            hub_ca_file=ca.ca_file,
            hub_cert_file=hub_client_cert.cert_file,
            hub_key_file=hub_client_cert.key_file,
            tls_cert=node_cert.cert_file,
            tls_key=node_cert.key_file,
            database=str(folder / f"node-{member_id}.db"),
            source_latency_ms=source_latency_ms,
            scenario_file=scenario_file,
            **keys,
            **oprf_options,
            **(node_options or {}),
        )
        node = await start_node(node_config, clock=clock)
        consortium.members[member_id] = LocalMember(
            member_id=member_id,
            node=node,
            node_client=NodeClient(
                open_channel(f"localhost:{node.port}", ca_file=ca.ca_file),
                staff_signer(identity_key, f"risk-{member_id}", "risk_manager"),
            ),
            hub_client=HubClient(channel(member_id), JwtSigner(member_id, load_private_key(member_key))),
            key_file=str(member_key),
            identity_key=identity_key,
            config=node_config,
        )
    return consortium
