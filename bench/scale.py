"""Scale-out benchmark: peak Checks/s with 1 vs 2 hub processes, on standalone Redis and on a
3-primary Redis Cluster, and what limits each configuration on this machine.

Every configuration (store x hub count) starts from a fresh store: a private redis-server (or
three cluster-mode redis-servers joined by ``redis-cli --cluster create``) and real
``lianfang hub serve`` processes over TLS (``tests/support/hub_process.py``). The load generator
is this process: grpc.aio, the same workload as ``bench/check.py`` (8-token Checks, fresh
application refs, the same seed, members and 200 blacklist markers), one TLS channel per member
per hub, calls spread round-robin over the hubs. A closed-loop concurrency sweep finds the peak;
the CPU of every process (each hub, each redis-server, the load generator) and of the rest of the
machine is read from /proc for every phase.

With several hubs, every hub folds every application of the consortium log into its own ring
index: its own Checks' entries and, on its next Check, the other hubs'. That duplicated fold is
measured twice: as the rise in a hub's CPU per Check it served (2 hubs vs 1), and directly, by
starting one more hub on the store after the load and charging its start-up CPU beyond an empty
store's to the log entries it replayed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT / "bench"), str(ROOT)):  # check.py, and tests.support
    if _path not in sys.path:
        sys.path.insert(0, _path)

import check  # noqa: E402
import redis  # noqa: E402
from check import (  # noqa: E402
    CALL_TIMEOUT,
    CpuMeter,
    MemberConn,
    Meters,
    PhaseResult,
    QuietGate,
    RedisStats,
    Workload,
    close_members,
    closed_loop,
    code_version,
    file_markers,
    log_line,
    machine_info,
    member_conn,
    open_loop,
    process_cpu_seconds,
    ratio,
    sample_responses,
)

from clients.credentials import JwtSigner  # noqa: E402
from tests.support.hub_process import HubFixture, HubProcess  # noqa: E402
from tests.support.redis_cluster import RedisCluster  # noqa: E402
from tests.support.redis_process import RedisProcess  # noqa: E402

STORES = ("standalone", "cluster")
BUSY_PCT = 85.0
"""A process using at least this % of one core during a phase is reported as CPU-bound."""
SATURATED_SHARE = 0.9
"""The machine counts as saturated when all processes together use this share of its cores."""
HUB_SETTINGS = {"member_cache_seconds": "1.0", "store_probe_seconds": "2.0"}  # the hub's defaults


# --------------------------------------------------------------------------------------------
# Child processes: stopped at the end whatever happens (error, Ctrl-C, SIGTERM)
# --------------------------------------------------------------------------------------------
class Stoppable(Protocol):
    def stop(self) -> None: ...


_CHILDREN: list[Stoppable] = []


def started(child: Stoppable) -> None:
    _CHILDREN.append(child)


def stop_all() -> None:
    """Stops every child still registered, newest first (hubs before the store they use)."""
    while _CHILDREN:
        child = _CHILDREN.pop()
        try:
            child.stop()
        except Exception as exc:  # keep stopping the others
            log_line(f"stopping {type(child).__name__} failed: {exc}")


def _stop(child: Stoppable) -> None:
    if child in _CHILDREN:
        _CHILDREN.remove(child)
    child.stop()


class StoreUnderTest:
    """A fresh standalone redis-server or a fresh ``masters``-primary Redis Cluster."""

    def __init__(self, kind: str, folder: Path, masters: int) -> None:
        self.kind = kind
        self.cluster = RedisCluster(folder, masters=masters, appendonly=False) if kind == "cluster" else None
        self.single = None if self.cluster is not None else RedisProcess(folder, appendonly=False)
        self.ports: list[int] = []
        self.pids: dict[str, int] = {}

    def start(self) -> StoreUnderTest:
        started(self)
        if self.cluster is not None:
            self.cluster.start()
            self.ports = [n.port for n in self.cluster.nodes]
        else:
            assert self.single is not None
            self.single.start()
            self.ports = [self.single.port]
        names = ["redis"] if len(self.ports) == 1 else [f"redis{i + 1}" for i in range(len(self.ports))]
        for name, port in zip(names, self.ports, strict=True):
            client = redis.Redis(port=port, socket_timeout=2)
            try:
                self.pids[name] = int(client.info("server")["process_id"])
            finally:
                client.close()
        return self

    @property
    def hub_url(self) -> str:
        if self.cluster is not None:
            return self.cluster.hub_url
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        elif self.single is not None:
            self.single.stop()


class NodesRedisStats(RedisStats):
    """``INFO commandstats`` summed over every node of the store (one for standalone)."""

    def __init__(self, ports: Sequence[int]) -> None:
        super().__init__(None)
        self.clients = [redis.Redis(port=p, socket_timeout=5) for p in ports]

    def reset(self) -> None:
        for c in self.clients:
            c.config_resetstat()

    def report(self, ops: int) -> dict[str, Any] | None:
        if not ops:
            return None
        calls = usec = 0
        for c in self.clients:
            stats: dict[str, Any] = c.info("commandstats")
            calls += sum(int(v["calls"]) for v in stats.values())
            usec += sum(int(v["usec"]) for v in stats.values())
        return {"commands_per_op": round(calls / ops, 2), "redis_usec_per_op": round(usec / ops, 1)}

    def close(self) -> None:
        for c in self.clients:
            c.close()


# --------------------------------------------------------------------------------------------
# Parameters and load
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    quick: bool
    stores: tuple[str, ...]
    hubs: tuple[int, ...]
    masters: int
    concurrency: tuple[int, ...]
    peak_seconds: float
    warmup_seconds: float
    members: int
    markers: int
    tokens_per_check: int
    seed: int


class RoundRobin:
    """A Check op spreading calls over the hubs (call k to hub k mod H) and, per hub, over the
    members; counts the Checks each hub answered."""

    def __init__(self, conns: list[list[MemberConn]], workload: Workload) -> None:
        self.conns = conns
        self.workload = workload
        self.sent = 0
        self.per_hub = [0] * len(conns)

    async def __call__(self, _worker: int) -> None:
        k = self.sent
        self.sent += 1
        hubs = len(self.conns)
        h = k % hubs
        row = self.conns[h]
        c = row[(k // hubs) % len(row)]
        await c.check(self.workload.request(), timeout=CALL_TIMEOUT, metadata=c.signer.metadata())
        self.per_hub[h] += 1


async def peak_phase(
    conns: list[list[MemberConn]], workload: Workload, concurrency: int, seconds: float
) -> PhaseResult:
    op = RoundRobin(conns, workload)
    result = await closed_loop(op, concurrency, seconds)
    result.extra["checks_per_hub"] = list(op.per_hub)
    return result


async def open_loop_phase(
    conns: list[list[MemberConn]], workload: Workload, rate: float, seconds: float
) -> PhaseResult:
    op = RoundRobin(conns, workload)
    result = await open_loop(op, rate, seconds)
    result.extra["checks_per_hub"] = list(op.per_hub)
    return result


def start_hub(fixture: HubFixture, url: str) -> HubProcess:
    hub = HubProcess(
        fixture,
        url,
        member_cache_seconds=HUB_SETTINGS["member_cache_seconds"],
        store_probe_seconds=HUB_SETTINGS["store_probe_seconds"],
    )
    started(hub)
    hub.start(timeout=120)
    return hub


def hub_pid(hub: HubProcess) -> int:
    pid = hub.pid
    if pid is None:
        raise RuntimeError(f"hub on port {hub.port} is not running")
    return pid


def replayed_entries(log_path: Path) -> int | None:
    """The entry count of the hub's ``consortium log replayed`` start-up log line."""
    for line in log_path.read_text(errors="replace").splitlines():
        if "consortium log replayed" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for scope in (record, record.get("fields", {})):
            if isinstance(scope, dict) and "entries" in scope:
                return int(scope["entries"])
    return None


# --------------------------------------------------------------------------------------------
# One configuration
# --------------------------------------------------------------------------------------------
def derive(row: dict[str, Any], hubs: int) -> dict[str, Any]:
    """Per-process CPU figures of one phase, in the units the limits are argued in."""
    cpu = row["cpu"]
    procs = {k: v for k, v in cpu.items() if isinstance(v, dict)}
    ops = row["ops"]
    per_check = {("load_generator" if k == "bench" else k): v["cpu_us_per_op"] for k, v in procs.items()}
    pct = {("load_generator" if k == "bench" else k): v["cpu_pct"] for k, v in procs.items()}
    served = row.get("checks_per_hub", [])
    hub_served: dict[str, float | None] = {}
    for i in range(hubs):
        us = per_check.get(f"hub{i + 1}")
        n = served[i] if i < len(served) else 0
        hub_served[f"hub{i + 1}"] = round(us * ops / n, 1) if us is not None and n else None
    total = sum(v for v in per_check.values() if v is not None)
    ours = sum(pct.values())
    ncpu = os.cpu_count() or 1
    return {
        "cpu_us_per_check": per_check,
        "cpu_pct_of_one_core": pct,
        "hub_cpu_us_per_check_it_served": hub_served,
        "total_cpu_us_per_check": round(total, 1),
        "our_processes_cpu_pct": round(ours, 1),
        "machine_cpu_pct": round(ours + cpu["other_processes_cpu_pct"], 1),
        "machine_capacity_pct": 100 * ncpu,
        "checks_per_s_if_all_cores_busy": round(ncpu * 1e6 / total, 1) if total else None,
    }


async def bench_config(
    store_kind: str, hubs: int, p: Params, folder: Path, per_hub_rate: float | None = None
) -> dict[str, Any]:
    label = f"{store_kind}/{hubs}hub"
    conf_dir = folder / f"{store_kind}-{hubs}"
    store = StoreUnderTest(store_kind, conf_dir / "redis", p.masters)
    fixture = HubFixture(conf_dir / "hub")
    hub_list: list[HubProcess] = []
    conns: list[list[MemberConn]] = []
    stats: NodesRedisStats | None = None
    try:
        store.start()
        url = store.hub_url
        for _ in range(hubs):
            hub_list.append(start_hub(fixture, url))
        startup_cpu = {f"hub{i + 1}": round(process_cpu_seconds(hub_pid(h)), 3) for i, h in enumerate(hub_list)}
        log_line(f"{label}: store {url} (pids {store.pids}); hubs on ports {[h.port for h in hub_list]}")
        workload = Workload(p.seed, f"scale-{os.getpid()}-{store_kind}-{hubs}")
        signers: dict[str, JwtSigner] = {}
        for i in range(p.members):
            member_id = f"lender-{i + 1:02d}"
            signers[member_id] = await fixture.enrol(hub_list[0].port, member_id)
        clients = [fixture.member(hub_list[0].port, s) for s in signers.values()]
        try:
            await file_markers(clients, workload, p.markers)
        finally:
            for client in clients:
                await client.close()
        conns = [[member_conn(m, s, h.port, fixture.ca.ca_file) for m, s in signers.items()] for h in hub_list]
        pids = {**{f"hub{i + 1}": hub_pid(h) for i, h in enumerate(hub_list)}, **store.pids}
        stats = NodesRedisStats(store.ports)
        meters = Meters(CpuMeter(pids), stats)
        log_line(f"{label}: warming up {p.warmup_seconds:.0f} s")
        await closed_loop(RoundRobin(conns, workload), 16, p.warmup_seconds)
        interleaved = [conns[h][m] for m in range(p.members) for h in range(hubs)]
        sample, _, _ = await sample_responses(interleaved, workload, 200)
        log_line(f"{label}: {sample}")
        rows = []
        for c in p.concurrency:
            row = await meters.measure(lambda c=c: peak_phase(conns, workload, c, p.peak_seconds))  # type: ignore[misc]
            row = {"concurrency": c, **row}
            row["derived"] = derive(row, hubs)
            rows.append(row)
            d = row["derived"]
            cpu_text = " ".join(
                f"{k} {d['cpu_pct_of_one_core'][k]:.0f}%/{v:.0f}us" for k, v in d["cpu_us_per_check"].items() if v
            )
            log_line(
                f"  {label} c={c:<3d} {row['ops_per_s']:8.1f}/s  p50 {row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} ms"
                f"  err {row['errors']}  {cpu_text}  machine {d['machine_cpu_pct']:.0f}%"
                f" (others {row['cpu']['other_processes_cpu_pct']:.0f}%)"
            )
        best = max(rows, key=lambda r: r["ops_per_s"])
        half_load = None
        if hubs == 1:
            # Control for the 2-hub run, where each hub serves half the Checks: one hub at the rate
            # each of those hubs served (open loop; half its own peak without a 2-hub run), so the
            # CPU per Check of a hub that is not saturated is known.
            rate = round((per_hub_rate or best["ops_per_s"] / 2), 1)
            half_load = await meters.measure(lambda: open_loop_phase(conns, workload, rate, p.peak_seconds))
            half_load["derived"] = derive(half_load, hubs)
            log_line(
                f"  {label} open loop at {rate:.0f}/s: p50 {half_load['p50_ms']:.2f} p99 {half_load['p99_ms']:.2f} ms"
                f"  hub CPU per Check {half_load['derived']['cpu_us_per_check'].get('hub1')} µs"
            )
        await close_all(conns)
        conns = []
        # The fold measured directly: one more hub replays the whole log at start-up.
        replay = start_hub(fixture, url)
        replay_cpu = process_cpu_seconds(hub_pid(replay))
        _stop(replay)
        entries = replayed_entries(replay.log_path)
        baseline = min(startup_cpu.values())
        fold_us = round(1e6 * (replay_cpu - baseline) / entries, 1) if entries else None
        log_line(f"{label}: replay of {entries} log entries: {replay_cpu:.2f} s CPU (empty store {baseline:.2f} s)")
        return {
            "store": store_kind,
            "hubs": hubs,
            "store_url": url.replace(str(folder), "<tmp>"),
            "redis_nodes": len(store.ports),
            "hub_startup_cpu_s_on_empty_store": startup_cpu,
            "sample": sample,
            "peak": {"best": best, "sweep": rows},
            **({"control_at_per_hub_rate": half_load} if half_load is not None else {}),
            "applications_written": workload.counter,
            "log_replay": {
                "what": "CPU of one more hub started on the store after the load, until SERVING, minus a hub's "
                "start-up CPU on the empty store, per consortium-log entry it folded",
                "entries": entries,
                "hub_cpu_s": round(replay_cpu, 3),
                "empty_store_hub_cpu_s": baseline,
                "fold_us_per_entry": fold_us,
            },
        }
    finally:
        await close_all(conns)
        if stats is not None:
            stats.close()
        for h in reversed(hub_list):
            _stop(h)
        _stop(store)


async def close_all(conns: list[list[MemberConn]]) -> None:
    for row in conns:
        await close_members(row)


# --------------------------------------------------------------------------------------------
# Summary and the limits, derived from the measured figures
# --------------------------------------------------------------------------------------------
def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return round(sum(vals) / len(vals), 1) if vals else None


def limits(row: dict[str, Any], hubs: int, fold: dict[str, Any] | None) -> list[str]:
    """What bounds a configuration's peak, read off its best phase's CPU figures."""
    d = row["derived"]
    ncpu = os.cpu_count() or 1
    out: list[str] = []
    pct = d["cpu_pct_of_one_core"]
    busy = [k for k, v in pct.items() if v >= BUSY_PCT]
    for name in busy:
        out.append(f"{name} CPU-bound: {pct[name]:.0f}% of one core")
    machine = d["machine_cpu_pct"]
    other = row["cpu"]["other_processes_cpu_pct"]
    if machine >= SATURATED_SHARE * 100 * ncpu:
        out.append(
            f"machine saturated: our processes use {d['our_processes_cpu_pct']:.0f}% and others {other:.0f}% "
            f"of {100 * ncpu}% ({ncpu} cores)"
        )
    per_check = d["cpu_us_per_check"]
    total = d["total_cpu_us_per_check"]
    parts = ", ".join(
        f"{k} {v:.0f} µs ({100 * v / total:.0f}%)" for k, v in sorted(per_check.items(), key=lambda kv: -kv[1]) if v
    )
    out.append(f"CPU per Check {total:.0f} µs in all: {parts}")
    bound = d["checks_per_s_if_all_cores_busy"]
    if bound:
        out.append(
            f"{ncpu} cores / CPU per Check = {bound:,.0f} Checks/s; achieved {row['ops_per_s']:,.0f} "
            f"({100 * row['ops_per_s'] / bound:.0f}% of it)"
        )
    if hubs > 1 and fold is not None and fold.get("hub_cpu_increase_us_per_served_check") is not None:
        inc = fold["hub_cpu_increase_us_per_served_check"]
        f = fold.get("fold_us_per_entry")
        text = (
            f"each hub folds every hub's applications: a hub's CPU per Check it served is "
            f"{fold['hub_cpu_us_per_served_check_2hubs']:.0f} µs vs {fold['hub_cpu_us_per_served_check_1hub']:.0f} µs "
            f"with one hub ({inc:+.0f} µs)"
        )
        if f:
            text += (
                f"; folding one log entry costs {f:.0f} µs (replay), so the other hub's entries account for "
                f"~{fold['increase_from_folding_other_hubs_entries_us']:.0f} µs per served Check "
                f"({fold['duplicated_fold_cpu_pct_of_one_core']:.1f}% of a core at this rate)"
            )
        rest = fold.get("increase_not_from_folding_us")
        load_part = fold.get("control_cpu_rise_us")
        if rest is not None:
            text += f"; the other {rest:+.0f} µs per served Check is not folding"
            if load_part is not None:
                covered = min(1.0, max(0.0, load_part / rest)) if rest > 0 else 1.0
                text += (
                    f": one hub alone, not saturated, at the rate each of these hubs served (open loop) costs "
                    f"{load_part:+.0f} µs per Check vs its own peak, which covers {100 * covered:.0f}% of it "
                    f"(a hub's CPU per Check depends on how busy it is)"
                )
        out.append(text)
    if not busy and machine < SATURATED_SHARE * 100 * ncpu:
        out.append(
            f"no process CPU-bound and the machine {100 - machine / ncpu:.0f}% idle: bounded by round-trip "
            f"latency at this concurrency (a closed loop), not by CPU"
        )
    return out


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    configs: dict[str, dict[str, Any]] = results["configs"]
    table: dict[str, dict[str, Any]] = {}
    for name, r in configs.items():
        best = r["peak"]["best"]
        d = best["derived"]
        table[name] = {
            "peak_checks_per_s": best["ops_per_s"],
            "best_concurrency": best["concurrency"],
            "p50_ms": best["p50_ms"],
            "p99_ms": best["p99_ms"],
            "errors": sum(row["errors"] for row in r["peak"]["sweep"]),
            "cpu_us_per_check": d["cpu_us_per_check"],
            "cpu_pct_of_one_core": d["cpu_pct_of_one_core"],
            "hub_cpu_us_per_check_it_served": d["hub_cpu_us_per_check_it_served"],
            "total_cpu_us_per_check": d["total_cpu_us_per_check"],
            "machine_cpu_pct": d["machine_cpu_pct"],
            "other_processes_cpu_pct": best["cpu"]["other_processes_cpu_pct"],
            "checks_per_s_if_all_cores_busy": d["checks_per_s_if_all_cores_busy"],
            "fold_us_per_entry_replay": r["log_replay"]["fold_us_per_entry"],
        }
    ratios: dict[str, Any] = {}
    fold_cost: dict[str, Any] = {}
    for store in STORES:
        one, two = table.get(f"{store}/1hub"), table.get(f"{store}/2hub")
        if one and two:
            ratios[f"{store}_2hub_over_1hub"] = ratio(two["peak_checks_per_s"], one["peak_checks_per_s"])
            ratios[f"{store}_2hub_over_1hub_total_cpu_per_check"] = ratio(
                two["total_cpu_us_per_check"], one["total_cpu_us_per_check"]
            )
            a = one["hub_cpu_us_per_check_it_served"].get("hub1")
            b = _mean(list(two["hub_cpu_us_per_check_it_served"].values()))
            f = _mean([two["fold_us_per_entry_replay"], one["fold_us_per_entry_replay"]])
            hubs = len(two["hub_cpu_us_per_check_it_served"])
            half = configs[f"{store}/1hub"].get("control_at_per_hub_rate")
            c = half["derived"]["cpu_us_per_check"].get("hub1") if half else None
            increase = round(b - a, 1) if a is not None and b is not None else None
            fold_part = round(f * (hubs - 1), 1) if f is not None else None
            load_part = round(c - a, 1) if c is not None and a is not None else None
            fold_cost[store] = {
                "hub_cpu_us_per_served_check_1hub": a,
                "hub_cpu_us_per_served_check_1hub_at_per_hub_rate": c,
                "hub_cpu_us_per_served_check_2hubs": b,
                "hub_cpu_increase_us_per_served_check": increase,
                "fold_us_per_entry": f,
                "increase_from_folding_other_hubs_entries_us": fold_part,
                "increase_not_from_folding_us": (
                    round(increase - fold_part, 1) if increase is not None and fold_part is not None else None
                ),
                "control_cpu_rise_us": load_part,
                "control_other_processes_cpu_pct": half["cpu"]["other_processes_cpu_pct"] if half else None,
                "duplicated_fold_cpu_pct_of_one_core": (
                    round(f * (hubs - 1) * two["peak_checks_per_s"] / 1e4, 1) if f is not None else None
                ),
            }
    for hubs in (1, 2):
        s, c = table.get(f"standalone/{hubs}hub"), table.get(f"cluster/{hubs}hub")
        if s and c:
            ratios[f"cluster_over_standalone_{hubs}hub"] = ratio(c["peak_checks_per_s"], s["peak_checks_per_s"])
            ratios[f"cluster_over_standalone_{hubs}hub_total_cpu_per_check"] = ratio(
                c["total_cpu_us_per_check"], s["total_cpu_us_per_check"]
            )
    limit_text = {
        name: limits(configs[name]["peak"]["best"], configs[name]["hubs"], fold_cost.get(configs[name]["store"]))
        for name in configs
    }
    noise = [row["cpu"]["other_processes_cpu_pct"] for r in configs.values() for row in r["peak"]["sweep"]]
    return {
        "table": table,
        "ratios": ratios,
        "fold_cost": fold_cost,
        "limits": limit_text,
        "max_other_processes_cpu_pct": max(noise) if noise else None,
    }


def print_table(results: dict[str, Any]) -> None:
    s = results["summary"]
    print()
    print(f"Check with 8 tokens; hubs = `lianfang hub serve` over TLS; {results['machine']['cpu_count']} CPUs")
    print(
        f"{'config':<16}{'Checks/s':>10}{'(c)':>5}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}  CPU µs per Check (% of a core)"
    )
    for name, r in s["table"].items():
        cpu = ", ".join(
            f"{k} {v:.0f} ({r['cpu_pct_of_one_core'][k]:.0f}%)" for k, v in r["cpu_us_per_check"].items() if v
        )
        print(
            f"{name:<16}{r['peak_checks_per_s']:>10,.0f}{r['best_concurrency']:>5}{r['p50_ms']:>8.2f}"
            f"{r['p99_ms']:>8.2f}{r['errors']:>5}  {cpu}; others {r['other_processes_cpu_pct']:.0f}%"
        )
    print("ratios:", ", ".join(f"{k} {v}" for k, v in s["ratios"].items() if not k.endswith("cpu_per_check")))
    for store, f in s["fold_cost"].items():
        print(f"fold cost ({store}): {f}")
    print("limits:")
    for name, lines in s["limits"].items():
        print(f"  {name}:")
        for line in lines:
            print(f"    - {line}")


# --------------------------------------------------------------------------------------------
# Whole run and CLI
# --------------------------------------------------------------------------------------------
async def run_all(p: Params, out_path: Path, folder: Path, wait_idle: float) -> dict[str, Any]:
    t0 = time.monotonic()
    check.GATE = QuietGate(wait_idle)
    quiet = check.GATE.wait([], limit=min(30.0, wait_idle))
    results: dict[str, Any] = {
        "benchmark": "bench/scale.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine_info(),
            "load_at_start": {"other_processes_cpu_pct": round(quiet, 1), "loadavg": list(os.getloadavg())},
        },
        "code": code_version(),
        "params": {
            **p.__dict__,
            "call_timeout_s": CALL_TIMEOUT,
            "hub": "`lianfang hub serve` subprocess (tests/support/hub_process.py), TLS, INFO JSON log line "
            f"per RPC into a file, settings {HUB_SETTINGS}",
            "store": "standalone: one redis-server; cluster: primaries only, slots split by redis-cli "
            "--cluster create; both --save '' --appendonly no, a fresh store per configuration",
            "client": "grpc.aio in this process (the load generator), one TLS channel per member per hub, "
            "call k to hub k mod hubs, JWT (EdDSA) per call; closed loop",
            "workload": (Workload.__doc__ or "").split("\n\n")[0].strip(),
        },
        "configs": {},
    }
    for store in p.stores:
        per_hub_rate: float | None = None
        # Most hubs first: the 1-hub run's control phase replays the per-hub rate of the 2-hub run.
        for hubs in sorted(p.hubs, reverse=True):
            r = await bench_config(store, hubs, p, folder, per_hub_rate if hubs == 1 else None)
            results["configs"][f"{store}/{hubs}hub"] = r
            if hubs == 2:
                per_hub_rate = r["peak"]["best"]["ops_per_s"] / 2
    order = [f"{s}/{h}hub" for s in p.stores for h in p.hubs]
    results["configs"] = {k: results["configs"][k] for k in order}
    results["duration_s"] = round(time.monotonic() - t0, 1)
    results["waited_for_quiet_machine_s"] = round(check.GATE.waited, 1)
    results["summary"] = summarise(results)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/scale.py",
        description="Peak Checks/s with 1 vs 2 hub processes on standalone Redis and on a Redis Cluster, "
        "with the CPU of every process; writes JSON and prints a summary table.",
    )
    ap.add_argument("--quick", action="store_true", help="2 s phases, a smoke run (~1 min)")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scale.json", help="default bench/results/scale.json"
    )
    ap.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    ap.add_argument("--hubs", nargs="+", type=int, default=[1, 2], help="hub process counts to compare")
    ap.add_argument("--masters", type=int, default=3, help="primaries of the Redis Cluster")
    ap.add_argument("--concurrency", nargs="+", type=int, default=[8, 16, 32], help="in-flight Checks to sweep")
    ap.add_argument("--seconds", type=float, default=0.0, help="length of each phase (default 10 s, 2 s --quick)")
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--markers", type=int, default=200, help="SUSPECT markers filed before the load")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=90.0,
        help="total seconds the run may wait for other processes to go quiet (at most 10 s per phase)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (certificates, hub and Redis logs)")
    return ap.parse_args(argv)


def params_from_args(args: argparse.Namespace) -> Params:
    quick = bool(args.quick)
    return Params(
        quick=quick,
        stores=tuple(args.stores),
        hubs=tuple(args.hubs),
        masters=args.masters,
        concurrency=tuple(args.concurrency),
        peak_seconds=args.seconds or (2.0 if quick else 10.0),
        warmup_seconds=1.0 if quick else 3.0,
        members=args.members,
        markers=args.markers,
        tokens_per_check=8,
        seed=args.seed,
    )


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    p = params_from_args(args)
    folder = Path(tempfile.mkdtemp(prefix="lianfang-scale-"))
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C even when started in the background of a script (which inherits SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        results = asyncio.run(run_all(p, args.out, folder, args.wait_idle))
    except KeyboardInterrupt:
        log_line("interrupted; stopping hubs and redis-servers")
        return 130
    finally:
        stop_all()
        if args.keep:
            log_line(f"kept temp folder {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(results)
    print(f"\nwrote {args.out} ({results['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
