"""The OPRF key service of a local consortium (``lianfang demo --tokens oprf``, tests): started
next to the hub over mutual TLS, with its own principals, and one key rotation re-keying the hub.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from dataclasses import dataclass
from pathlib import Path

import grpc
from lianfang.v1 import keys_pb2

from clients.channel import open_channel
from clients.credentials import KEYS_AUDIENCE, JwtSigner, generate_key_file, load_private_key, write_secret
from clients.keys import KeyServiceClient
from consortium.key_service.config import KeyServiceConfig
from consortium.key_service.server import RunningKeyService, start_key_service
from consortium.rekey import Rekeyer, RekeyReport
from consortium.rings import RingTracker
from consortium.store.base import Store
from runtime.clock import Clock
from runtime.tls import DevCertificateAuthority

ADMIN, HUB_OPERATOR = "admin/demo", "hub/main"


@dataclass
class LocalKeyService:
    service: RunningKeyService
    ca: DevCertificateAuthority
    folder: Path
    config: KeyServiceConfig
    clock: Clock

    @property
    def address(self) -> str:
        return f"localhost:{self.service.port}"

    def channel(self, subject: str) -> grpc.aio.Channel:
        cert = self.ca.issue_client(subject)
        return open_channel(self.address, ca_file=self.ca.ca_file, cert_file=cert.cert_file, key_file=cert.key_file)

    def client(self, subject: str, key_file: str | Path, scope: str) -> KeyServiceClient:
        signer = JwtSigner(subject, load_private_key(key_file), audience=KEYS_AUDIENCE, scopes=(scope,))
        return KeyServiceClient(self.channel(subject), signer)

    def admin(self) -> KeyServiceClient:
        return self.client(ADMIN, self.folder / "keys" / "admin.pem", "admin")

    def hub_operator(self) -> KeyServiceClient:
        return self.client(HUB_OPERATOR, self.folder / "keys" / "hub-rekey.pem", "rekey")

    async def rotate(self, store: Store, rings: RingTracker) -> RekeyReport:
        """One rotation: new epoch, the hub re-keyed with Δ (pass, activate, pass), old key
        destroyed; the serving hub then folds the links."""
        admin, operator = self.admin(), self.hub_operator()
        try:
            old = next(
                e.epoch for e in (await admin.audit(limit=1)).epochs if e.state == keys_pb2.KEY_EPOCH_STATE_ACTIVE
            )
            new = (await admin.rotate()).epoch
            delta = (await operator.rekey_delta(old, new)).delta
            report = await Rekeyer(store, delta, old, new).run(between=lambda: _activate(admin, new))
            del delta
            await admin.retire(old)
        finally:
            await admin.close()
            await operator.close()
        await rings.catch_up()
        return report

    async def stop(self) -> None:
        await self.service.stop(0.5)

    async def restart(self) -> None:
        """Starts the (stopped) service again on its port, vault and keys; nodes' channels
        reconnect on their own."""
        config = dataclasses.replace(self.config, listen=f"127.0.0.1:{self.service.port}")
        self.service = await start_key_service(config, clock=self.clock)


async def _activate(admin: KeyServiceClient, epoch: int) -> None:
    await admin.activate(epoch)


async def start_local_key_service(
    folder: Path, ca: DevCertificateAuthority, members: dict[str, bytes], clock: Clock, admin_public: bytes
) -> LocalKeyService:
    """``members``: member id → raw Ed25519 public key (the one it signs hub JWTs with)."""
    cert = ca.issue("keys")
    master = folder / "keys" / "key-service-master.hex"
    if not master.exists():
        write_secret(master, secrets.token_hex(32).encode())
    hub_public = generate_key_file(folder / "keys" / "hub-rekey.pem")
    config = KeyServiceConfig(
        listen="127.0.0.1:0",
        database=str(folder / "keys.db"),
        master_key_file=str(master),
        tls_cert=cert.cert_file,
        tls_key=cert.key_file,
        tls_client_ca=ca.ca_file,
        member_keys={m: _b64(k) for m, k in members.items()},
        admin_keys={"demo": _b64(admin_public)},
        hub_keys={"main": _b64(hub_public)},
    )
    return LocalKeyService(await start_key_service(config, clock=clock), ca, folder, config, clock)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
