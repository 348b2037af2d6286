"""Blacklist-scale benchmark: what a large blacklist costs a hub at start-up and on every
retention pass, on SQLite and on a real redis-server.

Every hub start (and every retention pass) runs the marker reconciliation
(``consortium.marker_log.reconcile_marker_state``): it lists every member's markers from the
store and compares the tokens they flag with the consortium log's view, so its cost grows with
the blacklist, not with traffic. A member that files a court's dishonest-debtor list
(失信被执行人) has millions of markers.

Per store: a fresh store gets ``--markers`` negative markers spread over ``--members`` filers,
each with the log entry FileMarker logs with it, so the log and the store agree (the steady
state: reconciliation reads everything and corrects nothing).
Then, measured (wall and this process's CPU; Redis's own CPU from ``INFO``):

* ``markers_by_filer``: every member's markers listed once (the store read reconciliation does);
* ``hub_start``: a fresh fold (``RingTracker.catch_up``, the log replay) and then
  ``reconcile_marker_state``, as ``consortium.server.start_hub`` runs them.

    .venv/bin/python bench/markers.py [--markers 200000] [--stores sqlite redis] [--out ...]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from lianfang.v1 import common_pb2  # noqa: E402

from consortium.disputes import DisputeBook  # noqa: E402
from consortium.marker_log import reconcile_marker_state  # noqa: E402
from consortium.records import Marker, token_key  # noqa: E402
from consortium.rings import RingTracker, marker_event  # noqa: E402
from consortium.store.base import LOG_START, Store  # noqa: E402
from consortium.store.registry import open_store  # noqa: E402
from tests.support.redis_process import RedisProcess  # noqa: E402

OUT = ROOT / "bench" / "results" / "markers.json"
T0 = 1_767_225_600.0  # 2026-01-01
FILE_CONCURRENCY = 16
LOG_PAGE = 1_000


def marker(i: int, members: int) -> Marker:
    return Marker(
        marker_id=f"mk_{i:012d}",
        filer_member_id=f"lender-{i % members}",
        token_key=token_key(1, common_pb2.TOKEN_TYPE_RESIDENT_ID, 1, i.to_bytes(16, "big")),
        marker_type=common_pb2.MARKER_TYPE_COURT_DISHONEST,
        reason_code="COURT_DISHONEST_LIST",
        evidence_level=common_pb2.EVIDENCE_LEVEL_COURT_JUDGMENT,
        filed_at=T0 + i / 1000,
        event_ended_at=T0,
        expires_at=None,
    )


async def file_markers(store: Store, n: int, members: int) -> float:
    """``n`` markers and their log entries (FileMarker's, appended in pages rather than with
    each marker: the state is the same); returns the seconds it took."""
    started = time.perf_counter()
    queue = iter(range(n))

    async def filer() -> None:
        for i in queue:
            await store.add_marker(marker(i, members))

    await asyncio.gather(*(filer() for _ in range(FILE_CONCURRENCY)))
    cursor = LOG_START
    for start in range(0, n, LOG_PAGE):
        ms = [marker(i, members) for i in range(start, min(n, start + LOG_PAGE))]
        entries = await store.append_log_events(
            [marker_event(m.token_key, True, m.filer_member_id, m.filed_at) for m in ms], cursor
        )
        cursor = entries[-1][0]
    return time.perf_counter() - started


async def timed(what: Callable[[], Awaitable[Any]], redis_pid: int | None) -> tuple[dict[str, float], Any]:
    cpu, wall, redis_cpu = time.process_time(), time.perf_counter(), process_cpu(redis_pid)
    result = await what()
    figures = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    if redis_pid is not None:
        figures["redis_cpu_s"] = process_cpu(redis_pid) - redis_cpu
    return {k: round(v, 3) for k, v in figures.items()}, result


def process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(store: Store, n: int, members: int, redis_pid: int | None) -> dict[str, Any]:
    filing_s = await file_markers(store, n, members)

    async def list_all() -> int:
        return sum([len(await store.markers_by_filer(f"lender-{m}")) for m in range(members)])

    listing, listed = await timed(list_all, redis_pid)
    assert listed == n, f"listed {listed} of {n} markers"

    async def start() -> int:
        rings = RingTracker(store)
        disputes = DisputeBook()
        rings.observers = (disputes.observe,)
        await rings.catch_up()
        corrected = await reconcile_marker_state(store, rings, disputes, T0 + 86_400)
        assert len(rings.negative_tokens) == n
        return corrected

    start_figures, corrected = await timed(start, redis_pid)
    assert corrected == 0, "the store and the log disagree: not the steady state"
    return {
        "markers": n,
        "members": members,
        "filing_s": round(filing_s, 1),
        "markers_by_filer": {**listing, "us_per_marker": round(listing["wall_s"] / n * 1e6, 1)},
        "hub_start": {**start_figures, "us_per_marker": round(start_figures["wall_s"] / n * 1e6, 1)},
    }


async def run_store(kind: str, folder: Path, n: int, members: int) -> dict[str, Any]:
    if kind == "sqlite":
        store = open_store("sqlite", {"path": str(folder / "hub.db")})
        try:
            return {"store": "sqlite", **await measure(store, n, members, None)}
        finally:
            await store.close()
    server = RedisProcess(folder / "redis").start()
    try:
        pid = int(redis.Redis.from_url(server.url).info("server")["process_id"])
        store = open_store("redis", {"url": server.url, "key_prefix": "lf"})
        try:
            return {"store": "redis", **await measure(store, n, members, pid)}
        finally:
            await store.close()
    finally:
        server.stop()


def code() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    status = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted": status}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--markers", type=int, default=200_000, help="negative markers filed (default 200,000)")
    parser.add_argument("--members", type=int, default=4, help="filing members (default 4)")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "redis"], default=["sqlite", "redis"])
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON output (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.markers < 1 or args.members < 1:
        parser.error("--markers and --members must be at least 1")
    results: dict[str, Any] = {
        "benchmark": "bench/markers.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "code": code(),
        "stores": {},
    }
    with tempfile.TemporaryDirectory(prefix="lianfang-bench-markers-") as tmp:
        for kind in args.stores:
            folder = Path(tmp) / kind
            folder.mkdir()
            results["stores"][kind] = r = asyncio.run(run_store(kind, folder, args.markers, args.members))
            print(
                f"{kind}: {r['markers']:,} markers; listing {r['markers_by_filer']['us_per_marker']} us/marker, "
                f"hub start (replay + reconciliation) {r['hub_start']['wall_s']} s"
                f" ({r['hub_start']['us_per_marker']} us/marker)",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
