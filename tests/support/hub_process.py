"""Real ``lianfang hub serve`` processes over TLS for failure tests (kill -9, restart, replicas),
and the members they serve, registered and approved through AdminService."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.channel import open_channel
from clients.credentials import JwtSigner, generate_key_file, load_private_key
from clients.hub import AdminClient, HubClient
from runtime.tls import DevCertificateAuthority
from tests.support.redis_process import free_port


@dataclass
class HubFixture:
    """Certificates and keys shared by every hub process of one consortium (a test's tmp dir)."""

    folder: Path
    ca: DevCertificateAuthority = field(init=False)

    def __post_init__(self) -> None:
        self.ca = DevCertificateAuthority(self.folder / "certs")
        self.cert = self.ca.issue("hub")
        self.admin_public = base64.b64encode(generate_key_file(self.folder / "admin.pem")).decode()

    def env(self, store_url: str, **settings: str) -> dict[str, str]:
        return {
            **os.environ,
            "LIANFANG_HUB_STORE": store_url,
            "LIANFANG_HUB_ADMIN_KEYS": f"ops={self.admin_public}",
            "LIANFANG_HUB_TLS_CERT": self.cert.cert_file,
            "LIANFANG_HUB_TLS_KEY": self.cert.key_file,
            "LIANFANG_HUB_MEMBER_CACHE_SECONDS": "0.1",
            "LIANFANG_HUB_STORE_PROBE_SECONDS": "0.2",
            **{f"LIANFANG_HUB_{k.upper()}": v for k, v in settings.items()},
        }

    def channel(self, port: int) -> grpc.aio.Channel:
        return open_channel(f"localhost:{port}", ca_file=self.ca.ca_file)

    def admin(self, port: int) -> AdminClient:
        return AdminClient(self.channel(port), JwtSigner("admin/ops", load_private_key(self.folder / "admin.pem")))

    async def enrol(self, port: int, member_id: str) -> JwtSigner:
        """Registers and approves a member; its signer."""
        key_file = self.folder / f"{member_id}.pem"
        public = generate_key_file(key_file)
        admin = self.admin(port)
        try:
            await admin.register_member(member_id, member_id, "microloan", public)
            await admin.change_member("approve", member_id)
        finally:
            await admin.close()
        return JwtSigner(member_id, load_private_key(key_file))

    def member(self, port: int, signer: JwtSigner, timeout: float = 5.0) -> HubClient:
        return HubClient(self.channel(port), signer, default_timeout=timeout)


class HubProcess:
    """One hub process; the port survives restarts, so clients reconnect to the same address."""

    def __init__(self, fixture: HubFixture, store_url: str, *, port: int | None = None, **settings: str) -> None:
        self.fixture, self.store_url, self.settings = fixture, store_url, settings
        self.port = port or free_port()
        self.log_path = fixture.folder / f"hub-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def start(self, timeout: float = 30.0) -> HubProcess:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "clients.cli.main", "hub", "serve", "--listen", f"127.0.0.1:{self.port}"],
                env=self.fixture.env(self.store_url, **self.settings),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        credentials = grpc.ssl_channel_credentials(Path(self.fixture.ca.ca_file).read_bytes())
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self._proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                with grpc.secure_channel(self.address, credentials) as channel:
                    stub = health_pb2_grpc.HealthStub(channel)
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub on {self.port} not SERVING after {timeout}s")
            time.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            self._proc.wait(timeout=30)
        self._proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The running process's id (CPU accounting from /proc in the benchmarks)."""
        return self._proc.pid if self.running and self._proc is not None else None
