"""A node in front of a real ``lianfang hub serve`` process (TLS) that is frozen with SIGSTOP:
the caller's gRPC deadline bounds stage 1 even though ``hub_timeout_seconds`` is longer, the
open circuit makes the next application fail fast, the node is restarted mid-outage with its
outbox intact, and once the hub thaws the queued Checks are recorded exactly once."""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2

from clients.channel import open_channel
from clients.credentials import public_key_bytes
from clients.node import NodeClient, staff_signer
from node.config import NodeConfig
from node.identity.tokens import new_consortium_key
from node.server import RunningNode, start_node
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock
from tests.support.consortium import check_request
from tests.support.hub_process import HubFixture, HubProcess
from tests.support.origination import application
from tests.support.outbox import drained


async def test_frozen_hub_deadline_fail_fast_restart_and_exactly_once(tmp_path: Path) -> None:
    fixture = HubFixture(tmp_path)
    hub = HubProcess(fixture, f"sqlite:///{tmp_path / 'hub.db'}").start()
    clock = ManualClock(time.time())  # the hub process keeps real time; consents must be current
    node: RunningNode | None = None
    frozen = False
    try:
        await fixture.enrol(hub.port, "lender-a")
        other = fixture.member(hub.port, await fixture.enrol(hub.port, "lender-b"))
        key_file = tmp_path / "consortium.hex"
        key_file.write_text(new_consortium_key().hex())
        identity = Ed25519PrivateKey.generate()
        node_cert = fixture.ca.issue("node-a")
        config = NodeConfig(
            member_id="lender-a",
            member_key_file=str(tmp_path / "lender-a.pem"),
            consortium_key_file=str(key_file),
            api_identity_key=base64.b64encode(public_key_bytes(identity)).decode(),
            listen="127.0.0.1:0",
            hub_address=hub.address,
            hub_ca_file=fixture.ca.ca_file,
            tls_cert=node_cert.cert_file,
            tls_key=node_cert.key_file,
            database=str(tmp_path / "node-a.db"),
            source_latency_ms=5,
            scenario_file=SEED_PERSONAS_FILE,
            hub_timeout_seconds=5.0,  # far longer than the caller will wait
            circuit_failure_threshold=1,
            circuit_reset_seconds=60.0,
            outbox_poll_seconds=0.05,
            outbox_timeout_seconds=0.5,
            watch_alerts=False,
        )
        node = await start_node(config, clock=clock)

        def desk(n: RunningNode) -> NodeClient:  # the lender's desk: it sees the decision's reasons
            channel = open_channel(f"localhost:{n.port}", ca_file=fixture.ca.ca_file)
            return NodeClient(channel, staff_signer(identity, "desk-1", "customer_manager"))

        client = desk(node)
        os.kill(hub._proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        frozen = True
        started = time.monotonic()
        first = await client.submit_application(application(LAO_WANG, "frozen-1"), timeout=1.5)
        elapsed = time.monotonic() - started
        assert elapsed < 1.5, elapsed  # answered inside the caller's deadline, not after 5 s
        assert first.state == "referred" and "HUB_UNAVAILABLE" in first.decision.reasons
        assert first.decision.consortium_pending
        started = time.monotonic()
        second = await client.submit_application(application(JINGCHENG_PARTS, "frozen-2"), timeout=1.5)
        assert time.monotonic() - started < 0.5  # the circuit is open: no waiting for the hub at all
        assert second.state == "referred" and "HUB_UNAVAILABLE" in second.decision.reasons
        assert node.engine.outbox.depth() == 2

        await client.close()  # the node restarts while the hub is still frozen
        await node.stop(0.5)
        node = await start_node(config, clock=clock)
        assert node.engine.outbox.depth() == 2  # durable: both Checks survived the restart

        os.kill(hub._proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        frozen = False
        await drained(node, timeout=30)
        client = desk(node)
        late = await client.get_application(first.application_id)
        assert late.decision.HasField("consortium_late") and not late.decision.consortium_pending
        await client.close()

        uscc = node.keyring.primary.token(common_pb2.TOKEN_TYPE_USCC, LAO_WANG.uscc)
        answer = await other.check_request(check_request("b-1", uscc))
        (stacking,) = [s for s in answer.stacking if s.token_type == common_pb2.TOKEN_TYPE_USCC]
        assert {w.other_applications for w in stacking.windows} == {1}  # lender-a's, once
        await other.close()
    finally:
        if frozen:
            os.kill(hub._proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        if node is not None:
            await node.stop(0.5)
        hub.stop()
