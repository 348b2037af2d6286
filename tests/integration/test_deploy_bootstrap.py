"""The compose bootstrap scripts for real (``sh``, the ``lianfang`` CLI, a TLS hub): ``init-state.sh``
makes the state once and leaves it alone after; ``enrol.sh`` makes the three members active, is
harmless to run again, and fails (exit 1, saying why) when a registration really fails — it used
to swallow every error, and compose then started nodes the hub refused."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from consortium.config import HubConfig
from consortium.members import ACTIVE
from consortium.server import start_hub

BOOTSTRAP = Path(__file__).resolve().parents[2] / "deploy" / "bootstrap"
MEMBERS = ("lender-a", "lender-b", "lender-c")


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(BOOTSTRAP / script)], env=env, capture_output=True, text=True, timeout=180)


def _digests(state: Path) -> dict[str, str]:
    return {
        str(p.relative_to(state)): hashlib.sha256(p.read_bytes()).hexdigest() for p in state.rglob("*") if p.is_file()
    }


async def test_init_state_then_enrol_make_three_active_members_and_fail_loudly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "STATE_DIR": str(state), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    made = await asyncio.to_thread(_run, "init-state.sh", env)
    assert made.returncode == 0, made.stderr
    first = _digests(state)
    assert (await asyncio.to_thread(_run, "init-state.sh", env)).returncode == 0
    assert _digests(state) == first  # nothing made again
    assert oct((state / "keys" / "admin.pem").stat().st_mode & 0o777) == "0o600"

    hub = await start_hub(
        HubConfig(
            listen="127.0.0.1:0",
            store=f"sqlite:///{tmp_path / 'hub.db'}",
            tls_cert=str(state / "certs" / "hub.pem"),
            tls_key=str(state / "certs" / "hub-key.pem"),
            tls_client_ca=str(state / "certs" / "ca.pem"),
            admin_keys={"ops": (state / "keys" / "admin.pub").read_text().strip()},
        )
    )
    try:
        env["HUB_ADDRESS"] = f"localhost:{hub.port}"
        enrolled = await asyncio.to_thread(_run, "enrol.sh", env)
        assert enrolled.returncode == 0, enrolled.stderr
        assert {m.member_id: m.status for m in await hub.store.list_members()} == dict.fromkeys(MEMBERS, ACTIVE)
        again = await asyncio.to_thread(_run, "enrol.sh", env)  # registered and approved before: fine
        assert again.returncode == 0, again.stderr
        (state / "keys" / "lender-b.pub").write_text("")  # a key that did not get made
        broken = await asyncio.to_thread(_run, "enrol.sh", env)
        assert broken.returncode == 1 and "enrol: lender-b:" in broken.stderr, (broken.returncode, broken.stderr)
    finally:
        await hub.stop(0)
