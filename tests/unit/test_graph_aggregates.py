"""Incremental ring summaries equal a fresh walk of the ring, whatever the workload does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graph import AppMeta, LinkPolicy, RingIndex
from graph.aggregates import RingAggregates
from graph.summary import DAY_SECONDS, summarize

POLICY = LinkPolicy.with_caps(phone=3, device_id=4, address=2, ip=5)
T0 = 1_700_000_000.0


def tok(token_type: int, n: int) -> str:
    return f"1.{token_type}.1.{n:04x}"


@st.composite
def workloads(draw: st.DrawFn) -> list[tuple[str, object]]:
    ops: list[tuple[str, object]] = []
    n = draw(st.integers(1, 60))
    for i in range(n):
        if i and draw(st.integers(0, 4)) == 0:
            flag = draw(st.sampled_from(["defaulted", "fraud_confirmed", "blacklisted"]))
            ops.append(("meta", (f"a{draw(st.integers(0, i - 1)):03d}", flag, draw(st.booleans()))))
            continue
        tokens = [tok(1, draw(st.integers(0, 12)))]  # resident id (cap 30): repeat applicants
        for token_type, pool in ((3, 6), (5, 5), (9, 4), (6, 3), (7, 2)):
            if draw(st.booleans()):
                tokens.append(tok(token_type, draw(st.integers(0, pool))))
        meta = AppMeta(
            member_id=f"m{draw(st.integers(0, 3))}",
            received_at=T0 + draw(st.integers(0, 30)) * DAY_SECONDS / 3,
            person=draw(st.sampled_from([None, "p1", "p2", "p3", "p4", "p5"])),
            blacklisted=draw(st.booleans()),
        )
        ops.append(("add", (f"a{i:03d}", tokens, meta)))
    return ops


@settings(max_examples=300, deadline=None)
@given(workloads())
def test_incremental_summaries_equal_a_walk_of_the_ring(ops: list[tuple[str, object]]) -> None:
    index = RingIndex(POLICY)
    aggs = RingAggregates(index)
    for kind, args in ops:
        if kind == "add":
            app_id, tokens, meta = args  # type: ignore[misc]
            aggs.add_application(app_id, tokens, meta)
        else:
            app_id, flag, value = args  # type: ignore[misc]
            if app_id in index:
                aggs.update_meta(app_id, **{flag: value})
        # Check every ring after every step: a stale aggregate is caught where it goes wrong.
        for ring_id, _ in index.rings():
            assert aggs.summary(ring_id) == summarize(index, ring_id)
    for app_id in list(index.state.iter_apps()):
        ring_id = index.ring_of(app_id)
        assert ring_id is not None and aggs.summary(ring_id) == summarize(index, ring_id)
    assert aggs.summary("stale") is None


def test_a_merge_does_not_walk_the_rings() -> None:
    """Two big rings joined by one application: the merged summary comes from the aggregates."""
    import graph.aggregates as module

    index = RingIndex(LinkPolicy.with_caps(device_id=1000))
    aggs = RingAggregates(index)
    for side in (1, 2):
        for i in range(200):
            aggs.add_application(f"{side}-{i:03d}", [tok(5, side)], AppMeta(member_id="m", received_at=T0))
    walks = 0
    real = module.aggregate

    def counting(*args: object) -> object:
        nonlocal walks
        walks += 1
        return real(*args)  # type: ignore[arg-type]

    module.aggregate = counting  # type: ignore[assignment]
    try:
        ring = aggs.add_application("bridge", [tok(5, 1), tok(5, 2)], AppMeta(member_id="m2", received_at=T0))
        summary = aggs.summary(ring)
    finally:
        module.aggregate = real
    assert walks == 0
    assert summary == summarize(index, ring) and summary is not None and summary.size == 401
