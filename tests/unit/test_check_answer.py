"""A Check's whole answer, written as wire bytes from the folds (``consortium_service._answer``),
against the same answer built message by message: stacking with shared types, blacklist hits with
disputes, ring reasons and ring, and the order of the reasons."""

from __future__ import annotations

import random

from lianfang.v1 import common_pb2 as c
from lianfang.v1 import consortium_pb2

from consortium import wire
from consortium.disputes import DisputeBook
from consortium.markers import blacklist_answer
from consortium.records import DAY, ApplicationRecord, CheckSnapshot, Marker, token_key, token_type_of
from consortium.ring_messages import fill_ring, ring_reason_parts
from consortium.services.consortium_service import _CHECKED_AT, _answer
from consortium.stacking import SHAREABLE
from consortium.stacking_index import StackingIndex
from runtime.timestamps import to_timestamp
from tests.unit.test_answer_wire import random_view
from tests.unit.test_stacking_wire import reference as reference_stacking

NOW = 1_800_000_000.25
TYPES = [c.TOKEN_TYPE_RESIDENT_ID, c.TOKEN_TYPE_PHONE, c.TOKEN_TYPE_DEVICE_ID, c.TOKEN_TYPE_EMAIL, c.TOKEN_TYPE_IP]
MARKER_TYPES = [c.MARKER_TYPE_CONFIRMED_FRAUD, c.MARKER_TYPE_SUSPECT, c.MARKER_TYPE_VICTIM_OF_IMPERSONATION]


class OpenDisputes(DisputeBook):
    """``suspended``: markers an open dispute takes out; ``labelled``: ones it only labels."""

    def __init__(self, suspended: set[str], labelled: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.suspended, self.labelled = suspended, labelled

    def is_suspended(self, marker_id: str) -> bool:
        return marker_id in self.suspended

    def is_disputed(self, marker_id: str) -> bool:
        return marker_id in self.suspended or marker_id in self.labelled


def reference_answer(
    app: ApplicationRecord,
    snapshot: CheckSnapshot,
    index: StackingIndex,
    shared: frozenset[int],
    view: object,
    disputes: DisputeBook,
) -> consortium_pb2.CheckResponse:
    """The answer as the servicer built it before it wrote bytes: messages, then shared marking."""
    activity = index.activities(app.token_keys, app.member_id, NOW)
    stacking, reasons = reference_stacking(app.token_keys, activity, app.member_id, NOW, shared)
    response = consortium_pb2.CheckResponse(
        application_ref=app.application_ref, newly_recorded=snapshot.newly_recorded, stacking=stacking
    )
    if snapshot.markers:
        live = [m for ms in snapshot.markers.values() for m in ms if not disputes.is_suspended(m.marker_id)]
        hits, marker_reasons = blacklist_answer(live, NOW, disputes.is_disputed)
        response.blacklist.extend(hits)
        reasons = marker_reasons + reasons
    response.reasons.extend(reasons)
    if view is not None:
        response.reasons.extend(c.Reason(code=code, token_type=t, detail=d) for code, t, d in ring_reason_parts(view))  # type: ignore[arg-type]
        fill_ring(response.ring, view)  # type: ignore[arg-type]
    response.checked_at.CopyFrom(to_timestamp(NOW))
    return response


def test_the_wire_answer_is_the_message_built_answer() -> None:
    rng = random.Random(8)
    index = StackingIndex()
    tokens = [token_key(1, rng.choice(TYPES), 1, bytes([n]) * 16) for n in range(40)]
    for _ in range(600):
        chosen = sorted(set(rng.sample(tokens, rng.randint(1, 6))))
        index.add(chosen, f"m{rng.randrange(4)}", NOW - rng.random() * 100 * DAY)
    for n in range(300):
        keys = tuple(rng.sample(tokens, rng.randint(1, 8)))
        app = ApplicationRecord(f"m{rng.randrange(4)}", f"ref-{n}", NOW, keys)
        markers: dict[str, list[Marker]] = {}
        for i in range(rng.choice([0, 0, 1, 3])):
            key = rng.choice(keys)
            markers.setdefault(key, []).append(
                Marker(
                    f"mk-{n}-{i}",
                    f"m{rng.randrange(4)}",
                    key,
                    rng.choice(MARKER_TYPES),
                    rng.choice(["FORGED_DOCUMENTS", "MULE"]),
                    rng.choice([c.EVIDENCE_LEVEL_DOCUMENTARY, c.EVIDENCE_LEVEL_POLICE_REPORT]),
                    NOW - rng.random() * 300 * DAY,
                    NOW - DAY,
                    rng.choice([None, NOW + DAY, NOW - 1.0]),  # expired ones are left out
                )
            )
        disputes = OpenDisputes(
            {f"mk-{n}-0"} if rng.random() < 0.3 else set(), {f"mk-{n}-1"} if rng.random() < 0.3 else set()
        )
        snapshot = CheckSnapshot(rng.random() < 0.8, NOW, markers, tuple(keys))
        present = {token_type_of(k) for k in keys} & set(SHAREABLE)
        shared = frozenset(t for t in present if rng.random() < 0.5)
        view = random_view(rng) if rng.random() < 0.6 else None
        counts = index.window_counts(keys, app.member_id, NOW)

        checked_at = wire.timestamp(_CHECKED_AT, NOW)
        encoded = _answer(app, snapshot, counts, set(shared), view, checked_at=checked_at, disputes=disputes, now=NOW)
        got = consortium_pb2.CheckResponse.FromString(encoded)
        if view is not None:
            fill_ring(got.ring, view)
        assert got == reference_answer(app, snapshot, index, shared, view, disputes), n
