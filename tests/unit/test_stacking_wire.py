"""stacking_wire writes Stacking messages and their reasons as wire bytes: it must give exactly
the messages the straightforward protobuf construction gives, whatever the counts (multi-byte
varints included) and whichever types are shared."""

from __future__ import annotations

import random

from lianfang.v1 import common_pb2 as c
from lianfang.v1 import consortium_pb2

from consortium.records import DAY, WINDOWS, TokenActivity, token_key, token_type_of
from consortium.stacking import _TYPE_LABEL, _WINDOW_LABEL, SHAREABLE, stacking_answer, stacking_wire
from consortium.stacking_index import counts_from_activity

NOW = 1_800_000_000.0
TYPES = sorted(_TYPE_LABEL)


def reference(token_keys, activity, caller, now, shared=frozenset()):  # type: ignore[no-untyped-def]
    """An object-building reference, straight from the definitions (shared types as the
    servicer marked them before the answer was written as bytes)."""
    by_type: dict[int, list[TokenActivity]] = {}
    for key in token_keys:
        by_type.setdefault(token_type_of(key), []).append(activity[key])
    cutoffs = [now - w.seconds for w in WINDOWS]
    stacking, reasons = [], []
    for token_type in sorted(by_type):
        acts = by_type[token_type]
        last_seen: dict[str, float] = {}
        for act in acts:
            for member, at in act.member_last_seen.items():
                if member != caller and last_seen.get(member, -1.0) < at:
                    last_seen[member] = at
        windows, first_hit = [], None
        for i, window in enumerate(WINDOWS):
            members = sum(1 for at in last_seen.values() if at >= cutoffs[i])
            apps = max(act.other_applications[i] for act in acts)
            windows.append(consortium_pb2.WindowCount(window=window, other_members=members, other_applications=apps))
            if members and first_hit is None:
                first_hit = (i, members, apps)
        stacking.append(consortium_pb2.Stacking(token_type=token_type, windows=windows, shared=token_type in shared))
        if first_hit is not None and token_type not in shared:
            i, members, apps = first_hit
            label = _WINDOW_LABEL[WINDOWS[i]]
            reasons.append(
                c.Reason(
                    code=f"STACKING_{_TYPE_LABEL[token_type]}_{label}",
                    token_type=token_type,
                    detail=f"{members} other member(s), {apps} application(s) within {label.lower()}",
                )
            )
    for token_type in sorted(shared):
        reasons.append(
            c.Reason(
                code=f"SHARED_{SHAREABLE[token_type]}",
                token_type=token_type,
                detail="given by several different applicants: counted as shared, not as this applicant's stacking",
            )
        )
    return stacking, reasons


def random_case(rng: random.Random) -> tuple[list[str], dict[str, TokenActivity], str]:
    keys: list[str] = []
    activity: dict[str, TokenActivity] = {}
    caller = "m0"
    for n in range(rng.randint(1, 12)):
        key = token_key(1, rng.choice(TYPES), 1, n.to_bytes(16, "big"))
        scale = rng.choice([1, 5, 200, 70_000, 3_000_000_000])  # up to 5-byte varints
        counts = tuple(sorted(rng.randrange(scale) for _ in WINDOWS))
        seen = {f"m{rng.randrange(300)}": NOW - rng.random() * 100 * DAY for _ in range(rng.randrange(400))}
        keys.append(key)
        activity[key] = TokenActivity(counts, seen)
    if rng.random() < 0.3:
        keys.append(keys[0])  # a token listed twice folds like two tokens of its type
    return keys, activity, caller


def test_wire_built_stacking_equals_the_reference() -> None:
    rng = random.Random(5)
    for _ in range(400):
        keys, activity, caller = random_case(rng)
        present = {token_type_of(k) for k in keys} & set(SHAREABLE)
        shared = frozenset(t for t in present if rng.random() < 0.4)
        want_stacking, want_reasons = reference(keys, activity, caller, NOW, shared)
        blocks, reasons = stacking_wire(counts_from_activity(keys, activity, caller, NOW), shared)
        response = consortium_pb2.CheckResponse(application_ref="r")
        response.MergeFromString(blocks + b"".join(reasons))
        assert list(response.stacking) == want_stacking and list(response.reasons) == want_reasons
        assert response.application_ref == "r"  # merged into, not replaced
        expected = consortium_pb2.CheckResponse(application_ref="r", stacking=want_stacking, reasons=want_reasons)
        assert response.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
        assert stacking_answer(keys, activity, caller, NOW, shared) == (want_stacking, want_reasons)
