"""Stage-1 decision latency of the node pipeline: zero-latency sources vs 200 ms sources.

Runs a real consortium (hub + 1 node, TLS, SQLite) in-process and submits applications through
LoanService.SubmitApplication. With seven simulated providers of 200 ms (+ up to 50 ms jitter)
each, a parallel pre-screen should take about the slowest source, not the sum.

    .venv/bin/python bench/stage1.py [--applications 60] [--out bench/results/stage1.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import start_local_consortium
from clients.demo.workload import build_workload


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(latency_ms: float, applications: int) -> dict[str, float]:
    work = build_workload(applications, ["lender-a", "lender-b"], seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        c = await start_local_consortium(tmp, ["lender-a", "lender-b"], source_latency_ms=latency_ms)
        try:
            desk = c.members["lender-a"].as_role("customer_manager", "bench-desk")  # staff see the sources
            wall: list[float] = []
            slowest: list[float] = []
            summed: list[float] = []
            for app in work.applications[:applications]:
                request = node_pb2.SubmitApplicationRequest(
                    application_ref=app.ref,
                    product_code="xiaowei_puhui",
                    applicant_kind=common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS,
                    applicant_name="bench",
                    identifiers=app.person.identifiers(),
                    industry="retail",
                    locality="shanghai-pudong",
                    amount_fen=app.amount_yuan * 100,
                    term_months=12,
                    repayment_method="equal_instalments",
                    consent_ref=f"consent-{app.ref}",
                )
                start = time.perf_counter()
                view = await desk.submit_application(request, timeout=10)
                wall.append((time.perf_counter() - start) * 1000)
                elapsed = [s.elapsed_ms for s in view.decision.sources]
                slowest.append(max(elapsed))
                summed.append(sum(elapsed))
        finally:
            await c.stop()
    return {
        "source_latency_ms": latency_ms,
        "applications": len(wall),
        "decision_p50_ms": round(statistics.median(wall), 1),
        "decision_p99_ms": round(_pct(wall, 0.99), 1),
        "slowest_source_p50_ms": round(statistics.median(slowest), 1),
        "sum_of_sources_p50_ms": round(statistics.median(summed), 1),
        "overhead_over_slowest_p50_ms": round(statistics.median(w - s for w, s in zip(wall, slowest, strict=True)), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=60)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "stage1.json"))
    args = parser.parse_args()
    results = [asyncio.run(measure(latency, args.applications)) for latency in (0.0, 200.0)]
    report = {
        "benchmark": "bench/stage1.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'sources':>10} {'decision p50':>13} {'p99':>8} {'slowest src':>12} {'sum of srcs':>12}")
    for r in results:
        print(
            f"{r['source_latency_ms']:>8.0f}ms {r['decision_p50_ms']:>11.1f}ms {r['decision_p99_ms']:>6.1f}ms "
            f"{r['slowest_source_p50_ms']:>10.1f}ms {r['sum_of_sources_p50_ms']:>10.1f}ms"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
