"""``lianfang up`` for real: a launcher process starts a hub and member nodes as separate
processes; they all become SERVING over TLS, a Screen through one node is answered by the hub
with what the other node's Screen recorded, the metrics ports answer, and SIGTERM to the
launcher stops every child."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lianfang.v1 import common_pb2, node_pb2, node_pb2_grpc

from clients.credentials import load_private_key
from clients.node import staff_signer
from node.rules import DEFAULT_RULES
from runtime.tls import channel_credentials

LAUNCHER = """
[consortium]
host = "127.0.0.1"
hub_port = 0
hub_metrics_port = 0

[[members]]
id = "lender-a"

[[members]]
id = "lender-b"
category = "bank"

[node]
source_latency_ms = 0.0
rules_file = "{rules}"
"""


@dataclass
class Launched:
    proc: subprocess.Popen[str]
    state: Path
    children: dict[str, tuple[str, str, int]]  # name → (address, metrics host:port, pid)
    output: list[str]


def _read_until_ready(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if "lianfang up: ready" in line:
            return seen
    pytest.fail(f"lianfang up did not get ready: {seen}")


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    folder = tmp_path_factory.mktemp("up")
    config = folder / "consortium.toml"
    rules = folder / "rules.toml"
    rules.write_text(DEFAULT_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    config.write_text(LAUNCHER.replace("{rules}", str(rules)))
    env = {k: v for k, v in os.environ.items() if k != "LIANFANG_HUB_STORE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "clients.cli.main", "up", "--config", str(config), "--state-dir", str(folder / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        output = _read_until_ready(proc, 120)
        children = {}
        for line in output:
            parts = line.split()
            if len(parts) >= 6 and parts[-2] == "pid":
                metrics = parts[3].removeprefix("http://").removesuffix("/metrics")
                children[parts[0]] = (parts[1].removeprefix("grpcs://"), metrics, int(parts[-1]))
        yield Launched(proc, folder / "state", children, output)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def _channel(launched: Launched, address: str, client: str = "") -> grpc.Channel:
    certs = launched.state / "certs"
    cert, key = (str(certs / f"client-{client}.pem"), str(certs / f"client-{client}-key.pem")) if client else ("", "")
    return grpc.secure_channel(address, channel_credentials(str(certs / "ca.pem"), cert, key))


def test_every_process_is_serving_over_tls(launched: Launched) -> None:
    assert set(launched.children) == {"hub", "lender-a", "lender-b"}
    for name, (address, _, _) in launched.children.items():
        with _channel(launched, address, "admin_local" if name == "hub" else "") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def _screen(launched: Launched, member: str, ref: str) -> node_pb2.ScreenResponse:
    identity = load_private_key(launched.state / "keys" / f"{member}-identity.pem")
    token = staff_signer(identity, "risk-1", "risk_manager").token()
    request = node_pb2.ScreenRequest(
        application_ref=ref,
        consent_ref=f"consent-{ref}",
        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
        product_category="consumer_instalment",
        identifiers=node_pb2.Identifiers(phones=["+86 139 1234 5678"]),
    )
    with _channel(launched, launched.children[member][0]) as channel:
        stub = node_pb2_grpc.OriginationServiceStub(channel)
        response: node_pb2.ScreenResponse = stub.Screen(
            request, metadata=(("authorization", f"Bearer {token}"),), timeout=20
        )
        return response


def test_a_screen_through_one_node_sees_the_other_members_application(launched: Launched) -> None:
    first = _screen(launched, "lender-a", "up-a-1")
    assert first.tokens_sent >= 1 and first.consortium.newly_recorded
    second = _screen(launched, "lender-b", "up-b-1")
    assert "STACKING_PHONE_1H" in {r.code for r in second.consortium.reasons}


def test_the_metrics_ports_answer(launched: Launched) -> None:
    _screen(launched, "lender-a", "up-a-metrics")
    for name, (_, metrics, _) in launched.children.items():
        with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        assert "grpc_server_handled_total" in text, name
    with urllib.request.urlopen(f"http://{launched.children['hub'][1]}/metrics", timeout=10) as reply:
        assert 'grpc_method="Check",grpc_service="lianfang.v1.ConsortiumService"' in reply.read().decode()


def test_help_describes_the_launcher() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "clients.cli.main", "up", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--config" in out and "--state-dir" in out


def test_the_printed_commands_work_as_printed(launched: Launched) -> None:
    """What `lianfang up` tells its user to paste: the staff command and the admin command."""
    printed = {
        line.split()[0]: line.split(None, 1)[1] for line in launched.output if line.split()[:1] in (["try"], ["admin"])
    }
    for name in ("try", "admin"):
        command = shlex.split(printed[name].split("   (")[0])
        assert command[0] == "lianfang"
        result = subprocess.run(
            [sys.executable, "-m", "clients.cli.main", *command[1:]], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (name, result.stderr)
        if name == "admin":
            rows = [json.loads(line) for line in result.stdout.splitlines()]
            assert {(r["memberId"], r["status"]) for r in rows} == {
                ("lender-a", "MEMBER_STATUS_ACTIVE"),
                ("lender-b", "MEMBER_STATUS_ACTIVE"),
            }


def test_sighup_reloads_the_node_s_rules_and_a_bad_file_changes_nothing(launched: Launched) -> None:
    """SIGHUP to a node reads its rule set and scorecards again (it used to end the node, and
    with it the whole launch); a file that does not load leaves the running model answering."""
    pid, log = launched.children["lender-a"][2], launched.state / "logs" / "lender-a.log"
    rules = launched.state.parent / "rules.toml"
    shipped = rules.read_text(encoding="utf-8")

    def after_sighup(marker: str) -> dict[str, object]:
        seen = len(log.read_text(encoding="utf-8").splitlines())
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for line in log.read_text(encoding="utf-8").splitlines()[seen:]:
                if marker in line:
                    entry: dict[str, object] = json.loads(line)
                    return entry
            time.sleep(0.1)
        pytest.fail(f"no {marker!r} in {log} after SIGHUP")

    try:
        rules.write_text(shipped.replace('version = "2025.06.1"', 'version = "2099.01"', 1), encoding="utf-8")
        loaded = after_sighup("risk model loaded")
        assert "sme-prescreen@2099.01" in str(loaded["models"])
        rules.write_text("[[rules]]\nid = ", encoding="utf-8")
        refused = after_sighup("risk model not reloaded")
        assert "rules_file" in str(refused["error"]) and "invalid TOML" in str(refused["error"])
        assert _alive(pid) and launched.proc.poll() is None
        assert _screen(launched, "lender-a", "up-a-after-hup").consortium.newly_recorded
    finally:
        rules.write_text(shipped, encoding="utf-8")


def test_sigterm_stops_every_child(launched: Launched) -> None:  # last: it ends the consortium
    pids = [pid for _, _, pid in launched.children.values()]
    assert all(_alive(pid) for pid in pids)
    launched.proc.send_signal(signal.SIGTERM)
    assert launched.proc.wait(60) == 0
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
