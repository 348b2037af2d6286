"""Ring-index benchmark: ingest rate, ring lookup latency, rebuild time and memory, with scaling.

Each size runs in its own process (a clean heap, so RSS deltas mean something) on a synthetic,
deterministic workload shaped like a consortium's traffic:

* most applications come from a new person with fresh tokens (isolated, no ring);
* repeat applicants (the same person at another lender: stacking) and households (new people
  sharing an address and home IP with a recent applicant) make small, benign rings;
* public IPs (cafés, carrier NAT), office addresses and company switchboard phones are shared by
  hundreds of applications and become hub tokens;
* planted fraud rings (5-40 synthetic identities sharing a few devices, phones, mule bank
  accounts and addresses, across several lenders, some blacklisted or confirmed fraud);
* every application also carries an IP /24 token, which never links.

Per size: *stream* ingest (applications generated on the fly, in-process into MemoryRingState)
gives the memory (RSS delta: the index plus the generator's bounded pools); then the same
workload, pre-generated, is ingested again for the pure **ingest rate**; ``ring_of`` latency and
"ring answer" latency (ring_of + summarize + score_ring) on sampled applications; a **rebuild**
from the index's stored edges and metas, checked equal to the incremental result (every
application's ring id, every hub token). Sizes run smallest first and stop when the next would
exceed ``--max-seconds`` or the memory available (linear extrapolation).

    .venv/bin/python bench/rings.py [--quick] [--sizes 100000,300000,1000000] [--out ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.model import AppMeta  # noqa: E402
from graph.policy import token_type_name, token_type_of  # noqa: E402
from graph.ring_index import RingIndex  # noqa: E402
from graph.scoring import score_ring  # noqa: E402
from graph.summary import summarize  # noqa: E402

LENDERS = 12
T0, SPAN = 1_735_689_600.0, 90 * 86_400.0  # 2025-01-01, a 90-day window
MIX, MASK = 0x9E3779B97F4A7C15F39CC0605CEDC835, (1 << 128) - 1
RID, PHONE, EMAIL, DEVICE, IP, SUBNET, BANK, ADDRESS = 1, 3, 4, 5, 6, 7, 8, 9
TARGET_INGEST, TARGET_REBUILD_1M = 20_000.0, 60.0


class Workload:
    """Deterministic synthetic applications: ``(app_id, tokens, meta)``; bounded memory."""

    def __init__(self, n: int, seed: int = 7) -> None:
        self.n, self.seed = n, seed
        self.planted: dict[int, list[str]] = {}

    def __iter__(self) -> Iterator[tuple[str, tuple[str, ...], AppMeta]]:
        rnd, n = random.Random(self.seed), self.n
        counter = iter(range(1, 1 << 62))

        def fresh(token_type: int) -> str:
            return f"1.{token_type}.1.{(next(counter) * MIX) & MASK:032x}"

        def person() -> list[str]:
            return [fresh(t) for t in (RID, PHONE, EMAIL, DEVICE, BANK, ADDRESS, IP)]

        public_ips = [fresh(IP) for _ in range(max(20, n // 2_500))]
        offices = [fresh(ADDRESS) for _ in range(max(10, n // 10_000))]
        switchboards = [fresh(PHONE) for _ in range(max(5, n // 20_000))]
        subnets = [fresh(SUBNET) for _ in range(max(50, n // 50))]
        members = [f"m{lender:02d}" for lender in range(LENDERS)]  # one string each, as in the hub
        recent: list[list[str]] = []  # ring buffer of recent new applicants
        rings: list[dict[str, Any]] = []
        self.planted = {}
        for i in range(n):
            member = members[rnd.randrange(LENDERS)]
            app_id = f"{member}\x1fAPP{i:010d}"
            flags = {"defaulted": rnd.random() < 0.02}
            draw = rnd.random()
            if draw < 0.04:  # a member of a planted ring
                if len(rings) < 50 or rnd.random() < 0.02:
                    size = rnd.randint(5, 40)
                    self.planted[len(self.planted)] = []
                    rings.append(
                        {
                            "id": len(self.planted) - 1,
                            "left": size,
                            # Kit sized to stay mostly within the caps (degree ~4-7 each).
                            "phones": [fresh(PHONE) for _ in range(-(-size // 5))],
                            "devices": [fresh(DEVICE) for _ in range(-(-size // 6))],
                            "banks": [fresh(BANK) for _ in range(-(-size // 6))],
                            "addresses": [fresh(ADDRESS) for _ in range(-(-size // 5))],
                            "ips": [fresh(IP) for _ in range(-(-size // 12))],
                        }
                    )
                ring = rnd.choice(rings)
                # Synthetic identities (fresh resident ID and e-mail) on the ring's shared kit.
                who = [fresh(RID), rnd.choice(ring["phones"]), fresh(EMAIL), rnd.choice(ring["devices"])]
                who += [rnd.choice(ring["banks"]), rnd.choice(ring["addresses"]), rnd.choice(ring["ips"])]
                self.planted[ring["id"]].append(app_id)
                flags = {"defaulted": rnd.random() < 0.15, "blacklisted": rnd.random() < 0.1}
                flags["fraud_confirmed"] = rnd.random() < 0.05
                ring["left"] -= 1
                if ring["left"] == 0:
                    rings.remove(ring)
            elif draw < 0.19 and recent:  # the same person again, at another lender
                who = list(rnd.choice(recent))
                if rnd.random() < 0.5:
                    who[6] = fresh(IP)
                if rnd.random() < 0.2:
                    who[3] = fresh(DEVICE)
            elif draw < 0.31 and recent:  # a household member of a recent applicant
                home = rnd.choice(recent)
                who = person()
                who[5], who[6] = home[5], home[6]
                if rnd.random() < 0.3:
                    who[3] = home[3]  # the family tablet
            else:
                who = person()
            if draw >= 0.19:  # a new person (a repeat would tilt the odds towards itself)
                if len(recent) < 50_000:
                    recent.append(who)
                else:
                    recent[i % 50_000] = who
            tokens = list(who)
            if rnd.random() < 0.12:
                tokens[6] = rnd.choice(public_ips)
            if rnd.random() < 0.04:
                tokens[5] = rnd.choice(offices)
            if rnd.random() < 0.02:
                tokens[1] = rnd.choice(switchboards)
            tokens.append(rnd.choice(subnets))
            received = T0 + SPAN * i / n + rnd.random() * 600
            yield app_id, tuple(tokens), AppMeta(member, received, who[0], **flags)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_us(calls: Sequence[Any], fn: Any) -> dict[str, float]:
    lat = []
    for arg in calls:
        t = time.perf_counter_ns()
        fn(arg)
        lat.append((time.perf_counter_ns() - t) / 1000)
    return {"p50_us": round(pct(lat, 0.5), 2), "p99_us": round(pct(lat, 0.99), 2), "n": len(lat)}


def measure(n: int, seed: int, samples: int) -> dict[str, Any]:
    """One size, in this (fresh) process."""
    gc.collect()
    rss0, t, cpu = rss_bytes(), time.perf_counter(), time.process_time()
    stream = RingIndex()
    for app_id, tokens, meta in Workload(n, seed):
        stream.add_application(app_id, tokens, meta)
    stream_s, stream_cpu = time.perf_counter() - t, time.process_time() - cpu
    gc.collect()
    memory = rss_bytes() - rss0
    tokens_n = stream.state.token_count()
    del stream
    gc.collect()

    workload = Workload(n, seed)
    t = time.perf_counter()
    work = list(workload)
    generate_s = time.perf_counter() - t
    index = RingIndex()
    t, cpu = time.perf_counter(), time.process_time()
    for app_id, tokens, meta in work:
        index.add_application(app_id, tokens, meta)
    ingest_s, ingest_cpu = time.perf_counter() - t, time.process_time() - cpu

    rnd = random.Random(seed)
    sample = [work[rnd.randrange(n)][0] for _ in range(samples)]
    ring_sizes = dict(index.rings())
    in_rings = [app_id for app_id in sample if index.ring_size(index.ring_of(app_id) or "") > 1]

    def answer(app_id: str) -> None:
        summary = summarize(index, index.ring_of(app_id) or "")
        assert summary is not None
        score_ring(summary)

    lookups = {"ring_of": timed_us(sample, index.ring_of), "ring_answer_in_ring": timed_us(in_rings, answer)}

    planted = [members for members in workload.planted.values() if members]
    recovered = sum(len({index.ring_of(app_id) for app_id in members}) == 1 for members in planted)
    planted_rings = {index.ring_of(members[0]) for members in planted}
    others = [ring_id for ring_id in list(ring_sizes)[:20_000] if ring_id not in planted_rings]

    def mean_score(ring_ids: Sequence[str | None]) -> float:
        scores = [score_ring(s).score for r in ring_ids[:2_000] if r and (s := summarize(index, r))]
        return round(statistics.fmean(scores), 3) if scores else 0.0

    hubs = Counter(
        token_type_name(token_type_of(token))
        for token, apps in index.state.iter_tokens()
        if len(apps) > index.policy.cap_of(token)
    )

    replay = hub_replay(work, index)
    metas = {app_id: meta for app_id, _, meta in work}
    del work
    gc.collect()
    t = time.perf_counter()
    rebuilt = RingIndex.rebuild(index.edges(), metas=metas)
    rebuild_s = time.perf_counter() - t
    equal = (
        rebuilt.state.ring_count() == index.state.ring_count()
        and all(rebuilt.ring_of(app_id) == index.ring_of(app_id) for app_id in metas)
        and {t for t, a in rebuilt.state.iter_tokens() if rebuilt.is_hub_token(t)}
        == {t for t, a in index.state.iter_tokens() if index.is_hub_token(t)}
    )
    return {
        "apps": n,
        "tokens": tokens_n,
        "edges": sum(len(index.tokens_of(app_id)) for app_id in metas),
        "generate_s": round(generate_s, 2),
        "ingest": {
            "seconds": round(ingest_s, 2),
            "apps_per_s": round(n / ingest_s),
            "cpu_share": round(ingest_cpu / ingest_s, 3),
        },
        "stream_ingest": {"seconds_incl_generation": round(stream_s, 2), "cpu_share": round(stream_cpu / stream_s, 3)},
        "memory": {
            "rss_delta_mb": round(memory / 2**20, 1),
            "mb_per_million_tokens": round(memory / 2**20 / (tokens_n / 1e6), 1),
            "mb_per_million_apps": round(memory / 2**20 / (n / 1e6), 1),
        },
        "lookup": lookups,
        "rebuild": {"seconds": round(rebuild_s, 2), "apps_per_s": round(n / rebuild_s), "equal_to_incremental": equal},
        "hub_replay": replay,
        "rings": {
            "count": len(ring_sizes),
            "largest": max(ring_sizes.values(), default=1),
            "apps_in_rings": sum(ring_sizes.values()),
            "hub_tokens": dict(sorted(hubs.items())),
            "planted": len(planted),
            "planted_recovered": recovered,
            "mean_score_planted": mean_score(sorted(r for r in planted_rings if r)),
            "mean_score_other": mean_score(others),
        },
    }


def hub_replay(work: list[tuple[str, tuple[str, ...], AppMeta]], index: RingIndex) -> dict[str, Any]:
    """A hub's restart: the workload as consortium-log events in a real SQLite store (appended in
    batches, as BatchChecks would), then a fresh RingTracker folds the whole log, as
    ``start_hub`` does before it serves (its ring index and its stacking index: the RSS it adds
    is the memory a hub needs for the log). Checked against the in-process index."""
    import asyncio
    import tempfile

    from consortium.records import ApplicationRecord
    from consortium.rings import RingTracker, application_event
    from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
    from graph.model import APP_ID_SEPARATOR

    async def main(folder: str) -> dict[str, Any]:
        store = SqliteStore(SqliteStoreConfig(path=f"{folder}/hub.db"))
        policy = index.policy
        t = time.perf_counter()
        encode_s = 0.0
        for start in range(0, len(work), 5_000):
            e = time.perf_counter()
            events = []
            for app_id, tokens, meta in work[start : start + 5_000]:
                member, _, ref = app_id.partition(APP_ID_SEPARATOR)
                app = ApplicationRecord(member, ref, meta.received_at, tokens)
                events.append(application_event(app, policy))
            encode_s += time.perf_counter() - e
            await store.append_log_events(events, (1 << 62, 0))  # append only: read back nothing
        append_s = time.perf_counter() - t - encode_s
        gc.collect()
        rss_before = rss_bytes()
        tracker = RingTracker(store, policy)
        t = time.perf_counter()
        await tracker.catch_up()
        replay_s = time.perf_counter() - t
        gc.collect()
        tracker_bytes = rss_bytes() - rss_before
        sample = random.Random(1).sample([app_id for app_id, _, _ in work], min(20_000, len(work)))
        equal = len(tracker.index) == len(index) and all(tracker.index.ring_of(a) == index.ring_of(a) for a in sample)
        await store.close()
        log_bytes = sum(f.stat().st_size for f in Path(folder).glob("hub.db*"))
        n = len(work)
        return {
            "append_s": round(append_s, 2),
            "encode_s": round(encode_s, 2),
            "replay_s": round(replay_s, 2),
            "replay_apps_per_s": round(n / replay_s),
            "tracker_rss_delta_mb": round(tracker_bytes / 2**20, 1),
            "tracker_bytes_per_application": round(tracker_bytes / n),
            "stacking_tokens": len(tracker.stacking),
            "db_mb": round(log_bytes / 2**20, 1),
            "rings_equal_on_sample": equal,
        }

    with tempfile.TemporaryDirectory(prefix="lianfang-rings-") as folder:
        result = asyncio.run(main(folder))
    return result


def code_version() -> dict[str, Any]:
    """The commit measured and uncommitted files under graph/ (read-only git, no index refresh)."""

    def git(*args: str) -> str:
        try:
            run = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True)
            return run.stdout.rstrip("\n")  # keep the leading status column of the first line
        except OSError:
            return ""

    status = git("status", "--porcelain", "--", "graph", "bench/rings.py").splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted": [line[3:] for line in status]}


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) * 1024


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    runs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for n in sizes:
        if runs:
            last, factor = runs[-1], n / runs[-1]["apps"]
            wall = (last["ingest"]["seconds"] * 2 + last["rebuild"]["seconds"] + last["generate_s"] * 2) * factor
            memory = last["memory"]["rss_delta_mb"] * 2**20 * factor * 3.5  # two indexes + workload
            if wall > args.max_seconds or memory > 0.7 * mem_available():
                skipped.append({"apps": n, "expected_s": round(wall), "expected_mb": round(memory / 2**20)})
                break
        print(f"… {n:,} applications", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--child", str(n), "--seed", str(args.seed), "--samples", str(args.samples)]
        child = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result = json.loads(child.stdout)
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        runs.append(result)
    largest = runs[-1]
    at_1m = next((r for r in runs if r["apps"] == 1_000_000), None)
    rebuild_1m = at_1m["rebuild"]["seconds"] if at_1m else largest["rebuild"]["seconds"] * 1e6 / largest["apps"]
    ingest = min(r["ingest"]["apps_per_s"] for r in runs)
    return {
        "benchmark": "rings",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in args.loadavg],
        },
        "code": code_version(),
        "params": {"sizes": sizes, "seed": args.seed, "samples": args.samples, "quick": args.quick},
        "notes": {
            "ingest": "pre-generated workload, add_application into MemoryRingState, one process, GC on",
            "memory": "RSS delta of a stream ingest (index + the generator's bounded pools), after gc",
            "lookup": "ring_of, and ring_of + summarize + score_ring for applications in rings of 2+",
            "rebuild": "RingIndex.rebuild from index.edges() and the metas; equal = same ring id for every "
            "application and the same hub tokens as the incremental index",
            "hub_replay": "the workload as consortium-log events in a real SQLite store; a fresh RingTracker folds the "
            "whole log (a hub restart: ring index and stacking index); rings compared with the index on a "
            "sample; tracker_rss_delta_mb is the RSS the folded tracker adds",
        },
        "runs": runs,
        "skipped": skipped,
        "summary": {
            "largest_apps": largest["apps"],
            "ingest_apps_per_s_min": ingest,
            "rebuild_1m_seconds": round(rebuild_1m, 2),
            "rebuild_1m_measured": at_1m is not None,
            "all_rebuilds_equal": all(r["rebuild"]["equal_to_incremental"] for r in runs),
            "target_met": {"ingest_20k_per_s": ingest >= TARGET_INGEST, "rebuild_1m_under_60s": rebuild_1m < 60},
        },
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        "apps       tokens     ingest/s  ring_of p50/p99 µs  answer p50/p99 µs  "
        "rebuild s  replay s  RSS MB  MB/M tok  rings  largest  planted ok"
    )
    for r in result["runs"]:
        lo, ri = r["lookup"], r["rings"]
        print(
            f"{r['apps']:<10,} {r['tokens']:<10,} {r['ingest']['apps_per_s']:<9,} "
            f"{lo['ring_of']['p50_us']:>6.2f}/{lo['ring_of']['p99_us']:<12.2f} "
            f"{lo['ring_answer_in_ring']['p50_us']:>7.1f}/{lo['ring_answer_in_ring']['p99_us']:<10.1f} "
            f"{r['rebuild']['seconds']:<10.2f} {r['hub_replay']['replay_s']:<9.2f} {r['memory']['rss_delta_mb']:<7.0f} "
            f"{r['memory']['mb_per_million_tokens']:<9.0f} {ri['count']:<6,} {ri['largest']:<8} "
            f"{ri['planted_recovered']}/{ri['planted']}"
        )
    for s in result["skipped"]:
        print(f"skipped {s['apps']:,}: expected {s['expected_s']} s, {s['expected_mb']} MB")
    print(json.dumps(result["summary"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="sizes 20k and 50k: a smoke run of ~20 s")
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated application counts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=20_000, help="lookups timed per size")
    parser.add_argument("--max-seconds", type=float, default=900, help="skip a size expected to take longer")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rings.json")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.seed, args.samples)))
        return 0
    args.loadavg = os.getloadavg()
    if args.quick:
        args.sizes, args.samples = "20000,50000", min(args.samples, 5_000)
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
