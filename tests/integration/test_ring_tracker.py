"""The hub's ring tracker over a real SQLite store: the fold of the consortium log is idempotent,
replicas that append in any interleaving converge to the same index, bad entries are skipped."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lianfang.v1 import common_pb2

from consortium.records import ApplicationRecord, token_key
from consortium.retention import retention_event
from consortium.rings import (
    RingTracker,
    application_event,
    application_event_body,
    marker_event,
    outcome_event,
    ring_public_id,
)
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from graph import LinkPolicy, RingIndex, app_id_of

T0 = 1_767_225_600.0  # 2026-01-01T00:00Z
DAY = 86_400.0
POLICY = LinkPolicy.with_caps(phone=3)


def phone(n: int) -> str:
    return token_key(1, common_pb2.TOKEN_TYPE_PHONE, 1, n.to_bytes(16, "big"))


def rid(n: int) -> str:
    return token_key(1, common_pb2.TOKEN_TYPE_RESIDENT_ID, 1, n.to_bytes(16, "big"))


def ip(n: int) -> str:
    return token_key(1, common_pb2.TOKEN_TYPE_IP, 1, n.to_bytes(16, "big"))


def subnet(n: int) -> str:
    return token_key(1, common_pb2.TOKEN_TYPE_IP_SUBNET, 1, n.to_bytes(16, "big"))


def app(member: str, ref: str, *tokens: str, at: float = T0) -> ApplicationRecord:
    return ApplicationRecord(member, ref, at, tokens)


def store(path: Path) -> SqliteStore:
    return SqliteStore(SqliteStoreConfig(path=str(path)))


async def test_fold_of_applications_outcomes_and_markers(tmp_path: Path) -> None:
    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY)
    a1, a2 = app("m1", "r1", rid(1), phone(9), subnet(1)), app("m2", "r2", rid(2), phone(9))
    event = application_event(a1, POLICY)
    assert json.loads(event)[4:] == [[rid(1), phone(9)], rid(1), [subnet(1)], POLICY.fingerprint]  # non-linking apart
    await tracker.publish([event, marker_event(rid(2), True), application_event(a2, POLICY)])
    assert subnet(1) not in tracker.index.tokens_of(app_id_of("m1", "r1"))  # they link nothing
    assert tracker.stacking.activities([subnet(1)], "m2", T0)[subnet(1)].other_applications == (1,) * 5
    view = tracker.linked_view("m2", "r2")
    assert view is not None and (view.summary.size, view.summary.lenders, view.summary.persons) == (2, 2, 2)
    assert view.summary.blacklisted == 1  # a2's resident ID carries a marker
    # A retried Check (same application, other tokens) changes nothing.
    await tracker.publish([application_event(app("m1", "r1", rid(1), phone(77)), POLICY)])
    assert tracker.index.tokens_of(app_id_of("m1", "r1")) == (rid(1), phone(9))
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_DEFAULTED)])
    await tracker.publish([outcome_event("m1", "unknown", common_pb2.OUTCOME_DEFAULTED)])  # ignored
    await tracker.publish([marker_event(rid(1), True)])
    view = tracker.linked_view("m1", "r1")
    assert view is not None and (view.summary.defaults, view.summary.blacklisted) == (1, 2)
    await tracker.publish([marker_event(rid(1), False)])
    view = tracker.linked_view("m1", "r1")
    assert view is not None and view.summary.blacklisted == 1  # a2's marker stands
    assert tracker.linked_view("m3", "none") is None
    # A restarted tracker replays the log to the same index.
    again = RingTracker(s, POLICY)
    assert await again.catch_up() == tracker.applied
    assert again.index.snapshot() == tracker.index.snapshot()
    await s.close()


async def test_a_corrected_outcome_stops_counting_in_the_ring(tmp_path: Path) -> None:
    """Fraud confirmed, then approved (the lender corrects its report): the ring no longer
    counts the confirmed fraud, also after a replay. A default later repaid (a recovery) still
    counts, and so does one drawn again (funded)."""
    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY)
    a1, a2 = app("m1", "r1", rid(1), phone(9)), app("m2", "r2", rid(2), phone(9))
    await tracker.publish([application_event(a1, POLICY), application_event(a2, POLICY)])

    def counts(t: RingTracker | None = None) -> tuple[int, int]:
        view = (t or tracker).linked_view("m2", "r2")
        assert view is not None
        return view.summary.fraud_confirmed, view.summary.defaults

    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_FRAUD_CONFIRMED)])
    assert counts() == (1, 0)
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_APPROVED)])
    assert counts() == (0, 0)
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_DEFAULTED)])
    for recovered in (common_pb2.OUTCOME_REPAID, common_pb2.OUTCOME_FUNDED):
        await tracker.publish([outcome_event("m1", "r1", recovered)])
        assert counts() == (0, 1)
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_DECLINED)])
    assert counts() == (0, 0)
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_FRAUD_CONFIRMED)])
    assert counts() == (1, 0)
    await tracker.publish([outcome_event("m1", "r1", common_pb2.OUTCOME_APPROVED)])  # corrected again
    again = RingTracker(s, POLICY)  # a restart replays the log to the same facts
    await again.catch_up()
    assert again.index.snapshot() == tracker.index.snapshot() and counts(again) == counts() == (0, 0)
    await s.close()


async def test_malformed_entries_are_skipped_and_the_cursor_moves_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY)
    good = application_event(app("m1", "r1", phone(1)), POLICY)
    await tracker.publish(["not json", json.dumps(["zz"]), json.dumps(["a", "m1"]), good])
    assert tracker.applied == 4 and app_id_of("m1", "r1") in tracker.index
    assert caplog.text.count("malformed consortium log entry") == 3


async def test_a_malformed_quota_entry_reaches_no_fold(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A ``q`` entry of the wrong shape is skipped like any malformed entry: the usage guard,
    which would choke on it, is never handed it; a good one after it is folded."""
    from consortium.rings import quota_event
    from consortium.usage import UsageGuard

    usage = UsageGuard()
    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY, observers=(usage.observe,))
    bad = [
        ["q", "admin/x", "m1", "lots", 1.0, ""],
        ["q", "admin/x", "m1", -5, 1.0, ""],
        ["q", "admin/x", 7, 5, 1.0, ""],
    ]
    await tracker.publish([*map(json.dumps, bad), quota_event("admin/x", "m2", 9, 1.0)])
    assert tracker.applied == 4 and caplog.text.count("malformed consortium log entry") == 3
    assert usage.quotas == {"m2": 9}
    await s.close()


async def test_catch_up_pages_through_a_long_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import consortium.rings as rings

    monkeypatch.setattr(rings, "_PAGE", 7)
    s = store(tmp_path / "hub.db")
    writer = RingTracker(s, POLICY)
    await writer.publish([application_event(app("m1", f"r{i}", phone(i // 2)), POLICY) for i in range(50)])
    reader = RingTracker(s, POLICY)
    assert await reader.catch_up() == 50
    assert reader.index.snapshot() == writer.index.snapshot()
    assert await reader.catch_up() == 0


async def test_read_at_marks_a_log_read_through_to_its_end_and_no_other(tmp_path: Path) -> None:
    """A hub judges key epochs by a fold at most a second old (``read_at``): it is stamped with
    when a catch-up began, once that catch-up has read the log to its end, not before (a Check
    waiting on it, or a failed one, would pass for fresh)."""
    import time

    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY)
    before = time.monotonic()
    await tracker.catch_up()
    assert before <= tracker.read_at <= time.monotonic()
    stamped = tracker.read_at
    await s.close()  # the store goes away: the next catch-up fails
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed store raises
        await tracker.catch_up()
    assert tracker.read_at == stamped


@st.composite
def interleavings(draw: st.DrawFn) -> list[tuple[int, str]]:
    """(which replica appends, event) with applications on a few shared phones (cap 3)."""
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["a", "a", "a", "o", "m"]))
        replica = draw(st.integers(0, 2))
        if kind == "a":
            tokens = [rid(draw(st.integers(0, 8))), phone(draw(st.integers(0, 4))), ip(draw(st.integers(0, 2)))]
            at = T0 + draw(st.integers(0, 3)) * DAY + i  # IPs link within a day only
            event = application_event(app(f"m{replica}", f"r{i}", *tokens, at=at), POLICY)
        elif kind == "o":
            event = outcome_event(f"m{replica}", f"r{draw(st.integers(0, i))}", common_pb2.OUTCOME_FRAUD_CONFIRMED)
        else:
            subject = draw(st.sampled_from([phone, ip]))(draw(st.integers(0, 4)))
            event = marker_event(subject, draw(st.booleans()))
        out.append((replica, event))
    return out


@settings(max_examples=40, deadline=None)
@given(interleavings())
def test_replicas_appending_in_any_interleaving_converge(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, str]]
) -> None:
    async def main() -> None:
        path = tmp_path_factory.mktemp("replicas") / "hub.db"
        stores = [store(path) for _ in range(3)]
        replicas = [RingTracker(s, POLICY) for s in stores]
        for replica, event in ops:
            await replicas[replica].publish([event])
        for tracker in replicas:
            await tracker.catch_up()
        snapshots = [tracker.index.snapshot() for tracker in replicas]
        assert snapshots[0] == snapshots[1] == snapshots[2]
        # ... and the rings are exactly a static rebuild of the final edges.
        rebuilt = RingIndex.rebuild(replicas[0].index.edges(), policy=POLICY, metas=dict(snapshots[0].metas))
        assert rebuilt.snapshot().rings == snapshots[0].rings
        for s in stores:
            await s.close()

    asyncio.run(main())


def test_event_encoding_is_compact_and_carries_no_raw_values() -> None:
    rng = random.Random(3)
    tokens = tuple(phone(rng.randrange(1 << 60)) for _ in range(3))
    event = application_event(app("lender-a", "APP-1", *tokens), POLICY)
    decoded = json.loads(event)
    assert decoded[:4] == ["a", "lender-a", "APP-1", T0] and decoded[4] == list(tokens)
    assert " " not in event


def test_an_event_body_is_exactly_its_decoding() -> None:
    """The logging process folds its own events from their bodies (``RingTracker.apply``'s
    ``bodies``), replicas from the text: both must fold the same thing."""
    rng = random.Random(4)
    for n in range(200):
        tokens = [rng.choice([phone, rid, subnet])(rng.randrange(50)) for _ in range(rng.randrange(6))]
        at = rng.choice([T0, T0 + rng.random(), 1_800_000_000, 0.1])  # an int time stays an int
        a = app(f"m{n % 3}", f"ref-{n}-é", *tokens, at=at)
        body = application_event_body(a, POLICY)
        decoded = json.loads(application_event(a, POLICY))
        assert body == decoded and [type(v) for v in body] == [type(v) for v in decoded]


async def test_own_events_fold_from_their_bodies_as_replicas_fold_the_text(tmp_path: Path) -> None:
    s = store(tmp_path / "hub.db")
    writer, replica = RingTracker(s, POLICY), RingTracker(s, POLICY)
    apps = [app(f"m{i % 2}", f"r{i}", rid(i // 3), phone(i // 2), at=T0 + i) for i in range(30)]
    bodies = [application_event_body(a, POLICY) for a in apps]
    events = [application_event(a, POLICY) for a in apps]
    writer.apply(await s.append_log_events(events, writer.cursor), dict(zip(events, bodies, strict=True)))
    await replica.catch_up()
    assert writer.cursor == replica.cursor and writer.applied == replica.applied == 30
    assert sorted(writer.index.rings()) == sorted(replica.index.rings())
    for a in apps:
        assert writer.view_of(a.member_id, a.application_ref) == replica.view_of(a.member_id, a.application_ref)


async def test_application_events_of_the_older_layout_still_fold(tmp_path: Path) -> None:
    """Entries logged before the non-linking tokens were added (six fields) fold as before."""
    tracker = RingTracker(store(tmp_path / "hub.db"), POLICY)
    old = json.dumps(["a", "m1", "r1", T0, [phone(5)], None], separators=(",", ":"))
    await tracker.publish([old, application_event(app("m2", "r2", phone(5), subnet(3)), POLICY)])
    got = tracker.stacking.activities([phone(5), subnet(3)], "m3", T0)
    assert got[phone(5)].other_applications == (2,) * 5 and got[subnet(3)].other_applications == (1,) * 5
    assert tracker.linked_view("m2", "r2") is not None


async def test_retention_events_drop_old_applications_from_the_stacking_fold(tmp_path: Path) -> None:
    tracker = RingTracker(store(tmp_path / "hub.db"), POLICY)
    old, new = app("m1", "old", phone(8), at=T0 - 800 * 86_400.0), app("m2", "new", phone(8), at=T0 - 10.0)
    await tracker.publish([application_event(old, POLICY), application_event(new, POLICY)])
    assert tracker.stacking.activities([phone(8)], "m3", T0 - 750 * 86_400.0)[phone(8)].member_last_seen == {
        "m1": T0 - 800 * 86_400.0
    }
    await tracker.publish([retention_event(T0 - 730 * 86_400.0)])
    assert tracker.stacking.activities([phone(8)], "m3", T0 - 750 * 86_400.0)[phone(8)].member_last_seen == {}
    assert tracker.stacking.activities([phone(8)], "m3", T0)[phone(8)].member_last_seen == {"m2": T0 - 10.0}


async def test_public_ids_stay_the_keyed_hash_of_the_ring_id_across_cache_clears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consortium.rings._PUBLIC_ID_CACHE", 2)
    s = store(tmp_path / "hub.db")
    tracker = RingTracker(s, POLICY, ring_id_key=b"k" * 32)
    events = []
    for n in range(4):  # four rings of two applications each
        events += [application_event(app("m1", f"a{n}", phone(n)), POLICY)]
        events += [application_event(app("m2", f"b{n}", phone(n)), POLICY)]
    await tracker.publish(events)
    for _ in range(2):  # the second round asks again after the cache was cleared
        for n in range(4):
            view = tracker.linked_view("m2", f"b{n}")
            ring_id = tracker.index.ring_of(app_id_of("m2", f"b{n}"))
            assert view is not None and ring_id is not None
            assert view.public_id == ring_public_id(ring_id, b"k" * 32) != ring_public_id(ring_id)
            assert tracker.resolve(view.public_id) == ring_id
    await s.close()


def test_shared_by_several_follows_the_fold_after_it_is_first_asked() -> None:
    """The answer kept for a token asked about (updated by each application folded, dropped on a
    retention pass) is always the walk of the token's applications."""

    def walk(tracker: RingTracker, token: str) -> bool:
        persons = {m.person for a in tracker.index.apps_of(token) if (m := tracker.index.meta(a)) and m.person}
        return len(persons) >= 2

    def applicant(n: int, k: int) -> int:  # phone k's applicants, era by era
        if n < 140:
            return k  # one each, then a retention pass leaves only the next era's
        if n < 200:
            return 50 + k  # one each again, but someone else
        if n < 300:
            return rng.randrange(6)  # shared by several, until the second pass
        return 100 + k

    rng = random.Random(9)
    tracker = RingTracker(None, POLICY)  # type: ignore[arg-type]  # fed by apply(), no store
    for n in range(400):
        k = rng.randrange(5)
        if n in (150, 300):
            event = retention_event(T0 + n)
        else:
            person = [rid(applicant(n, k))] if rng.random() < 0.8 else []  # some carry no resident ID
            event = application_event(app(f"m{n % 3}", f"r{n}", *person, phone(k), at=T0 + n), POLICY)
        tracker.apply([((n + 1, 0), event)])
        for asked in range(5):
            if rng.random() < 0.5:
                assert tracker.shared_by_several(phone(asked)) == walk(tracker, phone(asked)), (n, asked)
    assert not any(tracker.shared_by_several(phone(k)) for k in range(5))


def fold(tracker: RingTracker, *events: str) -> None:
    start = tracker.applied
    tracker.apply([((start + n + 1, 0), event) for n, event in enumerate(events)])


def ring_size(tracker: RingTracker, member: str, ref: str) -> int:
    ring_id = tracker.index.ring_of(app_id_of(member, ref))
    return 0 if ring_id is None else tracker.index.ring_size(ring_id)


def test_an_ip_links_the_applications_of_one_day_and_is_capped_per_day() -> None:
    tracker = RingTracker(None, LinkPolicy.with_caps(ip=3))  # type: ignore[arg-type]  # fed by apply()
    same_day = [app(f"m{n % 2}", f"d1-{n}", rid(n), ip(1), at=T0 + 3600 * n) for n in range(3)]
    next_day = [app("m1", f"d2-{n}", rid(10 + n), ip(1), at=T0 + DAY + 60 * n) for n in range(2)]
    month_later = app("m2", "late", rid(20), ip(1), at=T0 + 30 * DAY)
    fold(tracker, *(application_event(a, tracker.policy) for a in [*same_day, *next_day, month_later]))
    assert ring_size(tracker, "m0", "d1-0") == 3 and ring_size(tracker, "m1", "d2-0") == 2
    assert ring_size(tracker, "m2", "late") == 1  # the same IP a month on: a stranger
    day = int(T0) + 30 * 86_400 - 4 * 3600  # T0 is UTC midnight; an IP's day starts at 20:00 UTC
    assert tracker.index.tokens_of(app_id_of("m2", "late")) == (rid(20), f"{ip(1)}@{day}")
    # A fourth application on day one crosses the cap of that day only.
    fold(tracker, application_event(app("m0", "d1-3", rid(3), ip(1), at=T0 + 4 * 3600), tracker.policy))
    assert ring_size(tracker, "m0", "d1-0") == 1 and ring_size(tracker, "m1", "d2-0") == 2
    # A replica that folds the same log without windows links the month together.
    forever = RingTracker(None, LinkPolicy(windows={}))  # type: ignore[arg-type]
    fold(forever, *(application_event(a, tracker.policy) for a in [*next_day, month_later]))
    assert ring_size(forever, "m2", "late") == 3


def test_a_marker_on_an_ip_flags_its_applications_in_every_window() -> None:
    tracker = RingTracker(None, POLICY)  # type: ignore[arg-type]
    apps = [app("m1", f"r{n}", rid(n), ip(7), at=T0 + (n // 2) * 2 * DAY + n) for n in range(6)]  # 3 windows
    fold(tracker, *(application_event(a, POLICY) for a in apps))
    fold(tracker, marker_event(ip(7), True, "m2"))
    views = [tracker.linked_view("m1", f"r{n}") for n in range(6)]
    assert all(v is not None and (v.summary.size, v.summary.blacklisted) == (2, 2) for v in views)
    fold(tracker, application_event(app("m1", "r6", rid(6), ip(7), at=T0 + 4 * DAY + 9), POLICY))
    view = tracker.linked_view("m1", "r6")
    assert view is not None and view.summary.blacklisted == 3  # flagged as it is folded
    fold(tracker, marker_event(ip(7), False))
    assert all((v := tracker.linked_view("m1", f"r{n}")) and v.summary.blacklisted == 0 for n in range(7))


def test_ips_drawn_from_a_pool_for_a_month_do_not_join_everybody_in_one_ring() -> None:
    """The steady state that made windows necessary (``graph.policy``): strangers on reassigned
    IPs. Without a window one ring takes nearly every application; with the day window, only
    same-day sharers link."""
    rng = random.Random(11)
    events = []
    for n in range(6_000):  # 2,000 people applying 3 times in 30 days, on 2,000 addresses
        a = app(f"m{n % 3}", f"r{n}", rid(rng.randrange(2_000)), ip(rng.randrange(2_000)), at=T0 + n * 30 * DAY / 6_000)
        events.append(application_event(a, POLICY))
    largest = {}
    for name, policy in (("day", LinkPolicy()), ("forever", LinkPolicy(windows={}))):
        tracker = RingTracker(None, policy)  # type: ignore[arg-type]
        fold(tracker, *events)
        largest[name] = max(size for _, size in tracker.index.rings())
    assert largest["forever"] > 5_000 and largest["day"] < 100, largest  # seed 11: 5,985 and 36


def test_a_windowed_phone_is_shared_by_the_applicants_of_its_window_only() -> None:
    from consortium.services.consortium_service import _shared_types

    policy = LinkPolicy(windows={common_pb2.TOKEN_TYPE_PHONE: int(DAY)})
    tracker = RingTracker(None, policy)  # type: ignore[arg-type]
    day_one = [app(f"m{n}", f"d1-{n}", rid(n), phone(5), at=T0 + 60 * n) for n in range(2)]
    day_five = app("m2", "d5", rid(9), phone(5), at=T0 + 4 * DAY)
    fold(tracker, *(application_event(a, policy) for a in [*day_one, day_five]))
    assert _shared_types(day_one[1], tracker) == {common_pb2.TOKEN_TYPE_PHONE}  # two people that day
    assert _shared_types(day_five, tracker) == set()  # alone in its window


def test_applications_logged_under_other_link_settings_are_counted_and_once_live_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    day, forever = LinkPolicy(), LinkPolicy(windows={})
    assert day.fingerprint != forever.fingerprint == LinkPolicy(windows={}).fingerprint
    assert LinkPolicy(caps={}).fingerprint == LinkPolicy(caps={}, windows={}).fingerprint  # windows on nothing
    tracker = RingTracker(None, day)  # type: ignore[arg-type]
    old_layout = json.dumps(["a", "m1", "r0", T0, [ip(1)], None, []])  # logged before fingerprints
    fold(tracker, old_layout, application_event(app("m1", "r1", ip(1)), day))
    fold(tracker, application_event(app("m2", "r2", ip(1)), forever))  # the replay: counted, not an error
    assert tracker.foreign_links == {forever.fingerprint: 1} and "other settings" not in caplog.text
    tracker.live = True  # as start_hub sets it after the replay
    for n in range(3):
        fold(tracker, application_event(app("m3", f"r{3 + n}", ip(1)), forever))
    assert tracker.foreign_links == {forever.fingerprint: 4}
    assert caplog.text.count("another hub on this store links rings under other settings") == 1  # once per setting
