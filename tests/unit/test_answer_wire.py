"""The wire-built parts of a Check answer (``consortium.wire``, the ring reasons) against the same
messages built through the protobuf API: any counts, times and texts."""

from __future__ import annotations

import random

from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, consortium_pb2

from consortium import wire
from consortium.ring_messages import fill_ring, ring_message, ring_reason_parts, ring_reasons_wire
from consortium.rings import RingView
from graph.policy import TokenType
from graph.scoring import score_ring
from graph.summary import RingSummary
from runtime.timestamps import to_timestamp


def random_view(rng: random.Random) -> RingView:
    size = rng.choice([1, 2, 3, 17, 300, 70_000])
    first = rng.choice([0.0, 1.5, 1_700_000_000.123456, 1_800_000_000.0 + rng.random()])
    names = ["phone", "device_id", "ip", "address", "bank_account", "email", "no_such_type"]
    shared = tuple((name, rng.choice([1, 2, 200, 40_000])) for name in rng.sample(names, rng.randrange(len(names))))
    summary = RingSummary(
        ring_id=f"m1\x00app-{rng.randrange(10**6)}",
        size=size,
        lenders=rng.randint(1, 5),
        persons=rng.randint(1, size),
        max_persons_per_device_or_phone=rng.choice([0, 1, 2, 3, 9]),
        apps_per_day=rng.choice([0.0, 1.0, size / 3.7]),
        span_days=rng.choice([0.0, 3.7, 400.0]),
        blacklisted=rng.choice([0, 0, 1, 5]),
        defaults=rng.choice([0, 0, 2]),
        fraud_confirmed=rng.choice([0, 0, 1]),
        shared_token_types=shared,
        first_seen=first,
        last_seen=first + rng.choice([0.0, 86_400.25, 1e7]),
    )
    return RingView(f"ring-{rng.randrange(10**9):020x}", summary, score_ring(summary))


def reference_ring(view: RingView) -> consortium_pb2.Ring:
    """The Ring from its constructor, every field named."""
    s, score = view.summary, view.score
    return consortium_pb2.Ring(
        ring_id=view.public_id,
        size=s.size,
        lenders=s.lenders,
        persons=s.persons,
        blacklisted=s.blacklisted,
        defaulted=s.defaults,
        fraud_confirmed=s.fraud_confirmed,
        max_persons_per_device_or_phone=s.max_persons_per_device_or_phone,
        applications_per_day=s.apps_per_day,
        score=score.score,
        shared_token_types=[
            consortium_pb2.SharedTokenType(token_type=TokenType[name.upper()], tokens=count)
            for name, count in s.shared_token_types
            if name.upper() in TokenType.__members__
        ],
        factors=[
            consortium_pb2.RingFactor(
                name=f.name, value=f.value, contribution=f.contribution, explanation=f.explanation
            )
            for f in score.factors
        ],
        first_seen=to_timestamp(s.first_seen),
        last_seen=to_timestamp(s.last_seen),
    )


def test_fill_ring_writes_every_field_of_the_view() -> None:
    rng = random.Random(10)
    for _ in range(300):
        view = random_view(rng)
        response = consortium_pb2.CheckResponse(application_ref="r")
        fill_ring(response.ring, view)
        assert response.ring == reference_ring(view) == ring_message(view) and response.application_ref == "r"


def test_ring_reasons_on_the_wire_are_the_reason_messages() -> None:
    rng = random.Random(12)
    for _ in range(200):
        view = random_view(rng)
        response = consortium_pb2.CheckResponse.FromString(b"".join(ring_reasons_wire(view)))
        assert list(response.reasons) == [
            common_pb2.Reason(code=code, token_type=t, detail=d) for code, t, d in ring_reason_parts(view)
        ]


def test_timestamps_round_as_from_nanoseconds() -> None:
    for seconds in [0.0, 1e-9, 0.5, 1.5, 1_800_000_000.987654321, 253_402_300_799.0, -1.5, -62_135_596_800.0]:
        want = Timestamp()
        want.FromNanoseconds(int(seconds * 1e9))
        response = consortium_pb2.CheckResponse.FromString(wire.timestamp(wire.key(6, 2), seconds))
        assert response.HasField("checked_at") and response.checked_at == want, seconds


def test_scalar_fields_and_reasons() -> None:
    for n in [0, 1, 127, 128, 300, 2**32 - 1]:
        assert consortium_pb2.Ring.FromString(wire.uint(b"\x10", n)).size == n
    assert wire.uint(b"\x10", 0) == wire.text(b"\x0a", "") == b""  # proto3 defaults
    assert wire.varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1, as protobuf writes it
    encoded = wire.reason("SHARED_PHONE", common_pb2.TOKEN_TYPE_PHONE, "两位申请人 — shared")
    assert list(consortium_pb2.CheckResponse.FromString(encoded).reasons) == [
        common_pb2.Reason(code="SHARED_PHONE", token_type=common_pb2.TOKEN_TYPE_PHONE, detail="两位申请人 — shared")
    ]
