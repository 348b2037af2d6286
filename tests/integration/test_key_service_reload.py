"""The OPRF key service takes new principals and quotas without a restart: ``reload`` in
process, and SIGHUP on a real ``lianfang keys serve`` reading its TOML file again. A member's
replaced key is refused from its next call even though the service had cached the old token's
verification; a file that does not load changes nothing."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from clients.channel import open_channel
from clients.credentials import KEYS_AUDIENCE, JwtSigner, generate_key_file, load_private_key
from clients.demo.key_service import start_local_key_service
from clients.errors import LianfangRpcError
from clients.keys import KeyServiceClient
from runtime.clock import system_clock
from runtime.errors import ResourceExhausted
from runtime.tls import DevCertificateAuthority
from tests.support.redis_process import free_port

CLI = [sys.executable, "-m", "clients.cli.main"]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def _refused(client: KeyServiceClient) -> grpc.StatusCode:
    with pytest.raises(LianfangRpcError) as err:
        await client.public_keys()
    return err.value.code


async def test_a_reload_applies_keys_and_quotas_at_once(tmp_path: Path) -> None:
    keys = {name: generate_key_file(tmp_path / f"{name}.pem") for name in ("a-old", "a-new", "b", "admin")}
    ks = await start_local_key_service(
        tmp_path, DevCertificateAuthority(tmp_path / "certs"), {"lender-a": keys["a-old"]}, system_clock, keys["admin"]
    )
    old = ks.client("lender-a", tmp_path / "a-old.pem", "evaluate")
    new = ks.client("lender-a", tmp_path / "a-new.pem", "evaluate")
    b = ks.client("lender-b", tmp_path / "b.pem", "evaluate")
    try:
        assert await old.public_keys()  # verified, and the verification cached
        assert await _refused(b) == grpc.StatusCode.UNAUTHENTICATED  # not a principal yet

        config = dataclasses.replace(
            ks.config,
            member_keys={"lender-a": _b64(keys["a-new"]), "lender-b": _b64(keys["b"])},
            member_quotas={"lender-b": "5"},
            max_batch=7,
        )
        report = ks.service.reload(config)
        assert report == {
            "added": ["lender-b"],
            "removed": [],
            "replaced": ["lender-a"],
            "restart_needed": ["max_batch"],
        }
        assert await _refused(old) == grpc.StatusCode.UNAUTHENTICATED  # the same cached token: refused now
        assert await new.public_keys() and await b.public_keys()
        quota = ks.service.servicer.quota
        with pytest.raises(ResourceExhausted):
            quota.admit("lender-b", 6, time.time())
        quota.admit("lender-a", 6, time.time())  # the default quota still applies to the others
        assert ks.service.config.max_batch == ks.config.max_batch  # waits for a restart, as reported

        report = ks.service.reload(dataclasses.replace(config, member_keys={"lender-a": _b64(keys["a-new"])}))
        assert (report["removed"], report["replaced"], report["restart_needed"]) == (["lender-b"], [], ["max_batch"])
        assert await _refused(b) == grpc.StatusCode.UNAUTHENTICATED
        assert await new.public_keys()
    finally:
        for client in (old, new, b):
            await client.close()
        await ks.stop()


def _config_text(tmp_path: Path, port: int, member_key: bytes) -> str:
    return (
        "[keys]\n"
        f'listen = "127.0.0.1:{port}"\n'
        f'database = "{tmp_path / "keys.db"}"\n'
        f'master_key_file = "{tmp_path / "master.hex"}"\n'
        "plaintext = true\n"
        f'member_keys = {{ lender-a = "{_b64(member_key)}" }}\n'
    )


async def _until(check, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_sighup_rereads_the_file_and_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    """Rotating a member's key on a running ``lianfang keys serve``: edit member_keys, SIGHUP."""
    old_key, new_key = generate_key_file(tmp_path / "old.pem"), generate_key_file(tmp_path / "new.pem")
    (tmp_path / "master.hex").write_text(os.urandom(32).hex())
    config, port = tmp_path / "keys.toml", free_port()
    config.write_text(_config_text(tmp_path, port, old_key))
    log = (tmp_path / "keys.log").open("w")
    proc = subprocess.Popen([*CLI, "keys", "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)

    def client(key_file: str) -> KeyServiceClient:
        signer = JwtSigner("lender-a", load_private_key(key_file), audience=KEYS_AUDIENCE, scopes=("evaluate",))
        return KeyServiceClient(open_channel(f"127.0.0.1:{port}", plaintext=True), signer)

    old, new = client(str(tmp_path / "old.pem")), client(str(tmp_path / "new.pem"))

    async def answers(c: KeyServiceClient) -> bool:
        try:
            return bool(await c.public_keys(timeout=2))
        except LianfangRpcError:
            return False

    try:
        await _until(lambda: answers(old))
        assert not await answers(new)
        config.write_text(_config_text(tmp_path, port, new_key))
        proc.send_signal(signal.SIGHUP)
        await _until(lambda: answers(new))
        assert await _refused(old) == grpc.StatusCode.UNAUTHENTICATED

        config.write_text(_config_text(tmp_path, port, new_key).replace(_b64(new_key), "not base64!"))
        proc.send_signal(signal.SIGHUP)
        await _until(lambda: asyncio.sleep(0, "configuration not reloaded" in (tmp_path / "keys.log").read_text()))
        assert await answers(new) and proc.poll() is None  # still serving, with the configuration it had
        assert "member_keys.lender-a" in (tmp_path / "keys.log").read_text()
        config.write_bytes(b'[keys]\nlisten = "\xff\xfe"\n')  # not even UTF-8: the same, no traceback
        proc.send_signal(signal.SIGHUP)
        await _until(lambda: asyncio.sleep(0, (tmp_path / "keys.log").read_text().count("not reloaded") == 2))
        assert await answers(new) and proc.poll() is None
        assert "Traceback" not in (tmp_path / "keys.log").read_text()
    finally:
        for c in (old, new):
            await c.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert proc.returncode == 0
