"""One conformance suite for every Store backend (sqlite on a temp file, redis on a real server).

Behaviour is asserted, not just "no exception": idempotency of retries, the fused Check
(``record_logged``) against the composed one, marker lifecycle, the consortium log, persistence,
Unavailable on a dead server. Stacking counts are a fold of the log, tested in
tests/unit/test_stacking_index.py and through the hub.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from lianfang.v1 import common_pb2 as pb

from consortium.records import DAY, HOUR, ApplicationRecord, CheckSnapshot, Marker, Member, token_key
from consortium.store import redis as redis_store
from consortium.store import redis_markers
from consortium.store.base import LOG_START, LogCursor, Store
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.redis_link import RedisLink
from consortium.store.registry import STORE_TYPES, open_store
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from tests.support.redis_process import RedisProcess, free_port
from tests.support.reply_dropper import ReplyDroppingProxy

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PENDING, ACTIVE, SUSPENDED = pb.MEMBER_STATUS_PENDING, pb.MEMBER_STATUS_ACTIVE, pb.MEMBER_STATUS_SUSPENDED
PHONE, DEVICE = token_key(1, 4, 1, b"\x01" * 16), token_key(1, 6, 1, b"\x02" * 16)
TOKENS = [token_key(1, t, 1, bytes([t]) * 16) for t in range(1, 7)]


@dataclass
class Backend:
    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self, **overrides: Any) -> Store:
        return open_store(self.kind, {**self.options, **overrides})

    def run(self, scenario: Callable[[Store], Awaitable[None]]) -> None:
        async def main() -> None:
            async with opened(self) as store:
                await scenario(store)

        asyncio.run(main())


@asynccontextmanager
async def opened(backend: Backend, **overrides: Any) -> AsyncIterator[Store]:
    store = backend.open(**overrides)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "redis", "redis-pipeline", "redis-cluster", "redis-cluster-pipeline"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """redis-pipeline: script calls through redis-py's pipeline (as without hiredis), not the link.
    redis-cluster: a real 3-primary Redis Cluster (the store's cluster link); redis-cluster-pipeline:
    the same through redis-py's cluster pipeline."""
    if request.param == "sqlite":
        return Backend("sqlite", {"path": str(tmp_path / "hub.db")})
    if request.param.startswith("redis-cluster"):
        if request.param == "redis-cluster-pipeline":
            monkeypatch.setattr(redis_store, "_USE_LINK", False)
        cluster = request.getfixturevalue("redis_cluster")
        return Backend("redis", {"url": cluster.url, "key_prefix": "lf", "cluster": True})
    if request.param == "redis-pipeline":
        monkeypatch.setattr(redis_store, "_USE_LINK", False)
    return Backend("redis", {"url": request.getfixturevalue("redis_url"), "key_prefix": "lf"})


def application(member_id: str, ref: str, at: float, *tokens: str, **kw: Any) -> ApplicationRecord:
    return ApplicationRecord(member_id, ref, at, tokens or (PHONE,), **kw)


def member(member_id: str, status: int = ACTIVE) -> Member:
    return Member(member_id, f"贷款平台 {member_id}", "bank", b"\x00\xffkey" + member_id.encode(), status, "", T0, T0)


def marker(marker_id: str, filer: str, token: str = PHONE, filed_at: float = T0, **kw: Any) -> Marker:
    return Marker(
        marker_id,
        filer,
        token,
        pb.MARKER_TYPE_CONFIRMED_FRAUD,
        "FRAUD_DOCS",
        pb.EVIDENCE_LEVEL_POLICE_REPORT,
        filed_at,
        filed_at - DAY,
        kw.pop("expires_at", None),
        **kw,
    )


def normalised(snap: CheckSnapshot) -> CheckSnapshot:
    """Marker order within a token is not part of the contract."""
    markers = {k: sorted(v, key=lambda m: (m.filed_at, m.marker_id)) for k, v in snap.markers.items() if v}
    return replace(snap, markers=markers)


# -- members ---------------------------------------------------------------------------------
def test_members(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_member(member("b", PENDING))
        await store.add_member(member("a"))
        with pytest.raises(AlreadyExists):
            await store.add_member(member("a", SUSPENDED))
        assert await store.get_member("a") == member("a")
        assert await store.get_member("nobody") is None
        assert [m.member_id for m in await store.list_members()] == ["a", "b"]

        updated = await store.set_member_status("b", frozenset({PENDING}), ACTIVE, "批准 approved", T0 + 5)
        assert (updated.status, updated.status_reason) == (ACTIVE, "批准 approved")
        assert updated.updated_at == T0 + 5
        assert updated.created_at == T0 and updated.public_key == member("b").public_key
        assert await store.get_member("b") == updated
        with pytest.raises(FailedPrecondition):
            await store.set_member_status("b", frozenset({PENDING, SUSPENDED}), ACTIVE, "again", T0 + 6)
        with pytest.raises(FailedPrecondition):
            await store.set_member_status("b", frozenset(), SUSPENDED, "nothing expected", T0 + 6)
        with pytest.raises(NotFound):
            await store.set_member_status("nobody", frozenset({ACTIVE}), SUSPENDED, "x", T0)
        assert await store.get_member("b") == updated  # failed CAS changed nothing

    backend.run(scenario)


def test_a_member_change_and_its_log_entry_are_written_together(backend: Backend) -> None:
    """``add_member_logged`` / ``set_member_status_logged`` (admin actions): the change and its
    audit entry in one step; a refused change (id taken, status not expected) logs nothing, and
    nothing is left waiting to be logged once the call returns."""

    async def scenario(store: Store) -> None:
        entries = await store.append_log_events(["before"], LOG_START)
        logged = await store.add_member_logged(member("a", PENDING), ["register a"], entries[-1][0])
        assert [e for _, e in logged] == ["register a"] and await store.get_member("a") == member("a", PENDING)
        with pytest.raises(AlreadyExists):
            await store.add_member_logged(member("a"), ["register a again"], logged[-1][0])
        changed, logged = await store.set_member_status_logged(
            "a", frozenset({PENDING}), ACTIVE, "approved", T0 + 5, ["approve a"], logged[-1][0]
        )
        assert [e for _, e in logged] == ["approve a"]
        assert changed == replace(member("a"), status_reason="approved", updated_at=T0 + 5)
        assert await store.get_member("a") == changed and await store.list_members() == [changed]
        with pytest.raises(FailedPrecondition):
            await store.set_member_status_logged("a", frozenset({PENDING}), ACTIVE, "x", T0 + 6, ["no"], LOG_START)
        with pytest.raises(NotFound):
            await store.set_member_status_logged("nobody", frozenset({ACTIVE}), SUSPENDED, "x", T0, ["no"], LOG_START)
        assert [e for _, e in await store.log_events(LOG_START, 10)] == ["before", "register a", "approve a"]
        assert await store.get_member("a") == changed
        assert await store.unlogged_member_events() == []
        # A key rotation: the status and its reason stay, the key changes, logged with it.
        rotated, logged = await store.set_member_status_logged(
            "a", frozenset({ACTIVE}), ACTIVE, "approved", T0 + 7, ["rotate a"], logged[-1][0], public_key=b"\x07" * 32
        )
        assert rotated == replace(changed, public_key=b"\x07" * 32, updated_at=T0 + 7)
        assert await store.get_member("a") == rotated and [e for _, e in logged] == ["rotate a"]

    backend.run(scenario)


def test_redis_a_registration_re_sent_after_a_dropped_reply_is_not_a_conflict(redis_url: str) -> None:
    """The link re-sends a request whose connection dropped before the reply (``RedisLink.execute``),
    so a registration that Redis already ran can run twice: the second run finds every field as
    this call wrote it (its times, its own ``log_pending`` nonce) and is no conflict. Another
    registration of the id, even of the same member, is."""

    async def main() -> None:
        async with opened(Backend("redis", {"url": redis_url, "key_prefix": "lf"})) as store:
            assert isinstance(store, RedisStore)
            pending: list[str | int | bytes] = [
                redis_store._pending_field(),
                redis_store._pending_value(T0, ["register a"]),
            ]
            await store._create_member(member("a", PENDING), pending)
            await store._create_member(member("a", PENDING), pending)  # the same request, re-sent
            assert await store.get_member("a") == member("a", PENDING)
            [kept] = await store.unlogged_member_events()
            assert kept.events == ("register a",)
            with pytest.raises(AlreadyExists):  # the same member, another call: another nonce
                await store.add_member_logged(member("a", PENDING), ["register a"], LOG_START)
            await store.add_member(member("b"))
            await store.add_member(member("b"))  # no log copy: every field, times included, as sent
            with pytest.raises(AlreadyExists):
                await store.add_member(replace(member("b"), updated_at=T0 + 1, created_at=T0 + 1))

    asyncio.run(main())


def test_redis_writes_re_sent_after_a_lost_reply_find_their_own_effect(redis_url: str) -> None:
    """A real lost reply (a proxy drops the connection after Redis ran the request): the link or
    redis-py re-sends, and the write finds what it did itself — a registration its own fields, a
    status change its own log copy, a token claim its own nonce — instead of reporting
    ALREADY_EXISTS, FAILED_PRECONDITION or a replayed token. The audit entries are logged once."""
    proxy = ReplyDroppingProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))

    async def main() -> None:
        async with proxy.running(), opened(Backend("redis", {"url": proxy.url, "key_prefix": "lf"})) as store:
            proxy.drop_reply_to(b"register-a")
            logged = await store.add_member_logged(member("a", PENDING), ["register-a"], LOG_START)
            proxy.drop_reply_to(b"approved-by-ops")
            changed, _ = await store.set_member_status_logged(
                "a", frozenset({PENDING}), ACTIVE, "approved-by-ops", T0 + 5, ["approve-a"], logged[-1][0]
            )
            assert proxy.dropped == 2 and changed.status == ACTIVE and changed.status_reason == "approved-by-ops"
            assert [e for _, e in await store.log_events(LOG_START, 10)] == ["register-a", "approve-a"]
            assert await store.unlogged_member_events() == []
            with pytest.raises(FailedPrecondition):  # another call finding the status changed is refused
                await store.set_member_status_logged("a", frozenset({PENDING}), ACTIVE, "x", T0 + 6, ["x"], LOG_START)
            proxy.drop_reply_to(b"jti-lost-reply")
            assert await store.claim_token_id("jti-lost-reply", T0 + 60, T0)
            assert proxy.dropped == 3
            assert not await store.claim_token_id("jti-lost-reply", T0 + 60, T0)  # a real replay

    asyncio.run(main())


def test_redis_keeps_each_member_change_s_log_entries_until_one_hub_logs_them(redis_url: str) -> None:
    """On Redis the member's hash and the log's stream are two slots: each change is written with
    its own copy of its entries, which a crash before the append leaves behind. A later change
    never replaces it; ``log_member_events`` claims it first, so two hubs logging it at once log
    it once; the copy never shows in the member."""

    async def main() -> None:
        backend = Backend("redis", {"url": redis_url, "key_prefix": "lf"})
        async with opened(backend) as store, opened(backend) as other:
            assert isinstance(store, RedisStore)
            register = redis_store._pending_value(T0, ["register a"])
            await store._create_member(member("a", PENDING), [redis_store._pending_field(), register])
            assert await store.get_member("a") == member("a", PENDING)  # the copy is not part of the member
            # A later change, logged at once, leaves the crashed one's copy alone:
            changed, logged = await store.set_member_status_logged(
                "a", frozenset({PENDING}), ACTIVE, "ok", T0 + 9, ["approve a"], LOG_START
            )
            assert [e for _, e in logged] == ["approve a"] and changed.status == ACTIVE
            [kept] = await store.unlogged_member_events()
            assert (kept.member_id, kept.events, kept.at, kept.claimed_at) == ("a", ("register a",), T0, None)

            first, second = await asyncio.gather(
                store.log_member_events(kept, T0 + 100, logged[-1][0]),
                other.log_member_events(kept, T0 + 100, logged[-1][0]),
            )
            assert [first, second].count(None) == 1  # one hub won the claim
            assert [e for _, e in await store.log_events(LOG_START, 10)] == ["approve a", "register a"]
            assert await store.unlogged_member_events() == []
            assert await store.log_member_events(kept, T0 + 200, LOG_START) is None  # logged: nothing to claim

            # A hub that claimed and stopped leaves its claim, with its time, for a later taker:
            stale = json.dumps([T0 + 300, ["suspend a"], T0 + 301])
            await store._set_status(
                "a", frozenset({ACTIVE}), SUSPENDED, "s", T0 + 300, [redis_store._pending_field(), stale]
            )
            [claimed] = await store.unlogged_member_events()
            assert (claimed.events, claimed.at, claimed.claimed_at) == (("suspend a",), T0 + 300, T0 + 301)
            assert await store.log_member_events(claimed, T0 + 400, LOG_START) is not None
            assert [e for _, e in await store.log_events(LOG_START, 10)][-1] == "suspend a"

    asyncio.run(main())


# -- applications ----------------------------------------------------------------------------
def test_record_application_is_idempotent(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        first = application(
            "a",
            "ref-1",
            T0 - HOUR / 2,
            PHONE,
            DEVICE,
            applicant_kind=1,
            product_category="消费贷",
            consent_ref="consent-1",
        )
        assert await store.record_application(first) == (first, True)
        retry = replace(first, received_at=T0, consent_ref="other", product_category="x")
        stored, new = await store.record_application(retry)
        assert (stored, new) == (first, False)
        assert await store.get_application("a", "ref-1") == first
        assert await store.get_application("a", "missing") is None

    backend.run(scenario)


def test_set_outcome(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.record_application(application("a", "ref-1", T0))
        await store.set_outcome("a", "ref-1", 3, T0 + DAY)
        got = await store.get_application("a", "ref-1")
        assert got is not None and (got.outcome, got.outcome_at) == (3, T0 + DAY)
        with pytest.raises(NotFound):
            await store.set_outcome("a", "ref-2", 3, T0)
        with pytest.raises(NotFound):
            await store.set_outcome("b", "ref-1", 3, T0)  # another member's ref

    backend.run(scenario)


def test_purge_applications(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        for ref, m, at in [
            ("old", "b", T0 - 400 * DAY),
            ("mid", "c", T0 - 120 * DAY),
            ("new", "b", T0 - 10 * DAY),
            ("new2", "d", T0),
        ]:
            await store.record_application(application(m, ref, at, PHONE, DEVICE))
        assert await store.purge_applications(T0 - 100 * DAY) == 2
        assert await store.get_application("b", "old") is None
        assert await store.get_application("c", "mid") is None
        assert await store.get_application("b", "new") is not None
        assert await store.get_application("d", "new2") is not None
        assert await store.purge_applications(T0 - 100 * DAY) == 0

    backend.run(scenario)


# -- consortium log --------------------------------------------------------------------------------
def test_consortium_log_appends_in_order_and_tails(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.log_events(LOG_START, 10) == []
        first = await store.append_log_events(["a1", "a2"], LOG_START)
        assert [e for _, e in first] == ["a1", "a2"]
        assert first[0][0] < first[1][0]
        # Appending with an older cursor returns what others appended meanwhile, then the new.
        second = await store.append_log_events(["b1"], first[0][0])
        assert [e for _, e in second] == ["a2", "b1"]
        third = await store.append_log_events([], second[-1][0])
        assert third == []
        everything = await store.log_events(LOG_START, 100)
        assert [e for _, e in everything] == ["a1", "a2", "b1"]
        assert [c for c, _ in everything] == sorted(c for c, _ in everything)
        page = await store.log_events(everything[0][0], 1)
        assert page == [everything[1]]
        assert await store.log_events(everything[-1][0], 10) == []
        # Events are opaque text: separators, JSON and non-ASCII survive.
        odd = ['{"k": "v|w"}', "链\x1fref"]
        await store.append_log_events(odd, everything[-1][0])
        assert [e for _, e in await store.log_events(everything[-1][0], 10)] == odd

    backend.run(scenario)


def test_consortium_log_is_shared_by_two_store_clients(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        async with opened(backend) as other:
            await store.append_log_events(["x"], LOG_START)
            seen = await other.append_log_events(["y"], LOG_START)
            assert [e for _, e in seen] == ["x", "y"]
            assert await store.log_events(LOG_START, 10) == seen

    backend.run(scenario)


# -- replay guard ----------------------------------------------------------------------------
def test_single_use_token_ids(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.claim_token_id("jti-1", T0 + 60, T0)
        assert not await store.claim_token_id("jti-1", T0 + 60, T0 + 1)  # a replay
        assert await store.claim_token_id("jti-2", T0 + 60, T0 + 1)
        async with opened(backend) as replica:  # another hub process on the same store
            assert not await replica.claim_token_id("jti-2", T0 + 60, T0 + 2)
        if backend.kind == "sqlite":  # Redis expires keys on its own clock (PX); SQLite on ``now``
            assert await store.claim_token_id("jti-1", T0 + 200, T0 + 61)

    backend.run(scenario)


# -- key claims ------------------------------------------------------------------------------
def test_public_key_claims_hold_for_good_and_release_only_their_own(backend: Backend) -> None:
    key, other_key = bytes(range(32)), bytes(range(1, 33))

    async def scenario(store: Store) -> None:
        assert await store.claim_public_key(key, "a") == ("a", True)
        assert await store.claim_public_key(key, "a") == ("a", False)  # a retry finds its own claim
        async with opened(backend) as replica:  # another hub process on the same store
            assert await replica.claim_public_key(key, "b") == ("a", False)
            await replica.release_public_key(key, "b")  # not b's: stays
        assert await store.claim_public_key(key, "b") == ("a", False)
        assert await store.claim_public_key(other_key, "b") == ("b", True)
        await store.release_public_key(other_key, "b")
        assert await store.claim_public_key(other_key, "c") == ("c", True)

    backend.run(scenario)

    async def reopened() -> None:
        async with opened(backend) as store:
            assert await store.claim_public_key(key, "z") == ("a", False)

    asyncio.run(reopened())


def test_purge_markers_past_their_expiry(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        for m in ("a", "b"):
            await store.add_member(member(m))
        await store.add_marker(marker("old", "a", PHONE, T0, expires_at=T0 + 10))
        await store.add_marker(marker("gone", "b", DEVICE, T0, expires_at=T0 + 20))
        await store.withdraw_marker("gone", T0 + 5, "filed in error")
        await store.add_marker(marker("young", "a", PHONE, T0, expires_at=T0 + 1000))
        await store.add_marker(marker("forever", "b", PHONE, T0, expires_at=None))
        purged = sorted(await store.purge_markers(T0 + 100), key=lambda m: m.marker_id)
        assert [(m.marker_id, m.token_key, m.withdrawn_at) for m in purged] == [
            ("gone", DEVICE, T0 + 5),
            ("old", PHONE, None),
        ]
        assert await store.get_marker("old") is None and await store.get_marker("gone") is None
        assert {m.marker_id for m in (await store.markers_for_tokens([PHONE]))[PHONE]} == {"young", "forever"}
        assert [m.marker_id for m in await store.markers_by_filer("b")] == ["forever"]
        assert await store.purge_markers(T0 + 100) == []

    backend.run(scenario)


# -- markers ---------------------------------------------------------------------------------
def test_markers_lifecycle(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        m1 = marker("m1", "a", PHONE, T0 + 0.125, case_ref="案件-7", expires_at=T0 + 5 * 365 * DAY)
        await store.add_marker(m1)
        with pytest.raises(AlreadyExists):
            await store.add_marker(replace(m1, token_key=DEVICE))
        assert await store.get_marker("m1") == m1
        assert await store.get_marker("nope") is None
        withdrawn = await store.withdraw_marker("m1", T0 + DAY, "误报 false positive")
        assert withdrawn == replace(m1, withdrawn_at=T0 + DAY, withdraw_reason="误报 false positive")
        again = await store.withdraw_marker("m1", T0 + 2 * DAY, "second")
        assert again == withdrawn  # the first withdrawal stands: its time and its reason
        assert await store.get_marker("m1") == again and not again.is_active(T0 + DAY)
        with pytest.raises(NotFound):
            await store.withdraw_marker("nope", T0, "x")

    backend.run(scenario)


def test_a_marker_and_its_log_entry_are_written_together(backend: Backend) -> None:
    """``add_marker_logged`` (FileMarker): the marker and its events in one step; an id that is
    taken writes neither, so the log never tells of a marker the store does not hold."""

    async def scenario(store: Store) -> None:
        entries = await store.append_log_events(["before"], LOG_START)
        m1 = marker("m1", "a", PHONE, T0)
        logged = await store.add_marker_logged(m1, ["filed m1"], entries[-1][0])
        assert [e for _, e in logged] == ["filed m1"] and await store.get_marker("m1") == m1
        assert [m.marker_id for m in await store.markers_by_filer("a")] == ["m1"]
        with pytest.raises(AlreadyExists):
            await store.add_marker_logged(replace(m1, token_key=DEVICE), ["filed again"], logged[-1][0])
        assert [e for _, e in await store.log_events(LOG_START, 10)] == ["before", "filed m1"]
        assert await store.get_marker("m1") == m1 and DEVICE not in await store.markers_for_tokens([DEVICE])
        quiet = await store.add_marker_logged(marker("m2", "a", DEVICE, T0), [], LOG_START)  # a protective one
        assert [e for _, e in quiet] == ["before", "filed m1"]  # no event: the log since the cursor

    backend.run(scenario)


def test_markers_queries(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_markers, "FILER_PAGE", 3)  # a filer's 4 markers span two pages on Redis

    async def scenario(store: Store) -> None:
        filed = [
            marker("z", "a", PHONE, T0 + 2),
            marker("b", "a", DEVICE, T0 + 1),
            marker("a", "a", PHONE, T0 + 2),
            marker("c", "other", PHONE, T0),
            marker("d", "a", PHONE, T0 - 5, expires_at=T0 - 1),
        ]
        for m in filed:
            await store.add_marker(m)
        await store.withdraw_marker("c", T0 + 3, "dispute resolved")
        by_filer = await store.markers_by_filer("a")
        assert [m.marker_id for m in by_filer] == ["d", "b", "a", "z"]  # filed_at, then id
        assert await store.markers_by_filer("nobody") == []
        found = await store.markers_for_tokens([PHONE, DEVICE, TOKENS[5]])
        assert sorted(m.marker_id for m in found[PHONE]) == ["a", "c", "d", "z"]  # any status
        assert next(m for m in found[PHONE] if m.marker_id == "c").withdrawn_at == T0 + 3
        assert [m.marker_id for m in found[DEVICE]] == ["b"]
        assert found.get(TOKENS[5], []) == []

    backend.run(scenario)


# -- the Check path: record_logged ----------------------------------------------------------------
Logged = tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]
Record = Callable[[Store, list[ApplicationRecord], list[str], LogCursor], Awaitable[Logged]]


def _fused(store: Store, apps: list[ApplicationRecord], events: list[str], after: LogCursor) -> Awaitable[Logged]:
    return store.record_logged(apps, events, after)


def _composed(store: Store, apps: list[ApplicationRecord], events: list[str], after: LogCursor) -> Awaitable[Logged]:
    return Store.record_logged(store, apps, events, after)  # the roles, one after the other


async def workload(store: Store, record: Record, seed: int = 7, steps: int = 80) -> list[Any]:
    """A scripted mix, as a hub drives the store: Checks and batches of 1-6 applications from
    mixed members sharing tokens, retries (later, of earlier refs and of refs in the same batch,
    some with other tokens), markers filed and withdrawn in between, the log tailed from the last
    entry seen (sometimes from further back, as a lagging replica would)."""
    rng, now = random.Random(seed), T0
    out: list[Any] = []
    refs: list[ApplicationRecord] = []
    cursor = LOG_START
    for i in range(steps):
        now += rng.choice([1.0, 60.0, HOUR, 7 * HOUR, 3 * DAY, 25 * DAY])
        batch: list[ApplicationRecord] = []
        for j in range(rng.choice([1, 1, 1, 2, 6])):
            if refs and rng.random() < 0.25:
                app = replace(rng.choice(refs), received_at=now)
                if rng.random() < 0.3:
                    app = replace(app, token_keys=tuple(rng.sample(TOKENS, rng.randint(1, 4))))
            else:
                tokens = rng.sample(TOKENS, rng.randint(1, 4))
                app = application(rng.choice("abcd"), f"ref-{seed}-{i}-{j}", now, *tokens)
                refs.append(app)
            batch.append(app)
        if rng.random() < 0.15:
            await store.add_marker(marker(f"mk-{seed}-{i}", rng.choice("abcd"), rng.choice(TOKENS), now))
        if rng.random() < 0.05 and i > 10:
            filed = [m for f in "abcd" for m in await store.markers_by_filer(f)]
            if filed:
                await store.withdraw_marker(rng.choice(filed).marker_id, now, "withdrawn")
        after = cursor if rng.random() < 0.8 else LOG_START
        snapshots, entries = await record(store, batch, [f"event-{i}-{j}" for j in range(len(batch))], after)
        cursor = entries[-1][0]
        out.append(([normalised(s) for s in snapshots], [e for _, e in entries]))
    return out


def test_record_logged_matches_the_composition(backend: Backend, tmp_path: Path) -> None:
    """The fused Check (one round trip or transaction) gives the snapshots and log entries of the
    composed one and leaves the same state behind."""

    async def main() -> list[Any]:
        other = {"path": str(tmp_path / "copy.db")} if backend.kind == "sqlite" else {"key_prefix": "copy"}
        async with opened(backend) as fused, opened(backend, **other) as composed:
            got, want = await workload(fused, _fused), await workload(composed, _composed)
            assert got == want
            assert [e for _, e in await fused.log_events(LOG_START, 10_000)] == [
                e for _, e in await composed.log_events(LOG_START, 10_000)
            ]
        return got

    got = asyncio.run(main())
    snapshots = [s for step, _ in got for s in step]
    # the workload does exercise retries, markers and batches
    assert any(not s.newly_recorded for s in snapshots) and any(s.markers for s in snapshots)
    assert any(len(step) > 1 for step, _ in got)
    if backend.kind == "sqlite":
        assert _sqlite_state(backend.options["path"]) == _sqlite_state(str(tmp_path / "copy.db"))
    elif not backend.options.get("cluster"):
        fused_state = _redis_state(backend.options["url"], "lf")
        assert fused_state and fused_state == _redis_state(backend.options["url"], "copy")


def test_record_logged_same_answers_on_sqlite_and_redis(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with (
            opened(Backend("sqlite", {"path": str(tmp_path / "hub.db")})) as lite,
            opened(Backend("redis", {"url": redis_url})) as red,
        ):
            for seed in (1, 2):
                assert await workload(lite, _fused, seed) == await workload(red, _fused, seed)

    asyncio.run(main())


def test_record_logged_answers_a_retry_from_the_original(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_marker(marker("m1", "c", DEVICE, T0 - DAY))
        [first], entries = await store.record_logged([application("a", "r", T0, PHONE, DEVICE)], ["e1"], LOG_START)
        assert first.newly_recorded and first.received_at == T0 and [e for _, e in entries] == ["e1"]
        assert [m.marker_id for m in first.markers[DEVICE]] == ["m1"] and PHONE not in first.markers
        retry_app = application("a", "r", T0 + 2 * HOUR, PHONE, DEVICE, TOKENS[3])
        [retry], entries = await store.record_logged([retry_app], ["e2"], entries[-1][0])
        assert not retry.newly_recorded and retry.received_at == T0 and [e for _, e in entries] == ["e2"]
        assert first.token_keys == retry.token_keys == (PHONE, DEVICE)  # the first recording's tokens
        assert await store.get_application("a", "r") == application("a", "r", T0, PHONE, DEVICE)
        # The retry's extra token is held nowhere: the re-keying walk does not find it either.
        held = {k for page in await _walk(store, "1.", 100) for k in page}
        assert {PHONE, DEVICE} <= held and TOKENS[3] not in held

    backend.run(scenario)


def test_record_logged_in_a_batch_sees_earlier_references(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_marker(marker("m1", "c", PHONE, T0 - DAY))
        batch = [
            application("a", "r1", T0, PHONE, DEVICE),
            application("b", "r1", T0, DEVICE),  # another member's reference: its own application
            application("a", "r1", T0 + 1, DEVICE),  # a repeated reference: a retry of the first
        ]
        (first, other, again), entries = await store.record_logged(batch, ["x", "y"], LOG_START)
        assert first.newly_recorded and other.newly_recorded and not again.newly_recorded
        assert again.received_at == T0 and PHONE in first.markers and not again.markers
        assert [e for _, e in entries] == ["x", "y"]
        assert await store.record_logged([], [], entries[-1][0]) == ([], [])

    backend.run(scenario)


async def _walk(store: Store, prefix: str, limit: int, cursor: str = "") -> list[list[str]]:
    """Every page of a token walk from ``cursor`` to its end."""
    pages = []
    while True:
        page, cursor = await store.token_keys_page(prefix, cursor, limit)
        assert page == sorted(set(page))  # distinct and ascending within a page
        pages.append(page)
        if not cursor:
            return pages


def test_token_keys_page_walks_every_held_token_of_a_prefix(backend: Backend) -> None:
    """The re-keying walk: distinct token keys (from applications and markers) of one scheme,
    a page at a time, resumable from the cursor of any page, other schemes left out."""
    oprf = [token_key(2, t, 1, bytes([t, n]) * 16) for t in (4, 6) for n in range(3)]
    hmac_only = token_key(1, 4, 1, b"\x09" * 16)

    async def scenario(store: Store) -> None:
        await store.add_member(member("a"))
        for i, key in enumerate(oprf[:4]):
            await store.record_application(application("a", f"r{i}", T0 + i, key, hmac_only))
        await store.record_logged([application("a", "b1", T0 + 5, oprf[4])], ["e"], LOG_START)
        await store.record_application(application("a", "again", T0 + 9, oprf[0]))  # a token held twice
        await store.add_marker(marker("mk-only", "a", oprf[5]))  # held by a marker alone
        pages = await _walk(store, "2.", 2)
        assert {k for page in pages for k in page} == set(oprf) and len(pages) >= 2
        assert all(k.startswith("2.") for page in pages for k in page)
        # Resuming from the cursor of the first page walks the rest: with the first page, all.
        first, cursor = await store.token_keys_page("2.", "", 2)
        assert first and cursor
        rest = await _walk(store, "2.", 2, cursor)
        assert set(first) | {k for page in rest for k in page} == set(oprf)
        assert hmac_only in {k for page in await _walk(store, "1.", 10) for k in page}
        assert await _walk(store, "3.", 10) == [[]]  # no token of the scheme: one empty, final page
        # A cursor the store does not know starts over; an earlier version's (the last key of a
        # page) resumes after that key on SQLite and starts over on Redis: either way no key is lost.
        assert set(oprf) <= {k for page in await _walk(store, "2.", 100, "junk|cursor") for k in page}
        resumed = {k for page in await _walk(store, "2.", 100, sorted(oprf)[2]) for k in page}
        assert set(sorted(oprf)[3:]) <= resumed

    backend.run(scenario)


def _sqlite_state(path: str) -> dict[str, list[tuple[Any, ...]]]:
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = ("applications", "application_tokens", "markers")
        return {t: sorted(db.execute(f"SELECT * FROM {t}")) for t in tables}


def _redis_state(url: str, prefix: str) -> dict[str, Any]:
    """Every key under the prefix (named without it) with its full contents; TTLs only as set or
    not. The log stream is compared through log_events (its entry ids differ)."""
    client = redis.Redis.from_url(url)
    out: dict[str, Any] = {}
    for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        key = raw.decode()
        kind = client.type(raw).decode()
        if kind == "stream":
            continue
        if kind == "zset":
            value: Any = client.zrange(raw, 0, -1, withscores=True)
        elif kind == "hash":
            value = sorted(client.hgetall(raw).items())
        elif kind == "set":
            value = sorted(client.smembers(raw))
        else:
            value = client.get(raw)
        out[key.removeprefix(prefix)] = (kind, value, client.pttl(raw) > 0)
    client.close()
    return out


# -- persistence and availability ------------------------------------------------------------
def test_reopened_store_keeps_everything(backend: Backend) -> None:
    async def main() -> None:
        async with opened(backend) as store:
            await store.add_member(member("a"))
            await store.record_application(application("a", "r", T0, PHONE))
            await store.add_marker(marker("m1", "a"))
            await store.append_log_events(["e1"], LOG_START)
        async with opened(backend) as store:
            await store.ping()
            assert [e for _, e in await store.log_events(LOG_START, 10)] == ["e1"]
            assert await store.get_member("a") == member("a")
            assert await store.get_application("a", "r") == application("a", "r", T0, PHONE)
            assert await store.get_marker("m1") == marker("m1", "a")
            assert await store.token_keys_page("1.", "", 10) == ([PHONE], "")

    asyncio.run(main())


def test_dead_redis_is_unavailable() -> None:
    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5))
        try:
            with pytest.raises(Unavailable):
                await store.ping()
            with pytest.raises(Unavailable):
                await store.record_logged([application("a", "r", T0)], ["e"], LOG_START)
            with pytest.raises(Unavailable):
                await store.list_members()
        finally:
            await store.close()

    asyncio.run(main())


def test_hung_redis_is_unavailable_within_the_timeout(tmp_path: Path) -> None:
    """A frozen server (SIGSTOP) must not hold callers: about two socket timeouts, then Unavailable."""
    server = RedisProcess(tmp_path / "frozen").start()

    async def main() -> float:
        async with opened(Backend("redis", {"url": server.url, "socket_timeout": 0.3})) as store:
            await store.ping()
            server.kill(signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(Unavailable):
                await store.record_logged([application("a", "r", T0)], ["e"], LOG_START)
            return time.monotonic() - started

    try:
        assert asyncio.run(main()) < 1.5
    finally:
        server.kill(signal.SIGCONT)
        server.stop()


@pytest.mark.parametrize("link", [True, False])
def test_redis_refusing_writes_is_unavailable_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: bool
) -> None:
    """A server out of memory (maxmemory, noeviction) or short of replicas (min-replicas-to-write)
    answers error replies, not a dropped connection: callers get Unavailable, the
    error they retry, and what was stored before is intact."""
    monkeypatch.setattr(redis_store, "_USE_LINK", link)
    server = RedisProcess(tmp_path / "full").start()
    admin = redis.Redis.from_url(server.url)

    async def main() -> None:
        async with opened(Backend("redis", {"url": server.url})) as store:
            [snapshot], _ = await store.record_logged([application("a", "r1", T0)], ["e1"], LOG_START)
            assert snapshot.newly_recorded
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
            with pytest.raises(Unavailable):
                await store.record_logged([application("a", "r2", T0)], ["e2"], LOG_START)
            with pytest.raises(Unavailable):
                await store.add_marker(marker("m1", "a"))
            admin.config_set("maxmemory", 0)
            admin.config_set("min-replicas-to-write", 1)  # no replica: writes refused (NOREPLICAS)
            with pytest.raises(Unavailable):
                await store.record_logged([application("a", "r2", T0)], ["e2"], LOG_START)
            admin.config_set("min-replicas-to-write", 0)
            [again], entries = await store.record_logged([application("a", "r2", T0)], ["e2"], LOG_START)
            assert again.newly_recorded and [e for _, e in entries] == ["e1", "e2"]
            assert await store.get_application("a", "r1") is not None

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_sqlite_locked_by_another_process_is_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    """Another process holding the write lock past the busy timeout is Unavailable (retried by
    callers), not INTERNAL; the store works again once the lock is released."""
    path = tmp_path / "hub.db"

    async def main() -> None:
        async with opened(Backend("sqlite", {"path": str(path), "busy_timeout_ms": 50})) as store:
            await store.record_logged([application("a", "r1", T0)], ["e1"], LOG_START)
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(Unavailable):
                await store.record_logged([application("a", "r2", T0)], ["e2"], LOG_START)
            with pytest.raises(Unavailable):
                await store.add_marker(marker("m1", "a"))
            other.execute("ROLLBACK")
            other.close()
            [again], entries = await store.record_logged([application("a", "r2", T0)], ["e2"], LOG_START)
            assert again.newly_recorded and [e for _, e in entries] == ["e1", "e2"]

    asyncio.run(main())


# -- redis specifics: key layout, round trips ------------------------------------------------
_KEY = re.compile(
    r"^lf:(members|\{probe:\d+\}|\{m:[^}]+\}:(member|markers|app:.+)|\{t:[^}]+\}:markers|\{k:[^}]+\}|\{log\}:events)$"
)


def test_redis_keys_carry_hash_tags(redis_url: str) -> None:
    async def main() -> None:
        async with opened(Backend("redis", {"url": redis_url})) as store:
            await store.add_member(member("a"))
            await workload(store, _fused, steps=40)
        keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*")]  # type: ignore[union-attr]
        assert keys and all(_KEY.match(k) for k in keys), [k for k in keys if not _KEY.match(k)]

    asyncio.run(main())


@pytest.mark.parametrize("link", [True, False])
def test_redis_check_is_one_round_trip(redis_url: str, monkeypatch: pytest.MonkeyPatch, link: bool) -> None:
    """One round trip per Check and per BatchCheck over either transport (the link, or redis-py's
    pipeline), also when Redis lost its scripts (NOSCRIPT: one more, to reload them)."""
    monkeypatch.setattr(redis_store, "_USE_LINK", link)
    trips: list[str] = []

    def counting(name: str, original: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            trips.append(name)
            return await original(*args, **kwargs)

        return wrapper

    async def main() -> None:
        async with opened(Backend("redis", {"url": redis_url})) as store:
            _, entries = await store.record_logged([application("b", "warm-up", T0, *TOKENS)], ["w"], LOG_START)
            await store.add_marker(marker("m1", "c", TOKENS[2]))
            cursor = entries[-1][0]
            pipeline, client = aioredis.client.Pipeline, aioredis.Redis
            monkeypatch.setattr(pipeline, "execute", counting("pipeline", pipeline.execute))
            monkeypatch.setattr(client, "execute_command", counting("command", client.execute_command))
            monkeypatch.setattr(RedisLink, "_request", counting("link", RedisLink._request))
            trip = "link" if link else "pipeline"
            [snap], _ = await store.record_logged([application("a", "r", T0 + 1, *TOKENS)], ["c1"], cursor)
            [retry], _ = await store.record_logged([application("a", "r", T0 + 2, *TOKENS)], ["c2"], cursor)
            assert trips == [trip] * 2
            trips.clear()
            batch = [application("c", f"b{i}", T0 + 3, *TOKENS) for i in range(40)]
            snapshots, entries = await store.record_logged(batch, ["b"] * 40, cursor)
            assert trips == [trip] and len(snapshots) == 40 and [e for _, e in entries][-40:] == ["b"] * 40
            redis.Redis.from_url(redis_url).script_flush()
            trips.clear()
            [fresh], _ = await store.record_logged([application("d", "r", T0 + 4, *TOKENS)], ["c3"], cursor)
            assert (
                trips[0] == trip and fresh.newly_recorded and [m.marker_id for m in fresh.markers[TOKENS[2]]] == ["m1"]
            )
        assert snap.newly_recorded and not retry.newly_recorded and retry.received_at == T0 + 1

    asyncio.run(main())


def test_redis_purge_deletes_old_records_in_steps(redis_url: str) -> None:
    async def main() -> None:
        async with opened(Backend("redis", {"url": redis_url})) as store:
            for i in range(450):  # more than one step of the scan
                await store.record_application(application("abc"[i % 3], f"r{i}", T0 - 200 * DAY + i, PHONE))
            await store.record_application(application("a", "kept", T0, PHONE))
            await store.add_marker(marker("m1", "a"))
            assert await store.purge_applications(T0 - DAY) == 450
            assert await store.get_application("a", "kept") is not None
            assert await store.get_marker("m1") is not None
            assert await store.purge_applications(T0 - DAY) == 0

    asyncio.run(main())


def test_redis_purge_unlinks_the_per_token_indexes_of_earlier_versions(redis_url: str) -> None:
    """A store written by a version that kept stacking in Redis sheds those keys on its first
    retention run; markers, records and the log stay."""
    client = redis.Redis.from_url(redis_url)
    legacy = [f"lf:{{t:{PHONE}}}:apps", f"lf:{{t:{PHONE}}}:seen", f"lf:{{t:{PHONE}}}:apps:a", f"lf:{{t:{DEVICE}}}:apps"]
    for key in legacy:
        client.zadd(key, {"a\x1fr": T0})

    async def main() -> None:
        async with opened(Backend("redis", {"url": redis_url})) as store:
            await store.add_marker(marker("m1", "a", PHONE))
            await store.record_logged([application("a", "r", T0, PHONE)], ["e"], LOG_START)
            assert await store.purge_applications(T0 - DAY) == 0
            assert await store.get_marker("m1") is not None and await store.get_application("a", "r") is not None
            assert [e for _, e in await store.log_events(LOG_START, 10)] == ["e"]

    asyncio.run(main())
    assert client.exists(*legacy) == 0 and client.exists(f"lf:{{t:{PHONE}}}:markers") == 1
    client.close()


# -- registry --------------------------------------------------------------------------------
def test_registry_names_kinds_and_options(tmp_path: Path) -> None:
    assert set(STORE_TYPES) == {"sqlite", "redis"}
    with pytest.raises(ValueError, match="known stores: redis, sqlite"):
        open_store("mongo", {})
    with pytest.raises(ValueError, match=r"no option 'host'.*url, key_prefix"):
        open_store("redis", {"host": "x"})
    with pytest.raises(ValueError, match="busy_timeout_ms"):
        open_store("sqlite", {"busy_timeout_ms": "soon"})
    store = open_store("sqlite", {"path": str(tmp_path / "x.db"), "busy_timeout_ms": "100"})
    assert store.name == "sqlite" and store.config.busy_timeout_ms == 100  # type: ignore[attr-defined]
    asyncio.run(store.close())
