"""Per-identifier cost of HMAC and OPRF tokens, and end-to-end Check latency in each mode.

OPRF: blind (node), evaluate + batched proof (key service), verify + unblind (node), per
identifier at batch sizes 1, 8 and 32; then the round trip over mutual TLS with a real key
service, and a node Screen (tokens + hub Check) end to end in both modes. Writes
bench/results/tokens.json. Run: ``.venv/bin/python bench/tokens.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import start_local_consortium
from node.identity.applicant import canonical_identifiers
from node.identity.tokens import HmacTokeniser
from runtime import oprf

OUT = Path(__file__).resolve().parent / "results" / "tokens.json"


def per_item_us(fn, items: int, rounds: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / (rounds * items) * 1e6


def batch_costs(key: oprf.KeyPair, batch: int) -> dict[str, float]:
    """Microseconds per identifier of each OPRF step at one batch size."""
    inputs = [f"phone|+86139{i:08d}".encode() for i in range(batch)]
    blinded = [oprf.blind(x) for x in inputs]
    elements = [b for _, b in blinded]
    evaluated = [oprf.blind_evaluate(key.secret, e) for e in elements]
    proof = oprf.generate_proof(key.secret, key.public, elements, evaluated)
    rounds = max(20, 400 // batch)
    return {
        "blind_us": round(per_item_us(lambda: [oprf.blind(x) for x in inputs], batch, rounds), 1),
        "evaluate_with_proof_us": round(
            per_item_us(
                lambda: oprf.generate_proof(
                    key.secret, key.public, elements, [oprf.blind_evaluate(key.secret, e) for e in elements]
                ),
                batch,
                rounds,
            ),
            1,
        ),
        "verify_and_finalise_us": round(
            per_item_us(
                lambda: (
                    oprf.verify_proof(key.public, elements, evaluated, proof),
                    [oprf.unblind(r, e) for (r, _), e in zip(blinded, evaluated, strict=True)],
                ),
                batch,
                rounds,
            ),
            1,
        ),
    }


def primitives() -> dict[str, object]:
    key = oprf.generate_key_pair()
    hmac = HmacTokeniser(b"k" * 32, 1)
    out: dict[str, object] = {
        "hmac_us_per_identifier": round(
            per_item_us(lambda: hmac.token(common_pb2.TOKEN_TYPE_PHONE, "+8613900001000"), 1, 20_000), 2
        )
    }
    for batch in (1, 8, 32):
        out[f"oprf_batch_{batch}"] = batch_costs(key, batch)
    return out


async def end_to_end(mode: str, n: int = 200) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        c = await start_local_consortium(tmp, ["lender-a"], token_mode=mode)
        try:
            member = c.members["lender-a"]
            ids = [
                node_pb2.Identifiers(
                    resident_id="11010519491231002X",
                    phones=[f"+86 139 0000 {i:04d}"],
                    ips=["203.0.113.7"],
                    device_ids=[f"dev-{i}"],
                    bank_accounts=["6222020200112233445"],
                    emails=[f"a{i}@example.com"],
                )
                for i in range(n)
            ]
            token_ms, screen_ms = [], []
            for i, identifiers in enumerate(ids):
                if member.tokeniser.oprf is not None:
                    t0 = time.perf_counter()
                    await member.tokeniser.oprf.tokens(canonical_identifiers(identifiers))
                    token_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await member.node_client.screen(
                    node_pb2.ScreenRequest(
                        application_ref=f"b-{i}",
                        consent_ref=f"c-{i}",
                        identifiers=identifiers,
                        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
                        product_category="consumer_instalment",
                    )
                )
                screen_ms.append((time.perf_counter() - t0) * 1000)
            result = {
                "identifiers_per_application": len(canonical_identifiers(ids[0])),
                "screen_p50_ms": round(statistics.median(screen_ms), 2),
                "screen_p99_ms": round(statistics.quantiles(screen_ms, n=100)[98], 2),
            }
            if token_ms:
                result["evaluate_round_trip_p50_ms"] = round(statistics.median(token_ms), 2)
            return result
        finally:
            await c.stop()


def main() -> None:
    results = {"primitives": primitives()}
    results["end_to_end_hmac"] = asyncio.run(end_to_end("hmac"))
    results["end_to_end_oprf"] = asyncio.run(end_to_end("oprf"))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
