"""Check-path benchmark of the hub: latency at a fixed load, peak rates and their ceilings.

One run measures, on this machine, with the hub in its own process (TLS on, the same server
stack as ``lianfang hub serve``, JSON-lines RPC log at INFO) and the load generator here
(grpc.aio, many calls in flight):

* per store (``sqlite`` temp file, ``redis`` on a private redis-server):
  - ``Check`` with 8 tokens: latency at a fixed, open-loop offered load (500 checks/s), and the
    peak checks/s of a closed loop swept over several concurrencies;
  - ``BatchCheck`` applications/s (batches of 100 applications x 8 tokens);
* ceilings:
  - a bare echo RPC (``/bench.Echo/Echo``, bytes in/out of the sizes of a real Check) through
    ``runtime.server.create_server`` with TLS, the ErrorAndLogInterceptor and the hub's
    AuthInterceptor (the method is marked as a member call, so every call authenticates);
  - the raw Redis pipeline of one Check (the commands ``RedisStore.record_logged`` issues) from
    redis.asyncio in this process, plus ``record_logged`` called in-process (no gRPC).

``python bench/check.py --profile py-spy`` instead profiles the hub under a closed-loop Check
load and prints where its time goes. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import redis
import redis.asyncio as aioredis
from lianfang.v1 import common_pb2, consortium_pb2

from clients.channel import open_channel
from clients.credentials import JwtSigner, generate_key_file, load_private_key
from clients.hub import AdminClient, HubClient
from graph.policy import LinkPolicy, TokenType
from node.identity.tokens import HmacTokeniser
from runtime.event_loop import EVENT_LOOPS
from runtime.event_loop import resolve as resolve_event_loop
from runtime.event_loop import run as run_on_event_loop
from runtime.tls import DevCertificateAuthority

ROOT = Path(__file__).resolve().parents[1]
ECHO_METHOD = "/bench.Echo/Echo"
CHECK_METHOD = "/lianfang.v1.ConsortiumService/Check"
BATCH_METHOD = "/lianfang.v1.ConsortiumService/BatchCheck"
CALL_TIMEOUT = 10.0
BATCH_TIMEOUT = 60.0
TARGETS = {
    "check_over_echo_min": 0.50,
    "redis_p99_ms_at_fixed_load_max": 10.0,
    "batch_apps_per_s_min": 5000.0,
}
SERVE_COMMAND = "_serve"  # argv[1] of the hub / echo subprocess (internal)

now = time.perf_counter


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    quick: bool
    fixed_rate: float
    fixed_seconds: float
    peak_seconds: float
    concurrency: tuple[int, ...]
    batch_size: int
    batch_seconds: float
    batch_concurrency: tuple[int, ...]
    warmup_seconds: float
    members: int
    tokens_per_check: int
    stores: tuple[str, ...]
    hub_log_level: str
    event_loop: str
    seed: int
    history: int = 0
    """Applications written to each store before its hub starts (``preload_history``)."""
    history_days: float = 30.0
    rings: bool = True
    """False: the hubs link no token into rings (``--rings off``: ``ring_link_caps`` all 0)."""
    hub_settings: dict[str, str] = field(default_factory=dict)
    """Hub settings of the runs' hubs (``--hub-setting name=value``, as in the hub's TOML/env)."""


def params_from_args(args: argparse.Namespace) -> Params:
    quick = bool(args.quick)
    phase = 2.0 if quick else 10.0
    return Params(
        quick=quick,
        fixed_rate=args.rate,
        fixed_seconds=args.seconds or phase,
        peak_seconds=args.seconds or phase,
        concurrency=tuple(args.concurrency),
        batch_size=100,
        batch_seconds=(args.seconds or phase) / 2,
        batch_concurrency=tuple(args.batch_concurrency),
        warmup_seconds=1.0 if quick else 2.0,
        members=args.members,
        tokens_per_check=8,
        stores=tuple(args.stores),
        hub_log_level=args.hub_log_level,
        event_loop=resolve_event_loop(args.event_loop),
        seed=args.seed,
        history=args.history,
        history_days=args.history_days,
        rings=args.rings == "on",
        hub_settings=dict(args.hub_setting),
    )


# --------------------------------------------------------------------------------------------
# Workload: applications of 8 HMAC tokens of 8 types
# --------------------------------------------------------------------------------------------
T = common_pb2
PERSON_TYPES = (T.TOKEN_TYPE_RESIDENT_ID, T.TOKEN_TYPE_PHONE, T.TOKEN_TYPE_EMAIL, T.TOKEN_TYPE_BANK_ACCOUNT)


def _base32(n: int) -> str:
    """``n`` in a node id's alphabet (lower-case base32), least significant first, 7 or more."""
    digits = []
    for _ in range(7):
        n, d = divmod(n, 32)
        digits.append("abcdefghijklmnopqrstuvwxyz234567"[d])
    while n:
        n, d = divmod(n, 32)
        digits.append("abcdefghijklmnopqrstuvwxyz234567"[d])
    return "".join(digits)


class Workload:
    """Check requests with fresh application refs and a realistic token mix.

    30 % of applications come from 2,000 "hot" applicants (the stackers, who also share 300
    devices and 500 addresses), 70 % from a pool of 200,000; IPs come from 20,000 addresses in
    313 /24 subnets. Each application carries resident ID, phone, e-mail, bank account,
    device, IP, IP subnet and address: tokens repeat across applications and members, so the
    stacking sets are non-empty, and some hot applicants carry blacklist markers.

    IP density: the history (``--history``) draws every IP from the one pool, as a carrier
    reassigns its addresses from day to day; at its rate (by default 100,000 over 30 days) a
    day's applications share an IP with 0.17 others on average. Live traffic sends a day's worth
    in seconds, so after ``go_live(n)`` every ``n`` applications (a link window's worth at the
    history's rate: ``live_ip_block``) draw from a fresh block of 20,000 addresses: a window
    holds what a window of the history does (their
    /24 subnets, which never link, stay the pool's 313, so subnet stacking is as dense; a fresh
    address has no stacking history, so IP stacking is sparser than the history's). With one
    pool, a run's own day filled up to ~4 applications per IP, the IP-day links percolated into
    one ring that grew with the run (89,000 applications after 60,000 live ones, each split of it
    costlier), and a run's figures depended on how long it had run.
    """

    HOT_PEOPLE, COLD_PEOPLE, HOT_DEVICES, HOT_ADDRESSES, IPS = 2_000, 200_000, 300, 500, 20_000

    def __init__(self, seed: int, run_id: str) -> None:
        self.rng = random.Random(seed)
        self.run_tag = _base32(zlib.crc32(run_id.encode()))  # refs as a node's: no digit runs
        self.tokeniser = HmacTokeniser(random.Random(seed + 1).randbytes(32), 1)
        self.counter = 0
        self._live_from: int | None = None  # the counter at go_live (None: the history's one pool)
        self._block_apps = 1
        self._cache: dict[tuple[int, str], common_pb2.Token] = {}

    def go_live(self, block_apps: int | None) -> None:
        """From now on, each ``block_apps`` applications draw their IPs from a new block (None:
        all from the one pool, as the history: IPs do not link within a window)."""
        if block_apps is not None:
            self._live_from, self._block_apps = self.counter, block_apps

    def _ip_block(self) -> int:
        if self._live_from is None:
            return 0
        return 1 + (self.counter - self._live_from) // self._block_apps

    def token(self, token_type: int, canonical: str) -> common_pb2.Token:
        key = (token_type, canonical)
        tok = self._cache.get(key)
        if tok is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            tok = self._cache[key] = self.tokeniser.token(token_type, canonical)
        return tok

    def person_tokens(self, person: str) -> list[common_pb2.Token]:
        return [self.token(t, f"{person}/{t}") for t in PERSON_TYPES]

    def tokens(self) -> list[common_pb2.Token]:
        rng = self.rng
        hot = rng.random() < 0.3
        person = f"h{rng.randrange(self.HOT_PEOPLE)}" if hot else f"c{rng.randrange(self.COLD_PEOPLE)}"
        device = f"hd{rng.randrange(self.HOT_DEVICES)}" if hot else f"d-{person}"
        address = f"ha{rng.randrange(self.HOT_ADDRESSES)}" if hot else f"a-{person}"
        ip, block = rng.randrange(self.IPS), self._ip_block()
        return [
            *self.person_tokens(person),
            self.token(T.TOKEN_TYPE_DEVICE_ID, device),
            self.token(T.TOKEN_TYPE_IP, f"{10 + block}.{ip >> 8}.{ip & 255}"),
            self.token(T.TOKEN_TYPE_IP_SUBNET, f"10.{ip >> 6}/24"),  # never links: the one pool's
            self.token(T.TOKEN_TYPE_ADDRESS, address),
        ]

    def next_ref(self) -> str:
        """An application reference as a node makes one (``app_`` and lower-case base32:
        ``node.origination.store.new_id``), unique to this run."""
        self.counter += 1
        return f"app_{self.run_tag}{_base32(self.counter)}"

    def request(self) -> consortium_pb2.CheckRequest:
        ref = self.next_ref()
        request = consortium_pb2.CheckRequest(
            application_ref=ref,
            consent_ref=f"{ref[4:]}{ref[4:]}"[:32],  # a node's consent digest: 32 characters of base32
            tokens=self.tokens(),
            applicant_kind=T.APPLICANT_KIND_PERSON,
            product_category="consumer_instalment",
            purpose=T.PURPOSE_CREDIT_APPLICATION,
        )
        request.consent_expires_at.seconds = int(time.time()) + 30 * 86_400
        return request

    def batch(self, size: int) -> consortium_pb2.BatchCheckRequest:
        return consortium_pb2.BatchCheckRequest(checks=[self.request() for _ in range(size)])


# --------------------------------------------------------------------------------------------
# Statistics and CPU accounting
# --------------------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; ``sorted_values`` ascending, q in [0, 100]."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    xs = sorted(latencies_s)
    ms = 1000.0
    return {
        "p50_ms": round(percentile(xs, 50) * ms, 3),
        "p90_ms": round(percentile(xs, 90) * ms, 3),
        "p99_ms": round(percentile(xs, 99) * ms, 3),
        "max_ms": round(xs[-1] * ms, 3) if xs else float("nan"),
    }


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads), from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    rest = text[text.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / _TICK


def system_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (every core), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuMeter:
    """CPU seconds of this process and of named child processes between two snapshots, and
    what everything else on the machine used meanwhile (``other``: noise from other work)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        t = os.times()
        out = {"bench": t.user + t.system}
        out.update({name: process_cpu_seconds(pid) for name, pid in self.pids.items()})
        out["_system"] = system_busy_seconds()
        return out

    @staticmethod
    def report(before: dict[str, float], after: dict[str, float], elapsed: float, ops: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ours = 0.0
        for name in before:
            if name == "_system":
                continue
            used = after[name] - before[name]
            ours += used
            out[name] = {
                "cpu_pct": round(100 * used / elapsed, 1),
                "cpu_us_per_op": round(1e6 * used / ops, 1) if ops else None,
            }
        other = after["_system"] - before["_system"] - ours
        out["other_processes_cpu_pct"] = round(max(0.0, 100 * other / elapsed), 1)
        return out


def foreign_cpu_pct(our_pids: Sequence[int], seconds: float = 1.0) -> float:
    """% of one core used by processes other than ours over ``seconds``."""

    def ours() -> float:
        t = os.times()
        return t.user + t.system + sum(process_cpu_seconds(p) for p in our_pids)

    b0, o0 = system_busy_seconds(), ours()
    time.sleep(seconds)
    return max(0.0, 100 * ((system_busy_seconds() - b0) - (ours() - o0)) / seconds)


class QuietGate:
    """Waits for other processes on the machine (other people's tests, builds) to go quiet
    before a phase: up to ``per_phase`` seconds each, ``budget`` seconds over the whole run.
    Whatever noise remains is reported per phase as ``other_processes_cpu_pct``."""

    def __init__(self, budget: float, per_phase: float = 10.0, threshold_pct: float = 25.0) -> None:
        self.budget = budget
        self.per_phase = per_phase
        self.threshold = threshold_pct
        self.waited = 0.0

    def wait(self, our_pids: Sequence[int], limit: float | None = None) -> float:
        """Returns the last measured % of a core used by others (0.5 s samples)."""
        start = time.monotonic()
        limit = self.per_phase if limit is None else limit
        seen = foreign_cpu_pct(our_pids, 0.5)
        while seen >= self.threshold and time.monotonic() - start < min(limit, self.budget - self.waited):
            log_line(f"  machine busy: other processes use {seen:.0f}% of a core; waiting")
            seen = foreign_cpu_pct(our_pids, 1.0)
        self.waited += time.monotonic() - start
        return seen

    noisy_pct = 40.0
    """A phase during which other processes used more than this (% of one core) is rerun once."""

    def spend(self, seconds: float) -> bool:
        """Charges a rerun of ``seconds`` to the budget; False when it does not fit."""
        if self.waited + seconds > self.budget:
            return False
        self.waited += seconds
        return True


GATE = QuietGate(0.0)


class RedisStats:
    """Redis-side CPU per operation from INFO commandstats (reset before each phase)."""

    def __init__(self, url: str | None) -> None:
        self.client = redis.Redis.from_url(url) if url else None

    def reset(self) -> None:
        if self.client is not None:
            self.client.config_resetstat()

    def report(self, ops: int) -> dict[str, Any] | None:
        if self.client is None or not ops:
            return None
        stats: dict[str, Any] = self.client.info("commandstats")
        calls = sum(int(v["calls"]) for v in stats.values())
        usec = sum(int(v["usec"]) for v in stats.values())
        return {
            "commands_per_op": round(calls / ops, 2),
            "redis_usec_per_op": round(usec / ops, 1),
        }


# --------------------------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------------------------
Op = Callable[[int], Awaitable[None]]


@dataclass
class PhaseResult:
    ops: int
    elapsed: float
    latencies: list[float]
    errors: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self, unit_per_op: int = 1) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ops": self.ops,
            "seconds": round(self.elapsed, 3),
            "ops_per_s": round(self.ops / self.elapsed, 1) if self.elapsed else 0.0,
            **latency_summary(self.latencies),
            "errors": sum(self.errors.values()),
        }
        if unit_per_op != 1:
            out["items_per_s"] = round(self.ops * unit_per_op / self.elapsed, 1)
        if self.errors:
            out["error_kinds"] = dict(self.errors.most_common(5))
        out.update(self.extra)
        return out


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


async def closed_loop(op: Op, concurrency: int, seconds: float) -> PhaseResult:
    """``concurrency`` workers, each sending its next call when the previous one returned."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = now() + seconds

    async def worker(w: int) -> None:
        while now() < deadline:
            t0 = now()
            try:
                await op(w)
            except Exception as exc:  # counted and reported
                errors[_error_name(exc)] += 1
                continue
            latencies.append(now() - t0)

    start = now()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return PhaseResult(len(latencies), now() - start, latencies, errors)


async def open_loop(op: Op, rate: float, seconds: float) -> PhaseResult:
    """Sends on a fixed schedule (``rate`` per second) whatever the responses do; a call's
    latency counts from its scheduled send time, so a stalled server is not hidden."""
    total = int(rate * seconds)
    interval = 1.0 / rate
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        lags.append(now() - scheduled)
        try:
            await op(i)
        except Exception as exc:  # counted and reported
            errors[_error_name(exc)] += 1
            return
        latencies.append(now() - scheduled)

    start = now() + 0.005
    i = 0
    while i < total:
        t = now()
        while i < total and start + i * interval <= t:
            task = asyncio.create_task(one(i, start + i * interval))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, start + i * interval - now()))
    sent_at = now()
    await asyncio.gather(*list(pending))
    lags.sort()
    extra = {
        "offered_per_s": rate,
        "achieved_send_per_s": round(total / (sent_at - start), 1),
        "send_lag_p99_ms": round(percentile(lags, 99) * 1000, 3),
    }
    return PhaseResult(len(latencies), now() - start, latencies, errors, extra)


# --------------------------------------------------------------------------------------------
# Server subprocesses (hub or echo), entered as ``check.py _serve <json spec>``
# --------------------------------------------------------------------------------------------
async def _start_echo(spec: dict[str, Any]) -> tuple[Callable[[], Awaitable[None]], int]:
    from consortium.auth import Authenticator, AuthInterceptor
    from consortium.members import ACTIVE
    from consortium.policy import REQUIRED_SCOPE, Scope
    from consortium.records import Member
    from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
    from runtime.server import Registration, create_server
    from runtime.tls import TlsConfig

    response = base64.b64decode(spec["response_b64"])

    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return response

    def add(servicer: object, server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
        )
        server.add_generic_rpc_handlers((handler,))

    interceptors: list[grpc.aio.ServerInterceptor] = []
    store = SqliteStore(SqliteStoreConfig(path=":memory:"))
    if spec["auth"]:
        # In this process only: authenticate the echo as a member call, like Check.
        REQUIRED_SCOPE[ECHO_METHOD] = Scope.QUERY
        t = time.time()
        for member_id, public in spec["members"].items():
            await store.add_member(
                Member(member_id, member_id, "microloan", base64.b64decode(public), ACTIVE, "", t, t)
            )
        interceptors.append(AuthInterceptor(Authenticator(store, {}, member_cache_seconds=1.0)))
    registration: Registration = (add, None, "bench.Echo")
    server, port, _ = await create_server(
        "127.0.0.1:0",
        [registration],
        tls=TlsConfig(spec["tls_cert"], spec["tls_key"]),
        interceptors=interceptors,
    )

    async def stop() -> None:
        await server.stop(0.5)
        await store.close()

    return stop, port


def _can_the_check_answer(response_raw: bytes) -> None:
    """In a ``canned_hub`` process only: ``start_hub`` builds a ConsortiumService whose Check,
    once validated, answers with one fixed real answer (its reference set) instead of recording
    the application, folding the log and computing stacking, blacklist and ring."""
    import consortium.server
    from consortium.services.consortium_service import ConsortiumServicer

    class CannedCheck(ConsortiumServicer):  # type: ignore[misc]
        async def _check(self, caller: str, request: Any) -> Any:
            response = consortium_pb2.CheckResponse.FromString(response_raw)
            response.application_ref = request.application_ref
            return response

    consortium.server.ConsortiumServicer = CannedCheck  # type: ignore[misc,attr-defined]


def hub_settings(p: Params) -> dict[str, str]:
    """The settings the runs' hubs get beyond listen, store, TLS and admin key: ``--rings off``
    as ``ring_link_caps`` 0 for every type (a consortium that shares stacking and blacklists
    only: no ring and no shared-identifier reasons, the scope issue 2's targets were written
    for), then every ``--hub-setting``."""
    no_links = {"ring_link_caps": ",".join(f"{t.name.lower()}=0" for t in TokenType if t)}
    return {**({} if p.rings else no_links), **p.hub_settings}


def live_ip_block(p: Params) -> int | None:
    """``Workload.go_live``'s block: the applications one IP link window holds at the history's
    rate (``--history`` over ``--history-days``; without a history, 100,000 over 30 days), or
    None when the runs' hubs give IPs no window (they link for as long as retained, or never)."""
    window = hub_link_policy(hub_settings(p)).window_of_type(TokenType.IP)
    if window is None:
        return None
    per_day = p.history / p.history_days if p.history else 100_000 / 30
    return max(1, round(per_day * window / 86_400))


def hub_link_policy(settings: dict[str, str]) -> LinkPolicy:
    """The ring-link policy a hub started with ``settings`` folds with (``HubConfig.link_policy``)."""
    policy: LinkPolicy = hub_config({"plaintext": True, **settings}).link_policy()
    return policy


def hub_config(settings: dict[str, Any]) -> Any:
    """A ``HubConfig`` from settings as the hub's own loader reads them (strings coerced, errors
    naming the setting), ignoring this process's LIANFANG_HUB_* environment."""
    from consortium.config import HubConfig
    from runtime.config import load_config

    return load_config(HubConfig, section="hub", env={}, overrides=settings)


async def _serve_async(spec: dict[str, Any]) -> None:
    from consortium.server import start_hub

    stop: Callable[[], Awaitable[None]]
    if spec["kind"] == "canned_hub":
        _can_the_check_answer(base64.b64decode(spec["response_b64"]))
    if spec["kind"] in ("hub", "canned_hub"):
        hub = await start_hub(
            hub_config(
                {
                    "listen": "127.0.0.1:0",
                    "store": spec["store"],
                    "tls_cert": spec["tls_cert"],
                    "tls_key": spec["tls_key"],
                    "admin_keys": spec["admin_keys"],
                    **spec.get("hub_settings", {}),
                }
            )
        )
        port = hub.port

        async def stop_hub() -> None:
            await hub.stop(0.5)

        stop = stop_hub
    else:
        stop, port = await _start_echo(spec)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    profile_out = spec.get("cprofile_out")
    if profile_out:  # SIGUSR1 starts collecting, SIGUSR2 stops and writes the stats file
        profiler = cProfile.Profile()

        def dump() -> None:
            profiler.disable()
            profiler.dump_stats(profile_out)

        loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
        loop.add_signal_handler(signal.SIGUSR2, dump)
    print(f"PORT {port}", flush=True)
    await done.wait()
    await stop()


def serve_main(spec_json: str) -> None:
    from runtime.logs import configure_logging

    spec = json.loads(spec_json)
    # Like `lianfang hub serve`: one JSON line per RPC (flushed per record), here into a file.
    with open(spec["log_file"], "a") as log:
        configure_logging(spec["log_level"], stream=log)
        run_on_event_loop(_serve_async(spec), spec["event_loop"])  # as `lianfang hub serve` does


class ServerProcess:
    """A hub or echo server in a child process; ``port`` once it listens."""

    def __init__(self, spec: dict[str, Any], name: str) -> None:
        self.name = name
        self.log_file = spec["log_file"]
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), SERVE_COMMAND, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=open(spec["log_file"] + ".stderr", "w"),  # noqa: SIM115 - owned by the child
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            err = Path(spec["log_file"] + ".stderr").read_text()[-3000:]
            raise RuntimeError(f"{name} did not start: {line!r}\n{err}")
        self.port = int(line.split()[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------
class RedisLike(Protocol):
    port: int

    def start(self, timeout: float = 10.0) -> Any: ...
    def stop(self, timeout: float = 10.0) -> None: ...


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _MinimalRedis:
    """Fallback when tests.support is not importable: redis-server on a free port, no persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> _MinimalRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH; run deploy/install-redis.sh")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return self
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout)


def make_redis(folder: Path) -> RedisLike:
    """tests.support.redis_process.RedisProcess (``--save "" --appendonly no``) when importable."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests.support.redis_process import RedisProcess
    except ImportError:
        return _MinimalRedis(folder)
    proc: RedisLike = RedisProcess(folder, appendonly=False)
    return proc


# --------------------------------------------------------------------------------------------
# Clients of the hub / echo server
# --------------------------------------------------------------------------------------------
@dataclass
class Setup:
    folder: Path
    ca: DevCertificateAuthority
    hub_cert: str
    hub_key: str
    admin_key_file: str
    admin_public_b64: str
    member_keys: dict[str, str]  # member id -> key file
    member_publics: dict[str, str]  # member id -> base64 raw public key
    log_level: str
    event_loop: str

    def server_spec(self, kind: str, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "tls_cert": self.hub_cert,
            "tls_key": self.hub_key,
            "admin_keys": {"bench": self.admin_public_b64},
            "members": self.member_publics,
            "log_file": str(self.folder / f"{name}.log"),
            "log_level": self.log_level,
            "event_loop": self.event_loop,
            **extra,
        }


def make_setup(folder: Path, members: int, log_level: str, event_loop: str) -> Setup:
    ca = DevCertificateAuthority(folder / "certs")
    cert = ca.issue("hub")
    admin_key = folder / "keys" / "admin.pem"
    admin_public = generate_key_file(admin_key)
    keys: dict[str, str] = {}
    publics: dict[str, str] = {}
    for i in range(members):
        member_id = f"lender-{i + 1:02d}"
        path = folder / "keys" / f"{member_id}.pem"
        publics[member_id] = base64.b64encode(generate_key_file(path)).decode()
        keys[member_id] = str(path)
    return Setup(
        folder,
        ca,
        cert.cert_file,
        cert.key_file,
        str(admin_key),
        base64.b64encode(admin_public).decode(),
        keys,
        publics,
        log_level,
        event_loop,
    )


@dataclass
class MemberConn:
    member_id: str
    signer: JwtSigner
    channel: grpc.aio.Channel
    check: grpc.aio.UnaryUnaryMultiCallable[consortium_pb2.CheckRequest, consortium_pb2.CheckResponse]
    batch: grpc.aio.UnaryUnaryMultiCallable[consortium_pb2.BatchCheckRequest, consortium_pb2.BatchCheckResponse]
    echo: grpc.aio.UnaryUnaryMultiCallable[consortium_pb2.CheckRequest, consortium_pb2.CheckResponse]


def member_conn(member_id: str, signer: JwtSigner, port: int, ca_file: str) -> MemberConn:
    """One TLS channel of one member to the hub (or echo server) on ``port``, JWT per call."""
    channel = open_channel(f"localhost:{port}", ca_file=ca_file)
    return MemberConn(
        member_id,
        signer,
        channel,
        channel.unary_unary(
            CHECK_METHOD,
            request_serializer=consortium_pb2.CheckRequest.SerializeToString,
            response_deserializer=consortium_pb2.CheckResponse.FromString,
        ),
        channel.unary_unary(
            BATCH_METHOD,
            request_serializer=consortium_pb2.BatchCheckRequest.SerializeToString,
            response_deserializer=consortium_pb2.BatchCheckResponse.FromString,
        ),
        # The echo client does exactly the client work of a Check: build, serialise, parse.
        channel.unary_unary(
            ECHO_METHOD,
            request_serializer=consortium_pb2.CheckRequest.SerializeToString,
            response_deserializer=consortium_pb2.CheckResponse.FromString,
        ),
    )


def connect_members(setup: Setup, port: int) -> list[MemberConn]:
    """One TLS channel per member (as each member's back office would have), JWT per call."""
    return [
        member_conn(
            member_id, JwtSigner(member_id, load_private_key(key_file), scopes=("query",)), port, setup.ca.ca_file
        )
        for member_id, key_file in setup.member_keys.items()
    ]


async def close_members(conns: list[MemberConn]) -> None:
    for c in conns:
        await c.channel.close()


async def enrol_members(setup: Setup, port: int, workload: Workload, markers: int) -> None:
    """Registers and approves the members at a fresh hub, then files ``markers`` blacklist
    markers on hot applicants' tokens (spread over the members)."""
    admin = AdminClient(
        open_channel(f"localhost:{port}", ca_file=setup.ca.ca_file),
        JwtSigner("admin/bench", load_private_key(setup.admin_key_file)),
    )
    try:
        for member_id, public in setup.member_publics.items():
            await admin.register_member(member_id, member_id, "microloan", base64.b64decode(public))
            await admin.change_member("approve", member_id, "benchmark")
    finally:
        await admin.close()
    clients = [
        HubClient(open_channel(f"localhost:{port}", ca_file=setup.ca.ca_file), JwtSigner(m, load_private_key(k)))
        for m, k in setup.member_keys.items()
    ]
    try:
        await file_markers(clients, workload, markers)
    finally:
        for c in clients:
            await c.close()


async def file_markers(clients: Sequence[HubClient], workload: Workload, markers: int) -> None:
    """Files ``markers`` SUSPECT markers on hot applicants' resident IDs and phones, spread over
    the members' clients (the same markers in every run: a fixed seed)."""
    rng = random.Random(7)
    for i in range(markers):
        person = f"h{rng.randrange(Workload.HOT_PEOPLE)}"
        token = workload.person_tokens(person)[i % 2]  # resident ID or phone
        await clients[i % len(clients)].file_marker(token, T.MARKER_TYPE_SUSPECT, "BENCH_SUSPECT")


def check_op(conns: list[MemberConn], workload: Workload) -> Op:
    async def op(i: int) -> None:
        c = conns[i % len(conns)]
        await c.check(workload.request(), timeout=CALL_TIMEOUT, metadata=c.signer.metadata())

    return op


def echo_op(conns: list[MemberConn], workload: Workload) -> Op:
    async def op(i: int) -> None:
        c = conns[i % len(conns)]
        await c.echo(workload.request(), timeout=CALL_TIMEOUT, metadata=c.signer.metadata())

    return op


def batch_op(conns: list[MemberConn], workload: Workload, size: int) -> Op:
    async def op(i: int) -> None:
        c = conns[i % len(conns)]
        await c.batch(workload.batch(size), timeout=BATCH_TIMEOUT, metadata=c.signer.metadata())

    return op


def synthetic_response(workload: Workload) -> bytes:
    """A CheckResponse shaped like a real one (8 token types x 5 windows, two reasons)."""
    request = workload.request()
    stacking = [
        consortium_pb2.Stacking(
            token_type=t.type,
            windows=[consortium_pb2.WindowCount(window=w, other_members=1, other_applications=2) for w in range(1, 6)],
        )
        for t in request.tokens
    ]
    reasons = [
        common_pb2.Reason(
            code="STACKING_PHONE_24H",
            token_type=T.TOKEN_TYPE_PHONE,
            detail="1 other member(s), 2 application(s) within 24h",
        )
    ] * 2
    response = consortium_pb2.CheckResponse(
        application_ref=request.application_ref, newly_recorded=True, stacking=stacking, reasons=reasons
    )
    raw: bytes = response.SerializeToString()
    return raw


async def sample_responses(conns: list[MemberConn], workload: Workload, n: int) -> tuple[dict[str, Any], bytes, bytes]:
    """Sends ``n`` Checks, sequentially, and describes the answers (sizes, how many stack, how
    many are linked to a ring and to a high-risk one, the median and largest ring's size)."""
    stacking = blacklist = linked = high_risk = 0
    ring_sizes: list[int] = []
    req_sizes: list[int] = []
    resp_sizes: list[tuple[int, bytes]] = []
    request = workload.request()
    for i in range(n):
        c = conns[i % len(conns)]
        request = workload.request()
        resp = await c.check(request, timeout=CALL_TIMEOUT, metadata=c.signer.metadata())
        raw = resp.SerializeToString()
        req_sizes.append(request.ByteSize())
        resp_sizes.append((len(raw), raw))
        if any(w.other_members for s in resp.stacking for w in s.windows):
            stacking += 1
        if len(resp.blacklist):
            blacklist += 1
        if resp.HasField("ring"):
            linked += 1
            ring_sizes.append(resp.ring.size)
            high_risk += any(r.code == "RING_HIGH_RISK" for r in resp.reasons)
    resp_sizes.sort()
    median_raw = resp_sizes[len(resp_sizes) // 2][1]
    info = {
        "sampled_checks": n,
        "stacking_nonempty_fraction": round(stacking / n, 3),
        "blacklist_hit_fraction": round(blacklist / n, 3),
        "ring_linked_fraction": round(linked / n, 3),
        "ring_high_risk_fraction": round(high_risk / n, 3),
        "ring_size_median": sorted(ring_sizes)[len(ring_sizes) // 2] if ring_sizes else 0,
        "ring_size_max": max(ring_sizes, default=0),
        "request_bytes_median": sorted(req_sizes)[n // 2],
        "response_bytes_median": len(median_raw),
    }
    return info, request.SerializeToString(), median_raw


# --------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------
@dataclass
class Meters:
    cpu: CpuMeter
    redis: RedisStats

    async def measure(self, run: Callable[[], Awaitable[PhaseResult]], unit_per_op: int = 1) -> dict[str, Any]:
        """Runs a phase; reruns it once if other processes took a lot of CPU meanwhile (and the
        run's wait budget allows), keeping the quieter attempt."""
        best: dict[str, Any] | None = None
        for attempt in (1, 2):
            GATE.wait(list(self.cpu.pids.values()))
            self.redis.reset()
            with collector_paused():
                before = self.cpu.snapshot()
                started = time.monotonic()
                result = await run()
                after = self.cpu.snapshot()
            out = result.summary(unit_per_op)
            units = result.ops * unit_per_op
            out["cpu"] = CpuMeter.report(before, after, result.elapsed, units)
            redis_side = self.redis.report(units)
            if redis_side is not None:
                out["redis_side"] = redis_side
            out["attempt"] = attempt
            noise = out["cpu"]["other_processes_cpu_pct"]
            if best is None or noise < best["cpu"]["other_processes_cpu_pct"]:
                best = out
            if noise < GATE.noisy_pct or not GATE.spend(time.monotonic() - started):
                break
            log_line(f"  other processes used {noise:.0f}% of a core during the phase; running it again")
        assert best is not None
        return best


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """This process's cyclic collector off for a measured phase, after a full pass. Its passes
    stall every call in flight here: in a process that wrote a ``--history``, 15-70 ms passes
    every few seconds, which the open loop counted as hub latency (p99 at 500/s 11.3 ms while
    the hub's RPC log had 99 % of those Checks done in 1.4 ms). They are the load generator's
    noise, not the server's. Reference counting still frees everything meanwhile, and the
    cycles left wait for the next pass. The servers measured keep their collectors as they are."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def log_line(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _main_cpu(row: dict[str, Any]) -> str:
    parts = []
    for name in ("hub", "echo_server", "redis", "bench"):
        c = row["cpu"].get(name)
        if c and c["cpu_us_per_op"] is not None:
            parts.append(f"{name} {c['cpu_pct']:.0f}%/{c['cpu_us_per_op']:.0f}us")
    return " ".join(parts)


def _walk(obj: Any, key: str) -> Iterator[Any]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            else:
                yield from _walk(v, key)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, key)


async def sweep(
    meters: Meters,
    make_op: Callable[[], Op],
    concurrency: Sequence[int],
    seconds: float,
    label: str,
    unit_per_op: int = 1,
) -> dict[str, Any]:
    rows = []
    for c in concurrency:
        row = await meters.measure(lambda c=c: closed_loop(make_op(), c, seconds), unit_per_op)  # type: ignore[misc]
        row = {"concurrency": c, **row}
        rows.append(row)
        rate = row.get("items_per_s", row["ops_per_s"])
        log_line(
            f"  {label} c={c:<3d} {rate:9.1f}/s  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms"
            f"  err {row['errors']}  CPU(%/per op) {_main_cpu(row)}  other procs "
            f"{row['cpu']['other_processes_cpu_pct']:.0f}%"
        )
    best = max(rows, key=lambda r: r.get("items_per_s", r["ops_per_s"]))
    return {"best": best, "sweep": rows}


async def bench_store(
    store: str, setup: Setup, p: Params, redis_url: str | None, redis_pid: int | None
) -> tuple[dict[str, Any], bytes, bytes]:
    """Starts a hub on ``store`` and runs the fixed-load, peak and BatchCheck phases."""
    store_url = f"{redis_url}/0" if store == "redis" else f"sqlite:///{setup.folder / 'hub.db'}"
    workload = Workload(p.seed, f"{store}-{os.getpid()}")
    history: dict[str, Any] = {"applications": p.history, "days": p.history_days}
    if p.history:
        history["write_seconds"] = await preload_history(
            store_url, workload, p.history, sorted(setup.member_publics), p.history_days, hub_settings(p)
        )
        log_line(f"{store}: {p.history:,} applications of history written in {history['write_seconds']:.1f} s")
    workload.go_live(live_ip_block(p))
    started = now()
    spec = setup.server_spec("hub", f"hub-{store}", store=store_url, hub_settings=hub_settings(p))
    hub = ServerProcess(spec, f"hub ({store})")
    history["hub_start_seconds"] = round(now() - started, 2)  # the hub replays the log first
    conns: list[MemberConn] = []
    try:
        pids = {"hub": hub.pid, **({"redis": redis_pid} if redis_pid else {})}
        meters = Meters(CpuMeter(pids), RedisStats(redis_url))
        await enrol_members(setup, hub.port, workload, markers=200)
        conns = connect_members(setup, hub.port)
        log_line(f"{store}: hub pid {hub.pid} on port {hub.port}; warming up {p.warmup_seconds:.0f} s")
        await closed_loop(check_op(conns, workload), 16, p.warmup_seconds)
        sample, request_raw, response_raw = await sample_responses(conns, workload, 200)
        log_line(f"{store}: {sample}")
        fixed = await meters.measure(lambda: open_loop(check_op(conns, workload), p.fixed_rate, p.fixed_seconds))
        log_line(
            f"{store}: fixed {p.fixed_rate:.0f}/s  p50 {fixed['p50_ms']:.2f}  p90 {fixed['p90_ms']:.2f}"
            f"  p99 {fixed['p99_ms']:.2f} ms  errors {fixed['errors']}"
        )
        peak = await sweep(meters, lambda: check_op(conns, workload), p.concurrency, p.peak_seconds, f"{store} Check")
        batch = await sweep(
            meters,
            lambda: batch_op(conns, workload, p.batch_size),
            p.batch_concurrency,
            p.batch_seconds,
            f"{store} BatchCheck apps",
            unit_per_op=p.batch_size,
        )
        sample_after, _, _ = await sample_responses(conns, workload, 200)  # what the run did to the rings
        log_line(f"{store}: after the phases: {sample_after}")
        result = {
            "store_url": "sqlite:///<tmp>/hub.db" if store == "sqlite" else store_url,
            "history": history,
            "sample": sample,
            "sample_after": sample_after,
            "fixed_load": fixed,
            "peak": peak,
            "batch": batch,
            "applications_written": workload.counter,
        }
        return result, request_raw, response_raw
    finally:
        await close_members(conns)
        hub.stop()


async def preload_history(
    store_url: str, workload: Workload, count: int, members: Sequence[str], days: float, settings: dict[str, str]
) -> float:
    """Writes ``count`` applications of the workload, received evenly over the past ``days``
    by ``members`` in turn, as the hub's Check records them (``Store.record_logged``, events
    split by the link policy the hub will fold with) before the hub starts. The hub then
    replays them as a production hub replays its log, so the phases measure a hub with a
    history (rings and hub tokens settled, long token histories) instead of one that starts
    empty. Returns the seconds the writing took."""
    from consortium.rings import application_event_body, encode_event
    from consortium.services.consortium_service import application_record, request_token_keys
    from consortium.store.base import LOG_START
    from consortium.store.registry import store_from_url

    started = now()
    store, cursor = store_from_url(store_url), LOG_START
    policy = hub_link_policy(settings)  # as the hub's
    end, step = time.time() - 60.0, days * 86_400.0 / count
    try:
        for first in range(0, count, 500):
            apps = []
            for i in range(first, min(count, first + 500)):
                request = workload.request()
                at = end - (count - i) * step
                apps.append(
                    application_record(members[i % len(members)], request, at, tuple(request_token_keys(request)))
                )
            events = [encode_event(application_event_body(app, policy)) for app in apps]
            _, entries = await store.record_logged(apps, events, cursor)
            cursor = entries[-1][0]
    finally:
        await store.close()
    return round(now() - started, 2)


async def warm_and_sweep(meters: Meters, make_op: Callable[[], Op], p: Params, label: str) -> dict[str, Any]:
    """A server's peak: a warm-up at 16 in flight, then the closed-loop concurrency sweep."""
    await closed_loop(make_op(), 16, p.warmup_seconds)
    return await sweep(meters, make_op, p.concurrency, p.peak_seconds, label)


async def bench_echo(setup: Setup, p: Params, response_raw: bytes, auth: bool) -> dict[str, Any]:
    spec = setup.server_spec("echo", "echo", response_b64=base64.b64encode(response_raw).decode(), auth=auth)
    server = ServerProcess(spec, "echo server")
    workload = Workload(p.seed + 99, f"echo-{os.getpid()}")
    conns = connect_members(setup, server.port)
    try:
        meters = Meters(CpuMeter({"echo_server": server.pid}), RedisStats(None))
        log_line(f"echo: server pid {server.pid}; auth interceptor {'on' if auth else 'off'}")
        peak = await warm_and_sweep(meters, lambda: echo_op(conns, workload), p, "echo")
        return {
            "method": ECHO_METHOD,
            "stack": "runtime.server.create_server, TLS, ErrorAndLogInterceptor (INFO log line per RPC)"
            + (", AuthInterceptor (member JWT, cached verification + member status)" if auth else ""),
            "request_bytes": "a real CheckRequest (8 tokens), serialised by the client",
            "response_bytes": len(response_raw),
            "peak": peak,
        }
    finally:
        await close_members(conns)
        server.stop()


async def bench_canned_check(setup: Setup, p: Params, response_raw: bytes) -> dict[str, Any]:
    """Check against the hub's own process, stack and handler (interceptors, JWT, validation,
    protobuf both ways) with the consortium work replaced by a fixed answer: what separates
    the echo ceiling from the stack cost of a Check, and that from the work of answering one."""
    spec = setup.server_spec(
        "canned_hub",
        "canned-hub",
        store=f"sqlite:///{setup.folder / 'canned.db'}",
        response_b64=base64.b64encode(response_raw).decode(),
    )
    server = ServerProcess(spec, "hub with a canned Check answer")
    workload = Workload(p.seed + 77, f"canned-{os.getpid()}")
    conns: list[MemberConn] = []
    try:
        await enrol_members(setup, server.port, workload, markers=0)
        conns = connect_members(setup, server.port)
        meters = Meters(CpuMeter({"hub": server.pid}), RedisStats(None))
        log_line(f"canned Check: hub pid {server.pid}; answers one fixed real answer")
        peak = await warm_and_sweep(meters, lambda: check_op(conns, workload), p, "canned Check")
        return {
            "method": CHECK_METHOD,
            "stack": "consortium.server.start_hub (every interceptor, metrics included), TLS; "
            "ConsortiumService.Check validates the request, then answers a stored real CheckResponse",
            "response_bytes": len(response_raw),
            "peak": peak,
        }
    finally:
        await close_members(conns)
        server.stop()


async def bench_raw_redis(url: str, redis_pid: int, setup: Setup, p: Params) -> dict[str, Any]:
    """The Redis round trip of one Check as RedisStore.record_logged sends it (the record's
    create-if-absent, the markers of 8 tokens, the log's XADD + XRANGE), and record_logged
    itself, both driven from this process without gRPC."""
    from consortium.records import ApplicationRecord, token_key
    from consortium.rings import application_event
    from consortium.store.redis import RedisStore, RedisStoreConfig
    from graph import LinkPolicy

    store = RedisStore(RedisStoreConfig(url=url, key_prefix="raw"))
    client = aioredis.Redis.from_url(url, decode_responses=False)
    workload = Workload(p.seed + 7, f"raw-{os.getpid()}")
    members = list(setup.member_keys)
    meters = Meters(CpuMeter({"redis": redis_pid}), RedisStats(url))
    policy = LinkPolicy()
    cursor: list[tuple[int, int]] = [(0, 0)]  # the last log entry read, as a hub's RingTracker keeps it

    def application(i: int) -> ApplicationRecord:
        t = time.time()
        return ApplicationRecord(
            member_id=members[i % len(members)],
            application_ref=workload.next_ref(),
            received_at=t,
            token_keys=tuple(token_key(x.scheme, x.type, x.epoch, x.value) for x in workload.tokens()),
            applicant_kind=T.APPLICANT_KIND_PERSON,
            product_category="consumer_instalment",
            consent_ref="consent",
        )

    def commands(app: ApplicationRecord) -> list[tuple[Any, ...]]:
        """Exactly what RedisStore.record_logged sends for one application."""
        script, keys, args = store._app_call(app)
        log = store._log_commands([application_event(app, policy)], cursor[0])
        markers = [("HVALS", f"{store._token_base(k)}:markers") for k in dict.fromkeys(app.token_keys)]
        return [("EVALSHA", script.sha, len(keys), *keys, *args), *markers, *log]

    def advance(entries: Any) -> None:
        if entries:
            ms, _, seq = entries[-1][0].decode().partition("-")
            cursor[0] = max(cursor[0], (int(ms), int(seq)))

    await client.script_load(store._create.script)

    async def pipeline_op(i: int) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for command in commands(application(i)):
                pipe.execute_command(*command)
            replies = await pipe.execute()
        advance(replies[-1])

    async def store_op(i: int) -> None:
        app = application(i)
        _, entries = await store.record_logged([app], [application_event(app, policy)], cursor[0])
        if entries:
            cursor[0] = max(cursor[0], entries[-1][0])

    link = getattr(store, "_link", None)  # the store's own transport (consortium/store/redis_link.py)

    async def link_op(i: int) -> None:
        assert link is not None  # only run when the store has one
        replies = await link.execute(commands(application(i)))
        advance(replies[-1])

    try:
        log_line("raw redis: pipeline of one Check's commands from redis.asyncio")
        await closed_loop(pipeline_op, 16, p.warmup_seconds / 2)
        peak = await sweep(meters, lambda: pipeline_op, p.concurrency, p.peak_seconds, "redis pipeline")
        in_process = await sweep(meters, lambda: store_op, (16,), p.peak_seconds / 2, "RedisStore.record_logged")
        via_link = None
        if link is not None:
            via_link = await sweep(meters, lambda: link_op, (16,), p.peak_seconds / 2, "same pipeline, store's link")
        return {
            "what": "1 EVALSHA create-if-absent of the record + 8 HVALS (the tokens' markers) + XADD and "
            "XRANGE of the consortium log, in one non-transactional redis.asyncio pipeline, as "
            "RedisStore.record_logged issues for one Check",
            "peak": peak,
            "store_check_in_process": in_process["best"],
            **(
                {
                    "store_link": {
                        "what": "the same calls through the store's own transport (RedisLink: one multiplexed "
                        "connection, hiredis packing and parsing) instead of redis.asyncio's pipeline",
                        **via_link["best"],
                    }
                }
                if via_link is not None
                else {}
            ),
        }
    finally:
        await client.aclose()
        await store.close()


# --------------------------------------------------------------------------------------------
# Whole run
# --------------------------------------------------------------------------------------------
def _hiredis_available() -> bool:
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:
        return False
    return bool(HIREDIS_AVAILABLE)


def code_version() -> dict[str, Any]:
    """The commit measured and any uncommitted files (read-only git; no index refresh). Result
    files under bench/results/ are left out: a series of runs would list the earlier ones."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD").strip(),
        "uncommitted": [
            path
            for path in (line[3:] for line in git("status", "--porcelain").splitlines() if line.strip())
            if not path.startswith("bench/results/")
        ],
    }


def machine_info() -> dict[str, Any]:
    def version(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    redis_version = "?"
    binary = shutil.which("redis-server")
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"v=(\S+)", out)
        redis_version = m.group(1) if m else out.strip()
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
        "redis_py": version("redis"),
        "redis_server": redis_version,
        "load_generator_event_loop": "asyncio",
        "hiredis": _hiredis_available(),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    stores = results["stores"]
    echo = results["ceilings"].get("echo", {}).get("peak", {}).get("best", {}).get("ops_per_s")
    raw = results["ceilings"].get("redis_pipeline", {}).get("peak", {}).get("best", {}).get("ops_per_s")
    out: dict[str, Any] = {}
    echo_best = results["ceilings"].get("echo", {}).get("peak", {}).get("best", {})
    echo_cpu = echo_best.get("cpu", {}).get("echo_server", {}).get("cpu_us_per_op")
    for name, s in stores.items():
        peak = s["peak"]["best"]["ops_per_s"]
        hub_cpu = s["peak"]["best"]["cpu"]["hub"]["cpu_us_per_op"]
        out[name] = {
            "hub_cpu_us_per_check": hub_cpu,
            "batch_hub_cpu_us_per_app": s["batch"]["best"]["cpu"]["hub"]["cpu_us_per_op"],
            "check_over_echo_by_cpu": ratio(echo_cpu, hub_cpu),
            "peak_check_per_s": peak,
            "peak_check_concurrency": s["peak"]["best"]["concurrency"],
            "fixed_load_p50_ms": s["fixed_load"]["p50_ms"],
            "fixed_load_p90_ms": s["fixed_load"]["p90_ms"],
            "fixed_load_p99_ms": s["fixed_load"]["p99_ms"],
            "batch_apps_per_s": s["batch"]["best"]["items_per_s"],
            "check_over_echo": ratio(peak, echo),
        }
        if name == "redis":
            out[name]["check_over_raw_redis_pipeline"] = ratio(peak, raw)
    out["echo_peak_per_s"] = echo
    out["echo_server_cpu_us_per_call"] = echo_cpu
    raw_best = results["ceilings"].get("redis_pipeline", {}).get("peak", {}).get("best", {})
    if raw_best:
        out["raw_pipeline_redis_server_cpu_us_per_check"] = raw_best["cpu"]["redis"]["cpu_us_per_op"]
        out["raw_pipeline_client_cpu_us_per_check"] = raw_best["cpu"]["bench"]["cpu_us_per_op"]
    link_best = results["ceilings"].get("redis_pipeline", {}).get("store_link")
    if link_best:
        out["raw_link_pipeline_per_s"] = link_best["ops_per_s"]
        out["raw_link_pipeline_client_cpu_us_per_check"] = link_best["cpu"]["bench"]["cpu_us_per_op"]
        out["raw_link_pipeline_redis_server_cpu_us_per_check"] = link_best["cpu"]["redis"]["cpu_us_per_op"]
    out["raw_redis_pipeline_peak_per_s"] = raw
    canned = results["ceilings"].get("canned_check", {}).get("peak", {}).get("best", {})
    if canned:
        out["canned_check_peak_per_s"] = canned["ops_per_s"]
        out["canned_check_hub_cpu_us_per_call"] = canned["cpu"]["hub"]["cpu_us_per_op"]
        for name in stores:  # what a Check costs the hub after validation (bench/README.md)
            out[name]["after_validation_cpu_us_per_check"] = round(
                out[name]["hub_cpu_us_per_check"] - canned["cpu"]["hub"]["cpu_us_per_op"], 1
            )
    verdicts: dict[str, Any] = {}
    for name in stores:
        r = out[name]
        if r["check_over_echo"] is not None:
            verdicts[f"{name}_check_over_echo_ge_50pct"] = r["check_over_echo"] >= TARGETS["check_over_echo_min"]
        verdicts[f"{name}_batch_ge_5000_apps_per_s"] = r["batch_apps_per_s"] >= TARGETS["batch_apps_per_s_min"]
    if "redis" in stores:
        verdicts["redis_p99_le_10ms_at_fixed_load"] = (
            out["redis"]["fixed_load_p99_ms"] <= TARGETS["redis_p99_ms_at_fixed_load_max"]
        )
    noise = list(_walk({"s": stores, "c": results["ceilings"]}, "other_processes_cpu_pct"))
    out["max_other_processes_cpu_pct"] = max(noise) if noise else None
    out["targets"] = TARGETS
    out["target_met"] = verdicts
    return out


def print_table(results: dict[str, Any]) -> None:
    s = results["summary"]
    rate = results["params"]["fixed_rate"]

    def f(x: Any, spec: str = ",.0f") -> str:
        return "n/a" if x is None else format(x, spec)

    print()
    print(f"Check with 8 tokens, hub in its own process, TLS, {results['machine']['cpu_count']} CPUs")
    print(
        f"{'store':<8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}  {'peak Check/s':>13}{'(c)':>5}"
        f"{'Batch apps/s':>14}{'Check/echo':>12}"
    )
    print(f"{'':<8}{'at ' + format(rate, '.0f') + '/s (open loop)':>27}")
    for name in results["stores"]:
        r = s[name]
        print(
            f"{name:<8}{r['fixed_load_p50_ms']:>9.2f}{r['fixed_load_p90_ms']:>9.2f}{r['fixed_load_p99_ms']:>9.2f}"
            f"  {f(r['peak_check_per_s']):>13}{r['peak_check_concurrency']:>5}"
            f"{f(r['batch_apps_per_s']):>14}{f(r['check_over_echo'], '.1%'):>12}"
        )
    print(
        "CPU per operation (µs): "
        + "; ".join(
            f"hub {name} Check {f(s[name]['hub_cpu_us_per_check'])}, per BatchCheck app "
            f"{f(s[name]['batch_hub_cpu_us_per_app'])}"
            for name in results["stores"]
        )
        + f"; echo server {f(s['echo_server_cpu_us_per_call'])}"
    )
    if "raw_pipeline_redis_server_cpu_us_per_check" in s:
        print(
            f"  raw pipeline: redis-server {f(s['raw_pipeline_redis_server_cpu_us_per_check'])},"
            f" redis.asyncio client {f(s['raw_pipeline_client_cpu_us_per_check'])} per Check"
        )
    if "raw_link_pipeline_per_s" in s:
        print(
            f"  same pipeline over the store's link (c=16): {f(s['raw_link_pipeline_per_s'])}/s, redis-server "
            f"{f(s['raw_link_pipeline_redis_server_cpu_us_per_check'])}, client "
            f"{f(s['raw_link_pipeline_client_cpu_us_per_check'])} µs per Check"
        )
    print(
        f"ceilings: echo RPC (same stack, auth) {f(s['echo_peak_per_s'])}/s;"
        f" raw Redis pipeline of one Check {f(s['raw_redis_pipeline_peak_per_s'])}/s"
    )
    if "canned_check_peak_per_s" in s:
        work = ", ".join(f"{name} {f(s[name]['after_validation_cpu_us_per_check'])}" for name in results["stores"])
        print(
            f"canned Check (the hub's stack, a fixed answer): {f(s['canned_check_peak_per_s'])}/s,"
            f" hub {f(s['canned_check_hub_cpu_us_per_call'])} µs per call; a real Check after validation: {work} µs"
        )
    if "redis" in s:
        print(f"peak Check on redis / raw Redis pipeline: {f(s['redis'].get('check_over_raw_redis_pipeline'), '.1%')}")
    print(f"noise: other processes used up to {f(s['max_other_processes_cpu_pct'], '.0f')}% of a core during a phase")
    print("targets:")
    for k, v in s["target_met"].items():
        print(f"  {'PASS' if v else 'MISS'}  {k}")


async def run_all(p: Params, out_path: Path, keep: bool, wait_idle: float) -> dict[str, Any]:
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="lianfang-bench-"))
    results: dict[str, Any] = {
        "benchmark": "bench/check.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_version(),
        "params": {
            **{k: v for k, v in p.__dict__.items()},
            "call_timeout_s": CALL_TIMEOUT,
            "hub": "consortium.server.start_hub in a subprocess, TLS (DevCertificateAuthority), "
            "member_cache_seconds 1.0, on the event loop `event_loop` (the echo server too)",
            "client": "grpc.aio in the benchmark process, one TLS channel per member, "
            "requests round-robin over members, JWT (EdDSA) per call",
            "workload": (Workload.__doc__ or "").split("\n\n")[0].strip(),
        },
        "stores": {},
        "ceilings": {},
    }
    try:
        global GATE
        GATE = QuietGate(wait_idle)
        started_quiet = GATE.wait([], limit=min(30.0, wait_idle))
        results["machine"]["load_at_start"] = {
            "other_processes_cpu_pct": round(started_quiet, 1),
            "loadavg": list(os.getloadavg()),
        }
        setup = make_setup(folder, p.members, p.hub_log_level, p.event_loop)
        response_raw = b""
        for store in p.stores:
            if store == "sqlite":
                r, _, response_raw = await bench_store("sqlite", setup, p, None, None)
                results["stores"]["sqlite"] = r
            else:
                rp = make_redis(folder / "redis")
                rp.start()
                try:
                    url = f"redis://127.0.0.1:{rp.port}"
                    pid = int(redis.Redis.from_url(url).info("server")["process_id"])
                    r, _, response_raw = await bench_store("redis", setup, p, url, pid)
                    results["stores"]["redis"] = r
                    results["ceilings"]["redis_pipeline"] = await bench_raw_redis(url + "/0", pid, setup, p)
                finally:
                    rp.stop()
        results["message_sizes"] = {
            k: v for k, v in next(iter(results["stores"].values()))["sample"].items() if k.endswith("bytes_median")
        }
        results["ceilings"]["echo"] = await bench_echo(setup, p, response_raw, auth=True)
        results["ceilings"]["canned_check"] = await bench_canned_check(setup, p, response_raw)
    finally:
        if keep:
            log_line(f"kept temp folder {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["waited_for_quiet_machine_s"] = round(GATE.waited, 1)
    results["summary"] = summarise(results)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return results


# --------------------------------------------------------------------------------------------
# Profiling mode
# --------------------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('fn')} ({path})"


# Where a sample's time goes: the first frame from the leaf up that matches a rule names it;
# asyncio/contextlib/dataclass frames are transparent (charged to their caller).
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("(redis/", "redis-py client: pack commands, parse replies, socket I/O"),
    ("(consortium/store/", "store code (incl. the SQLite engine for sqlite)"),
    ("(consortium/stacking.py", "stacking_answer: fold + build Stacking protos"),
    ("(consortium/markers.py", "blacklist answer"),
    ("(consortium/validation.py", "request validation"),
    ("(consortium/auth.py", "AuthInterceptor / Authenticator"),
    ("(uuid.py", "request id: uuid4"),
    ("(logging/", "RPC log line (logging + JSON)"),
    ("(json/", "RPC log line (logging + JSON)"),
    ("(runtime/logs.py", "RPC log line (logging + JSON)"),
    ("(runtime/interceptors.py", "ErrorAndLogInterceptor wrapper"),
    ("(consortium/", "servicer, records, timestamps"),
    ("(protobuf/", "servicer, records, timestamps"),
    ("(grpc/", "grpc Python layer (handlers, interceptor plumbing)"),
)
_TRANSPARENT = ("(asyncio/", "(contextlib.py", "(<string>", "(<frozen abc>", "(functools.py", "(typing.py")


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        if frame.endswith(_TRANSPARENT) or any(t in frame for t in _TRANSPARENT):
            continue
        for needle, name in _CATEGORIES:
            if needle in frame:
                return name
        break
    leaf = frames[-1]
    if leaf.startswith("Handle._run"):
        return "grpc core in Cython/C (HTTP/2, TLS, protobuf C, completion queue)"
    if leaf.startswith("Thread.run"):
        return "grpc poller thread"
    if "selectors.py" in leaf:
        return "epoll (event loop I/O wait/dispatch)"
    return "asyncio event loop / other"


def summarise_pyspy(raw_file: Path, seconds: float, rate: int, top: int) -> str:
    """Self and inclusive shares of the samples of a ``py-spy record --format raw`` file, and a
    breakdown by cost category."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    total = 0
    for line in raw_file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        cats[_category(frames)] += count
        for fr in set(frames):
            incl[fr] += count
    wall = seconds * rate
    lines = [
        f"py-spy: {total} busy samples of ~{wall:.0f} (busy {100 * total / wall:.0f}% of one core, all threads)",
        "",
        "by category (% of busy samples):",
    ]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in cats.most_common()]
    lines += ["", f"top {top} by self time (% of busy samples):"]
    lines += [f"  {100 * c / total:5.1f}%  {fn}" for fn, c in own.most_common(top)]
    lines += ["", f"top {top} by inclusive time (% of busy samples):"]
    lines += [f"  {100 * c / total:5.1f}%  {fn}" for fn, c in incl.most_common(top)]
    return "\n".join(lines)


def summarise_cprofile(stats_file: Path, top: int) -> str:
    import io

    buf = io.StringIO()
    st = pstats.Stats(str(stats_file), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


async def run_profile(p: Params, args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="lianfang-bench-profile-"))
    setup = make_setup(folder, p.members, p.hub_log_level, p.event_loop)
    store: str = args.profile_store
    rp: RedisLike | None = None
    hub: ServerProcess | None = None
    conns: list[MemberConn] = []
    try:
        if store == "redis":
            rp = make_redis(folder / "redis")
            rp.start()
            store_url = f"redis://127.0.0.1:{rp.port}"
        else:
            store_url = f"sqlite:///{folder / 'hub.db'}"
        extra: dict[str, Any] = {"store": store_url}
        if args.profile == "cprofile":
            extra["cprofile_out"] = str(folder / "hub.prof")
        workload = Workload(p.seed, f"prof-{os.getpid()}")
        if args.profile_phase == "echo":
            store = "none"
            extra["response_b64"] = base64.b64encode(synthetic_response(workload)).decode()
            hub = ServerProcess(setup.server_spec("echo", "echo-profile", auth=True, **extra), "echo server")
        else:
            if p.history:
                await preload_history(
                    store_url, workload, p.history, sorted(setup.member_publics), p.history_days, hub_settings(p)
                )
            workload.go_live(live_ip_block(p))
            hub = ServerProcess(setup.server_spec("hub", "hub-profile", hub_settings=hub_settings(p), **extra), "hub")
            await enrol_members(setup, hub.port, workload, markers=200)
        conns = connect_members(setup, hub.port)
        ops = {
            "check": lambda: check_op(conns, workload),
            "batch": lambda: batch_op(conns, workload, p.batch_size),
            "echo": lambda: echo_op(conns, workload),
        }
        op = ops[args.profile_phase]()
        concurrency = args.profile_concurrency
        await closed_loop(op, concurrency, p.warmup_seconds)
        seconds = args.profile_seconds
        rate = 200
        spy: subprocess.Popen[bytes] | None = None
        raw_file = folder / "hub.pyspy.txt"
        if args.profile == "py-spy":
            binary = pyspy_binary()
            assert binary is not None, "main() checks for py-spy before any phase"
            cmd = [
                binary,
                "record",
                "--pid",
                str(hub.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(raw_file),
            ]
            # --native (C/Cython frames) needs to pause the process for each sample.
            cmd.append("--native" if args.native else "--nonblocking")
            spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            await asyncio.sleep(0.5)
        else:
            hub.signal(signal.SIGUSR1)
        result = await closed_loop(op, concurrency, seconds)
        unit = p.batch_size if args.profile_phase == "batch" else 1
        log_line(
            f"profiled {args.profile_phase} on {store} (c={concurrency}): "
            f"{result.ops * unit / result.elapsed:.0f}/s under the profiler"
        )
        if spy is not None:
            _, err = spy.communicate(timeout=seconds + 60)
            if spy.returncode != 0 or not raw_file.exists():
                raise RuntimeError(f"py-spy failed: {err.decode()[-2000:]}")
            print(summarise_pyspy(raw_file, seconds, rate, args.top))
        else:
            hub.signal(signal.SIGUSR2)
            await asyncio.sleep(1.0)
            print(summarise_cprofile(folder / "hub.prof", args.top))
        log_line(f"raw profile kept in {folder}")
    finally:
        await close_members(conns)
        if hub is not None:
            hub.stop()
        if rp is not None:
            rp.stop()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/check.py",
        description="Benchmark of the hub's Check path (sqlite and redis stores) against the echo-RPC "
        "and raw-Redis ceilings; writes JSON and prints a summary table.",
    )
    ap.add_argument("--quick", action="store_true", help="~2 s per phase (smoke run)")
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "check.json",
        help="JSON output (default: bench/results/check.json)",
    )
    ap.add_argument("--stores", nargs="+", choices=("sqlite", "redis"), default=["sqlite", "redis"])
    ap.add_argument("--rate", type=float, default=500.0, help="offered Checks/s of the fixed-load phase")
    ap.add_argument(
        "--seconds", type=float, default=0.0, help="override the length of each phase (default 10 s, 2 s with --quick)"
    )
    ap.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[8, 16, 32],
        help="closed-loop in-flight calls to sweep for peak rates",
    )
    ap.add_argument(
        "--batch-concurrency", type=int, nargs="+", default=[2, 8], help="in-flight BatchCheck calls to sweep"
    )
    ap.add_argument("--members", type=int, default=4, help="member lenders sending Checks")
    ap.add_argument(
        "--hub-log-level", default="INFO", help="hub log level (INFO, as deployed, writes one JSON line per RPC)"
    )
    ap.add_argument(
        "--event-loop",
        default="auto",
        choices=EVENT_LOOPS,
        help="event loop of the hub and echo servers (auto, as `lianfang hub serve`: uvloop when installed)",
    )
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument(
        "--history",
        type=int,
        default=0,
        help="applications written to each store before its hub starts (0: the hub starts empty)",
    )
    ap.add_argument("--history-days", type=float, default=30.0, help="the days --history is spread over")
    ap.add_argument(
        "--rings",
        choices=("on", "off"),
        default="on",
        help="off: hubs configured to link no token into rings (ring_link_caps 0: stacking and blacklist only)",
    )
    ap.add_argument(
        "--hub-setting",
        action="append",
        default=[],
        type=_setting,
        metavar="NAME=VALUE",
        help="a hub setting for the runs' hubs, as in the hub's TOML or env (repeatable), "
        "e.g. ring_link_windows_hours=ip=0",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (certs, logs, sqlite db)")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        help="total seconds the run may wait for other processes on the machine to go quiet "
        "before its phases (at most 10 s per phase; 0: never wait)",
    )
    prof = ap.add_argument_group("profiling (instead of the benchmark)")
    prof.add_argument(
        "--profile",
        choices=("py-spy", "cprofile"),
        help="profile the hub under closed-loop load and print the top costs",
    )
    prof.add_argument("--profile-store", choices=("sqlite", "redis"), default="redis")
    prof.add_argument(
        "--profile-phase",
        choices=("check", "batch", "echo"),
        default="check",
        help="echo: profile the echo server instead of the hub",
    )
    prof.add_argument("--profile-seconds", type=float, default=15.0)
    prof.add_argument("--profile-concurrency", type=int, default=16)
    prof.add_argument("--native", action="store_true", help="py-spy --native (C/Cython frames)")
    prof.add_argument("--top", type=int, default=30, help="rows of each profile table")
    return ap.parse_args(argv)


def pyspy_binary() -> str | None:
    """py-spy on PATH or beside this interpreter (the venv's bin), None when neither has it."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def _setting(text: str) -> tuple[str, str]:
    """``--hub-setting name=value``, checked against the hub's own configuration."""
    from runtime.config import ConfigError

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    try:
        hub_config({"plaintext": True, name: value})
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    p = params_from_args(args)
    if args.profile:
        if args.profile == "py-spy" and pyspy_binary() is None:
            print(
                "bench/check.py: --profile py-spy needs py-spy, which the dev set-up does not install: "
                ".venv/bin/pip install py-spy (or use --profile cprofile)",
                file=sys.stderr,
            )
            return 2
        asyncio.run(run_profile(p, args))
        return 0
    results = asyncio.run(run_all(p, args.out, args.keep, args.wait_idle))
    print_table(results)
    print(f"\nwrote {args.out} ({results['duration_s']} s)")
    return 0


def _entry() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == SERVE_COMMAND:
        serve_main(sys.argv[2])
        return 0
    return main()


if __name__ == "__main__":
    sys.exit(_entry())
