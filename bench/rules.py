"""Rule-engine benchmark: 1,000 generated rules, our compiled engine vs the PyPI ``rule-engine``.

One run, on this machine, in this process:

* generates, from a fixed seed, 1,000 rules over 40 features (30 numeric, 10 categorical): single
  and chained comparisons, ``and`` / ``or`` / ``not``, ``in`` / ``not in`` literal lists, a little
  arithmetic; and 200 input dicts carrying every feature;
* compiles them with :func:`node.rules.compiler.compile_rule_set` and, translated to its syntax,
  with ``rule_engine.Rule`` (one per rule; ``rule.matches(inputs)`` per rule and input);
* **asserts identical hit lists** (rule ids, in order) on every input before timing;
* times one evaluation of all 1,000 rules, collecting every hit's reason code: median, p99 and
  mean per evaluation for each engine, and the speed-up (ratio of medians).

Targets (the issue): our median ≤ 100 µs per evaluation, ≥ 100x faster than ``rule-engine``.
Writes ``bench/results/rules.json``; ``--quick`` is a smoke run of a few seconds.
Numbers are exact in binary (integers, multiples of 0.25), so ``rule-engine``'s decimal
arithmetic and Python's floats agree and the hit comparison is meaningful.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import rule_engine

from node.rules.compiler import CompiledRuleSet, compile_rule_set
from node.rules.features import Feature
from node.rules.model import Rule, RuleSet

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"median_us_max": 100.0, "speedup_min": 100.0}
INT_FEATURES = [f"n{i:02d}" for i in range(15)]  # integers 0..100
FLOAT_FEATURES = [f"x{i:02d}" for i in range(15)]  # multiples of 0.25 in 0..50
CAT_FEATURES = [f"c{i}" for i in range(10)]  # one of v0..v7
VOCABULARY = [f"v{i}" for i in range(8)]
CATALOGUE: dict[str, Feature] = {
    **{n: Feature("integer", "bench integer") for n in INT_FEATURES},
    **{n: Feature("number", "bench float") for n in FLOAT_FEATURES},
    **{n: Feature("string", "bench category") for n in CAT_FEATURES},
}


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------
def generate_rules(count: int, seed: int) -> RuleSet:
    """``count`` deterministic rules; most fire rarely, as production rules do."""
    rng = random.Random(seed)

    def num() -> str:
        name = rng.choice(INT_FEATURES + FLOAT_FEATURES)
        if name in INT_FEATURES:
            return f"{name} {rng.choice(['<', '<=', '>', '>='])} {rng.randint(0, 100)}"
        return f"{name} {rng.choice(['<', '<=', '>', '>='])} {rng.randint(0, 200) / 4}"

    def tail(name: str) -> str:
        return f"{name} > {rng.randint(80, 99)}" if name in INT_FEATURES else f"{name} > {rng.randint(160, 199) / 4}"

    def cat() -> str:
        values = ", ".join(repr(v) for v in rng.sample(VOCABULARY, rng.randint(1, 4)))
        op = rng.choice(["in", "not in"])
        return (
            f"{rng.choice(CAT_FEATURES)} {op} [{values}]"
            if rng.random() < 0.5
            else f"{rng.choice(CAT_FEATURES)} {op} ({values},)"
        )

    def rare() -> str:
        return tail(rng.choice(INT_FEATURES + FLOAT_FEATURES))

    shapes: list[Callable[[], str]] = [
        lambda: rare(),
        lambda: f"{num()} and {rare()}",
        lambda: f"{rare()} or {rare()}",
        lambda: f"({rare()} or {num()}) and {cat()}",
        lambda: f"{rare()} and not ({cat()})",
        lambda: f"{rng.randint(0, 40)} <= {rng.choice(INT_FEATURES)} < {rng.randint(41, 60)} and {rare()}",
        lambda: f"{rng.choice(INT_FEATURES)} + {rng.choice(INT_FEATURES)} > {rng.randint(150, 195)}",
        lambda: f"{rng.choice(INT_FEATURES)} * 2 - {rng.choice(INT_FEATURES)} > {rng.randint(150, 195)}",
        lambda: f"{rng.choice(CAT_FEATURES)} == {rng.choice(VOCABULARY)!r} and {rare()}",
        lambda: f"not ({num()} or {cat()}) and {rare()}",
    ]
    rules = [
        Rule(
            id=f"R{i:04d}",
            when=rng.choice(shapes)(),
            action=rng.choice(["decline", "refer", "flag"]),
            reason_code=f"BENCH_{i:04d}",
            source="internal",
        )
        for i in range(count)
    ]
    return RuleSet(name="bench-generated", version=str(seed), rules=tuple(rules))


def generate_inputs(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    inputs = []
    for _ in range(count):
        row: dict[str, Any] = {n: rng.randint(0, 100) for n in INT_FEATURES}
        row.update({n: rng.randint(0, 200) / 4 for n in FLOAT_FEATURES})
        row.update({n: rng.choice(VOCABULARY) for n in CAT_FEATURES})
        inputs.append(row)
    return inputs


# --------------------------------------------------------------------------------------------
# rule-engine side
# --------------------------------------------------------------------------------------------
def to_rule_engine(node: ast.AST) -> str:
    """Our (validated) condition tree in rule-engine's syntax: no chained comparisons there."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return json.dumps(node.value)
        return repr(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.BoolOp):
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + joiner.join(to_rule_engine(v) for v in node.values) + ")"
    if isinstance(node, ast.UnaryOp):
        op = {ast.Not: "not ", ast.USub: "-", ast.UAdd: ""}[type(node.op)]
        return f"({op}{to_rule_engine(node.operand)})"
    if isinstance(node, ast.BinOp):
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        return f"({to_rule_engine(node.left)} {op} {to_rule_engine(node.right)})"
    if isinstance(node, ast.Compare):
        symbols = {
            ast.Eq: "==",
            ast.NotEq: "!=",
            ast.Lt: "<",
            ast.LtE: "<=",
            ast.Gt: ">",
            ast.GtE: ">=",
            ast.In: "in",
            ast.NotIn: "not in",
        }
        parts, left = [], node.left
        for cmp, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(right, ast.Tuple | ast.List):
                rendered = "[" + ", ".join(to_rule_engine(e) for e in right.elts) + "]"
            else:
                rendered = to_rule_engine(right)
            parts.append(f"({to_rule_engine(left)} {symbols[type(cmp)]} {rendered})")
            left = right
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"
    raise ValueError(f"cannot translate {type(node).__name__}")


class RuleEngineSet:
    """The same rules as ``rule_engine.Rule`` objects; hits collected like ours."""

    def __init__(self, rule_set: RuleSet) -> None:
        context = rule_engine.Context(default_value=None)
        self.rules = [
            (r.id, r.reason_code, rule_engine.Rule(to_rule_engine(r.condition.tree), context=context))
            for r in rule_set.rules
        ]

    def evaluate(self, features: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(rule_id, reason) for rule_id, reason, rule in self.rules if rule.matches(features)]


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------
def _cpu_jiffies() -> tuple[int, int]:
    """(all CPUs busy jiffies, this process's jiffies): to see other processes' load."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]  # user nice system irq softirq
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return busy, int(own[11]) + int(own[12])
    except (OSError, IndexError, ValueError):
        return 0, 0


def time_evaluations(
    evaluate: Callable[[Mapping[str, Any]], object], inputs: Sequence[Mapping[str, Any]], rounds: int
) -> dict[str, Any]:
    """Per-evaluation latency over ``rounds`` passes of ``inputs``, with machine-noise figures."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    gc.collect()
    busy0, own0 = _cpu_jiffies()
    wall0 = time.monotonic()
    for _ in range(rounds):
        for features in inputs:
            start = clock()
            evaluate(features)
            samples.append(clock() - start)
    wall = time.monotonic() - wall0
    busy1, own1 = _cpu_jiffies()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    samples.sort()
    return {
        "evaluations": len(samples),
        "median_us": round(statistics.median(samples) / 1000, 2),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000, 2),
        "mean_us": round(statistics.fmean(samples) / 1000, 2),
        "min_us": round(samples[0] / 1000, 2),
        "wall_s": round(wall, 3),
        "other_processes_cpu_pct": max(0.0, round(100 * ((busy1 - busy0) - (own1 - own0)) / tick / max(wall, 1e-9), 1)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rule_set = generate_rules(args.rules, args.seed)
    inputs = generate_inputs(args.inputs, args.seed)

    start = time.perf_counter()
    ours: CompiledRuleSet = compile_rule_set(rule_set, CATALOGUE)
    compile_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    theirs = RuleEngineSet(rule_set)
    theirs_parse_ms = (time.perf_counter() - start) * 1000

    def evaluate_ours(features: Mapping[str, Any]) -> list[str]:
        return [hit.reason_code for hit in ours.evaluate(features)]

    total_hits = 0
    for index, features in enumerate(inputs):  # identical hits before any timing
        mine = [(h.rule_id, h.reason_code) for h in ours.evaluate(features)]
        other = theirs.evaluate(features)
        if mine != other:
            raise SystemExit(f"hit lists differ on input {index}: ours {mine[:5]}…, rule-engine {other[:5]}…")
        total_hits += len(mine)
    print(f"identical hits on {len(inputs)} inputs ({total_hits / len(inputs):.1f} hits per evaluation)")

    ours_timing = time_evaluations(evaluate_ours, inputs, args.rounds)
    theirs_timing = time_evaluations(theirs.evaluate, inputs[: args.rule_engine_inputs], 1)
    speedup = theirs_timing["median_us"] / ours_timing["median_us"]
    return {
        "benchmark": "bench/rules.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "rule_engine": importlib.metadata.version("rule-engine"),
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "params": {
            "rules": args.rules,
            "features": len(CATALOGUE),
            "inputs": len(inputs),
            "seed": args.seed,
            "rounds": args.rounds,
            "rule_engine_inputs": args.rule_engine_inputs,
            "quick": args.quick,
        },
        "workload": {
            "hits_per_evaluation": round(total_hits / len(inputs), 2),
            "identical_hits": True,
            "generated_source_lines": ours.source.count("\n"),
        },
        "ours": {"compile_ms": round(compile_ms, 1), **ours_timing},
        "rule_engine": {"parse_ms": round(theirs_parse_ms, 1), **theirs_timing},
        "summary": {
            "ours_median_us": ours_timing["median_us"],
            "ours_p99_us": ours_timing["p99_us"],
            "rule_engine_median_us": theirs_timing["median_us"],
            "speedup_median": round(speedup, 1),
            "targets": TARGETS,
            "target_met": {
                "median_us": ours_timing["median_us"] <= TARGETS["median_us_max"],
                "speedup": speedup >= TARGETS["speedup_min"],
            },
        },
    }


def print_table(result: Mapping[str, Any]) -> None:
    ours, theirs, summary = result["ours"], result["rule_engine"], result["summary"]
    print(
        f"\n{result['params']['rules']} rules, {result['params']['features']} features, "
        f"{result['workload']['hits_per_evaluation']} hits per evaluation (identical in both engines)"
    )
    print(f"{'engine':<22}{'evals':>8}{'median µs':>12}{'p99 µs':>12}{'mean µs':>12}{'load ms':>10}{'other CPU %':>13}")
    for label, row, load in (
        ("lianfang (compiled)", ours, ours["compile_ms"]),
        ("rule-engine " + result["machine"]["rule_engine"], theirs, theirs["parse_ms"]),
    ):
        print(
            f"{label:<22}{row['evaluations']:>8}{row['median_us']:>12,.1f}{row['p99_us']:>12,.1f}"
            f"{row['mean_us']:>12,.1f}{load:>10,.1f}{row['other_processes_cpu_pct']:>13}"
        )
    print(f"speed-up (median): {summary['speedup_median']:,.0f}x   targets met: {summary['target_met']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer inputs and rounds (a few seconds)")
    parser.add_argument("--rules", type=int, default=1000, help="rules generated (default 1000)")
    parser.add_argument("--inputs", type=int, default=200, help="input dicts generated (default 200)")
    parser.add_argument("--rounds", type=int, default=100, help="timed passes over the inputs, our engine")
    parser.add_argument(
        "--rule-engine-inputs",
        type=int,
        default=200,
        help="inputs timed once each with rule-engine (≈60 ms per evaluation)",
    )
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rules.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.inputs, args.rounds, args.rule_engine_inputs = min(args.inputs, 20), min(args.rounds, 20), 10
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
