"""Running the processes of ``lianfang up``: the hub, then every member enrolled through the admin
API, then the nodes; in the foreground until SIGINT/SIGTERM, then each child stopped cleanly.

Children are ``lianfang hub serve`` / ``lianfang node serve`` processes in their own sessions
(a Ctrl-C reaches the launcher only, which stops nodes before the hub), with their JSON logs in
``<state>/logs/``. ``LIANFANG_*`` variables of the launcher's environment are not passed on: the
generated configs say everything. A child that exits on its own stops the whole consortium.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
from dataclasses import dataclass
from typing import TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.channel import open_channel
from clients.credentials import JwtSigner, load_private_key
from clients.errors import LianfangRpcError
from clients.hub import AdminClient
from clients.up.plan import ADMIN_NAME, LaunchPlan, Prepared, Process

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Child:
    process: Process
    proc: asyncio.subprocess.Process


async def wait_serving(
    address: str, ca_file: str, cert_file: str = "", key_file: str = "", timeout: float = START_TIMEOUT
) -> None:
    """Until grpc.health.v1 at ``address`` says SERVING (over TLS; the hub wants a client certificate)."""
    channel = open_channel(address, ca_file=ca_file, cert_file=cert_file, key_file=key_file)
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{address} did not become SERVING within {timeout:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await channel.close()


async def enrol(plan: LaunchPlan, prepared: Prepared) -> None:
    """Registers and approves every member (already registered or active members are left as they are)."""
    cert, key = prepared.admin_cert
    channel = open_channel(prepared.hub.address, ca_file=prepared.ca_file, cert_file=cert, key_file=key)
    admin = AdminClient(channel, JwtSigner(f"admin/{ADMIN_NAME}", load_private_key(prepared.admin_key)))
    try:
        for m in plan.members:
            with contextlib.suppress(LianfangRpcError):  # ALREADY_EXISTS on a second `up`
                await admin.register_member(m.member_id, m.name, m.category, prepared.member_public_keys[m.member_id])
            with contextlib.suppress(LianfangRpcError):  # FAILED_PRECONDITION: already active
                await admin.change_member("approve", m.member_id, "lianfang up")
    finally:
        await admin.close()


async def _spawn(process: Process, logs: str) -> Child:
    os.makedirs(logs, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIANFANG_")}
    with open(os.path.join(logs, f"{process.name}.log"), "ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "clients.cli.main",
            process.noun,
            "serve",
            "--config",
            str(process.config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    return Child(process, proc)


async def _stop(children: list[Child]) -> None:
    """SIGTERM to every child, nodes first; SIGKILL to any still running after STOP_TIMEOUT."""
    for child in reversed(children):  # started hub first, so nodes stop first
        if child.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
                await child.proc.wait()


def describe(children: list[Child], prepared: Prepared, plan: LaunchPlan, out: TextIO) -> None:
    for c in children:
        p = c.process
        print(f"{p.name:<12} grpcs://{p.address:<22} metrics http://{p.metrics}/metrics  pid {c.proc.pid}", file=out)
    state = plan.state_dir
    print(f"state        {state} (CA certs/ca.pem, logs logs/, member identity keys keys/<id>-identity.pem)", file=out)
    node, identity = prepared.nodes[0], state / "keys" / f"{prepared.nodes[0].name}-identity.pem"
    staff = ["node", "apply", "--node", node.address, "--ca", prepared.ca_file, "--identity-key", str(identity)]
    print(f"try          {shlex.join(['lianfang', *staff, '--as', 'customer_manager', '--help'])}", file=out)
    cert, key = prepared.admin_cert
    admin = ["admin", "usage", "--hub", prepared.hub.address, "--ca", prepared.ca_file, "--cert", cert, "--key", key]
    admin += ["--admin-key", prepared.admin_key, "--admin-name", ADMIN_NAME]
    print(f"admin        {shlex.join(['lianfang', *admin])}   (members, disputes, keys: the same options)", file=out)


async def run(plan: LaunchPlan, prepared: Prepared, out: TextIO = sys.stdout) -> int:
    """Starts everything, prints the addresses, waits for a signal or a dying child; the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logs = str(plan.state_dir / "logs")
    children: list[Child] = []
    code = 0
    stopper = asyncio.ensure_future(stop.wait())
    try:
        startup = asyncio.ensure_future(_start(plan, prepared, children, logs))
        await asyncio.wait({startup, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():  # stopped while starting: stop what has started
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await startup
            return 130
        startup.result()
        describe(children, prepared, plan, out)
        print("lianfang up: ready (Ctrl-C or SIGTERM stops everything)", file=out, flush=True)
        died = [asyncio.ensure_future(c.proc.wait()) for c in children]
        done, _ = await asyncio.wait({stopper, *died}, return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            gone = next(c for c in children if c.proc.returncode is not None)
            print(f"lianfang up: {gone.process.name} exited ({gone.proc.returncode}); stopping", file=out, flush=True)
            code = 1
        for d in died:
            d.cancel()
    except (TimeoutError, ChildDied, LianfangRpcError) as error:
        print(f"lianfang up: {error}; see {logs}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stopper.cancel()
        await _stop(children)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        print("lianfang up: stopped", file=out, flush=True)
    return code


async def _start(plan: LaunchPlan, prepared: Prepared, children: list[Child], logs: str) -> None:
    """Hub, enrolment, nodes; each child is added to ``children`` as soon as it is spawned."""
    cert, key = prepared.admin_cert
    children.append(await _spawn(prepared.hub, logs))
    await _ready_or_dead(children[0], prepared.ca_file, cert, key)  # the hub wants a client certificate
    await enrol(plan, prepared)
    for node in prepared.nodes:
        children.append(await _spawn(node, logs))
    for child in children[1:]:
        await _ready_or_dead(child, prepared.ca_file)


class ChildDied(RuntimeError):
    """A child exited before it became ready."""


async def _ready_or_dead(child: Child, ca_file: str, cert_file: str = "", key_file: str = "") -> None:
    ready = asyncio.ensure_future(wait_serving(child.process.address, ca_file, cert_file, key_file))
    died = asyncio.ensure_future(child.proc.wait())
    done, _ = await asyncio.wait({ready, died}, return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        died.cancel()
        ready.result()
        return
    ready.cancel()
    raise ChildDied(f"{child.process.name} exited with {child.proc.returncode} before it was ready")
