"""Quotas, rate limits and give-to-get at a real hub: the right status, retry information, and
the way back; admins see each member's figures and scraping flags."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from clients.audit import AuditClient
from clients.credentials import JwtSigner, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from consortium.records import ApplicationRecord, token_key
from consortium.retention import retention_event
from consortium.rings import RingTracker, application_event, marker_event
from consortium.store.base import LOG_START
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from consortium.transparency import QueryCounts
from consortium.usage import RecentChecks, UsageGuard
from graph import LinkPolicy
from runtime.clock import ManualClock
from tests.support.consortium import check_request, log_refusing_appends, phone, rid

RID = token_key(1, common_pb2.TOKEN_TYPE_RESIDENT_ID, 1, b"\x01" * 16)
RID_TYPE, PHONE_TYPE, IP_TYPE = common_pb2.TOKEN_TYPE_RESIDENT_ID, common_pb2.TOKEN_TYPE_PHONE, common_pb2.TOKEN_TYPE_IP


async def consortium(tmp_path: Path, clock: ManualClock, **hub_options: Any) -> LocalConsortium:
    return await start_local_consortium(tmp_path, ["lender-a", "lender-b"], clock=clock, hub_options=hub_options)


async def raw_check(c: LocalConsortium, ref: str) -> grpc.aio.AioRpcError | None:
    """A Check through a bare stub, to read the status details."""
    channel = c.hub_channel("lender-a")
    try:
        await consortium_pb2_grpc.ConsortiumServiceStub(channel).Check(
            check_request(ref, phone(7)), metadata=c.members["lender-a"].hub_client.signer.metadata(), timeout=5
        )
        return None
    except grpc.aio.AioRpcError as error:
        return error
    finally:
        await channel.close()


def retry_seconds(error: grpc.aio.AioRpcError) -> float:
    (raw,) = [v for k, v in error.trailing_metadata() if k == "grpc-status-details-bin"]
    info = error_details_pb2.RetryInfo()
    assert status_pb2.Status.FromString(raw).details[0].Unpack(info)
    return info.retry_delay.ToNanoseconds() / 1e9


async def test_daily_quota_with_retry_at_midnight(tmp_path: Path) -> None:
    clock = ManualClock(1_767_225_600.0 + 20 * 3600)  # 20:00 UTC
    c = await consortium(tmp_path, clock, daily_check_quota=3)
    try:
        for i in range(3):
            assert await raw_check(c, f"q-{i}") is None
        error = await raw_check(c, "q-3")
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert retry_seconds(error) == pytest.approx(4 * 3600)
        assert await c.hub.store.get_application("lender-a", "q-3") is None  # refused, not recorded
        other = await c.members["lender-b"].hub_client.check_request(check_request("b-1", phone(7)))
        assert other.newly_recorded  # another member's quota is its own
        # a retry counts nothing: a node whose reply was lost still gets its answer, in a batch too
        a = c.members["lender-a"].hub_client
        assert not (await a.check_request(check_request("q-1", phone(7)))).newly_recorded
        retried = await a.batch_check([check_request("q-0", phone(7)), check_request("q-2", phone(7))])
        assert [r.newly_recorded for r in retried.results] == [False, False]
        with pytest.raises(LianfangRpcError) as mixed:  # one new among retries: over the quota
            await a.batch_check([check_request("q-0", phone(7)), check_request("q-5", phone(7))])
        assert mixed.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await c.hub.store.get_application("lender-a", "q-5") is None
        clock.advance(4 * 3600)  # the next UTC day
        assert await raw_check(c, "q-4") is None
    finally:
        await c.stop()


async def test_an_admin_gives_one_member_its_own_daily_quota(tmp_path: Path) -> None:
    """A member's own quota replaces the hub's default for it alone, is audited, survives a hub
    restart (it is in the log), and goes back to the default when unset."""
    clock = ManualClock(1_767_225_600.0 + 8 * 3600)
    c = await consortium(tmp_path, clock, daily_check_quota=3)
    try:
        usage = await c.admin.set_member_quota("lender-a", 5, "larger book from January")
        assert (usage.member_id, usage.daily_check_quota, usage.own_quota) == ("lender-a", 5, True)
        for i in range(5):
            assert await raw_check(c, f"own-{i}") is None
        error = await raw_check(c, "own-5")
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "daily quota of 5" in (error.details() or "")
        b = c.members["lender-b"].hub_client
        for i in range(3):
            await b.check_request(check_request(f"b-{i}", phone(i)))
        with pytest.raises(LianfangRpcError) as refused:  # lender-b keeps the hub's default
            await b.check_request(check_request("b-3", phone(3)))
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "daily quota of 3" in refused.value.message

        await c.restart_hub()  # the quota is in the log: a restarted hub (or a replica) has it
        rows = {u.member_id: u for u in await c.admin.list_usage()}
        assert (rows["lender-a"].daily_check_quota, rows["lender-a"].own_quota) == (5, True)
        assert (rows["lender-b"].daily_check_quota, rows["lender-b"].own_quota) == (3, False)
        assert (await raw_check(c, "own-6")).code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[union-attr]

        unlimited = await c.admin.set_member_quota("lender-b", 0)
        assert (unlimited.daily_check_quota, unlimited.own_quota) == (0, True)
        await b.check_request(check_request("b-4", phone(4)))  # 0: unlimited
        back = await c.admin.set_member_quota("lender-a", None, "back to the default")
        assert (back.daily_check_quota, back.own_quota) == (3, False)

        for member, quota, reason, fields in (
            ("no-such-member", 5, "", None),
            ("BAD", 5, "", {"member_id"}),
            ("lender-a", 2_000_000_000, "", {"daily_check_quota"}),
            ("lender-a", 5, "called 13800138000", {"reason"}),
        ):
            with pytest.raises(LianfangRpcError) as err:
                await c.admin.set_member_quota(member, quota, reason)
            if fields is None:
                assert err.value.code == grpc.StatusCode.NOT_FOUND
            else:
                assert {v.field for v in err.value.violations} == fields
        channel = c.hub_channel("lender-a")
        try:  # admins only: a member raising its own quota is refused
            with pytest.raises(grpc.aio.AioRpcError) as raw:
                await consortium_pb2_grpc.AdminServiceStub(channel).SetMemberQuota(
                    consortium_pb2.SetMemberQuotaRequest(member_id="lender-a", daily_check_quota=10**6),
                    metadata=c.members["lender-a"].hub_client.signer.metadata(),
                    timeout=5,
                )
            assert raw.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            await channel.close()

        admin = AuditClient(
            c.hub_channel("admin/demo"), JwtSigner("admin/demo", load_private_key(tmp_path / "keys" / "admin.pem"))
        )
        entries = [json.loads(e) for e in await admin.entries(0, 1000)]
        await admin.close()
        quota_entries = [e for e in entries if e[0] == "q"]
        assert [(e[1], e[2], e[3]) for e in quota_entries] == [
            ("admin/demo", "lender-a", 5),
            ("admin/demo", "lender-b", 0),
            ("admin/demo", "lender-a", None),
        ]
    finally:
        await c.stop()


async def test_subject_access_requests_count_against_the_daily_quota(tmp_path: Path) -> None:
    """SubjectAccess looks tokens up as a Check does: each request uses the day's quota (no free
    enumeration of who was checked), and a Check after them is refused."""
    clock = ManualClock(1_767_225_600.0 + 8 * 3600)
    c = await consortium(tmp_path, clock, daily_check_quota=3)
    a = AuditClient(c.hub_channel("lender-a"), JwtSigner("lender-a", load_private_key(c.members["lender-a"].key_file)))
    try:
        assert await raw_check(c, "q-0") is None
        for i in range(2):
            await a.subject_access([rid(100 + i)], request_ref="sar-7")
        with pytest.raises(LianfangRpcError) as refused:
            await a.subject_access([rid(200)], request_ref="sar-8")
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        error = await raw_check(c, "q-1")
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        clock.advance(16 * 3600)  # the next UTC day
        assert await raw_check(c, "q-2") is None
    finally:
        await a.close()
        await c.stop()


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_concurrent_checks_never_overshoot_the_daily_quota(
    tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    """Checks count once their log entry is folded, after the store's round trip: on Redis many
    wait on it at once. Admitted ones count as in flight meanwhile, so of 12 concurrent Checks
    (and then batches) against a quota of 5, exactly 5 are answered."""
    clock = ManualClock(1_767_225_600.0 + 8 * 3600)
    url = request.getfixturevalue("redis_url") if store == "redis" else ""
    c = await start_local_consortium(
        tmp_path, ["lender-a"], clock=clock, store_url=url, hub_options={"daily_check_quota": 5}
    )
    a = c.members["lender-a"].hub_client
    try:
        answers = await asyncio.gather(
            *(a.check_request(check_request(f"c-{i}", phone(i))) for i in range(12)), return_exceptions=True
        )
        refused = [x for x in answers if isinstance(x, LianfangRpcError)]
        assert len(answers) - len(refused) == 5
        assert {x.code for x in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        clock.advance(86_400)
        batches = await asyncio.gather(
            *(a.batch_check([check_request(f"b-{i}-{j}", phone(j)) for j in range(2)]) for i in range(6)),
            return_exceptions=True,
        )
        assert sum(not isinstance(x, BaseException) for x in batches) == 2  # 2 x 2 Checks; a third would be 6
    finally:
        await c.stop()


async def test_rate_limit_per_member(tmp_path: Path) -> None:
    c = await consortium(tmp_path, ManualClock(), checks_per_second=0.5, check_burst=2)
    try:
        assert await raw_check(c, "r-0") is None and await raw_check(c, "r-1") is None
        error = await raw_check(c, "r-2")
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert 0 < retry_seconds(error) <= 2.0
        resent = await raw_check(c, "r-1")  # a retry costs the hub as much: the rate limit holds it too
        assert resent is not None and resent.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # A batch counts each of its Checks: one above the burst passes once, then leaves a debt.
        b = c.members["lender-b"].hub_client
        await b.batch_check([check_request(f"b-{i}", rid(i)) for i in range(3)])
        with pytest.raises(LianfangRpcError) as later:
            await b.check_request(check_request("b-3", rid(3)))
        assert later.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await c.stop()


async def test_give_to_get_refuses_takers_until_they_contribute(tmp_path: Path) -> None:
    c = await consortium(tmp_path, ManualClock(), give_to_get_floor=0.6, give_to_get_grace=2)
    a = c.members["lender-a"].hub_client
    try:
        await a.check_request(check_request("g-0", phone(1)))
        await a.check_request(check_request("g-1", phone(2)))
        with pytest.raises(LianfangRpcError) as refused:
            await a.check_request(check_request("g-2", phone(3)))
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "give-to-get" in refused.value.message and "ReportOutcome" in refused.value.message
        assert not (await a.check_request(check_request("g-1", phone(2)))).newly_recorded  # a retry is answered
        for _ in range(5):  # reporting the same application again and again counts once
            await a.report_outcome("g-0", common_pb2.OUTCOME_APPROVED)
        with pytest.raises(LianfangRpcError):
            await a.check_request(check_request("g-2", phone(3)))
        await a.report_outcome("g-1", common_pb2.OUTCOME_DECLINED)
        assert (await a.check_request(check_request("g-2", phone(3)))).newly_recorded
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        assert (usage["lender-a"].checks, usage["lender-a"].outcomes_reported) == (3, 2)
        assert usage["lender-a"].contribution_ratio == pytest.approx(2 / 3)
    finally:
        await c.stop()


async def test_markers_filed_and_withdrawn_are_no_contribution_and_protective_ones_are(tmp_path: Path) -> None:
    """Give-to-get cannot be bought with junk: markers filed and withdrawn at once (as a taker
    would, on made-up tokens) count nothing, nor do markers that stand on tokens none of the
    member's applications carried; a protective marker (victim of impersonation) filed from the
    member's own application is a contribution, and it and every withdrawal are entries of the
    audit log."""
    c = await consortium(tmp_path, ManualClock(), give_to_get_floor=0.6, give_to_get_grace=2)
    a = c.members["lender-a"].hub_client
    try:
        await a.check_request(check_request("g-0", phone(1)))
        await a.check_request(check_request("g-1", phone(2)))
        logged = c.hub.rings.applied
        for i in range(20):
            junk = await a.file_marker(rid(1000 + i), common_pb2.MARKER_TYPE_SUSPECT, "MULE")
            await a.withdraw_marker(junk.marker_id, "filed by mistake")
        assert c.hub.rings.applied == logged + 60  # each filing; each withdrawal and the token's state
        with pytest.raises(LianfangRpcError) as refused:
            await a.check_request(check_request("g-2", phone(3)))
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        assert (usage["lender-a"].markers_filed, usage["lender-a"].contribution_ratio) == (0, 0.0)
        victim = common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION
        for i in range(4):  # standing, but on tokens it never saw (or not on the application it names)
            await a.file_marker(rid(2000 + i), victim, "JUNK", application_ref="g-0" if i % 2 else "")
        assert c.hub.rings.applied == logged + 64  # protective filings are audited too
        with pytest.raises(LianfangRpcError) as refused:
            await a.check_request(check_request("g-2", phone(3)))
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        protective = await a.file_marker(phone(1), victim, "ID_CARD_STOLEN", application_ref="g-0")
        await a.file_marker(phone(2), victim, "ID_CARD_STOLEN", application_ref="g-1")
        assert (await a.check_request(check_request("g-2", phone(3)))).newly_recorded  # 2 of 2: admitted
        await a.withdraw_marker(protective.marker_id, "the customer found the card")
        await a.withdraw_marker(protective.marker_id, "again: the first withdrawal stands")
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        assert (usage["lender-a"].markers_filed, usage["lender-a"].checks) == (5, 3)  # 4 junk + 1 standing
        assert usage["lender-a"].contribution_ratio == pytest.approx(1 / 3)  # only the one from g-1
        assert c.hub.rings.applied == logged + 68  # the Check and one withdrawal; the repeat logs nothing
    finally:
        await c.stop()


async def test_an_applications_markers_count_once_however_many(tmp_path: Path) -> None:
    """One Check (with as many made-up tokens as it may carry) cannot buy query rights by the
    dozen: its markers, on one token again and again or on each of its tokens, are one
    contribution while any stands, none once all are withdrawn."""
    clock = ManualClock()
    c = await consortium(tmp_path, clock, give_to_get_floor=0.6, give_to_get_grace=2)
    a = c.members["lender-a"].hub_client
    victim = common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION
    try:
        await a.check_request(check_request("g-0", *[phone(n) for n in range(40)]))
        await a.check_request(check_request("g-1", phone(100)))
        filed = []
        for n in [1] * 5 + list(range(2, 40)):  # the same token again and again, then every other one
            clock.advance(1)
            filed.append(await a.file_marker(phone(n), victim, "ID_CARD_STOLEN", application_ref="g-0"))
        usage = {u.member_id: u for u in await c.admin.list_usage()}["lender-a"]
        assert (usage.markers_filed, usage.contribution_ratio) == (43, pytest.approx(1 / 2))
        with pytest.raises(LianfangRpcError) as refused:  # 1 of 2 is below 0.6
            await a.check_request(check_request("g-2", phone(200)))
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        for marker in filed[:-1]:
            await a.withdraw_marker(marker.marker_id, "filed by mistake")
        usage = {u.member_id: u for u in await c.admin.list_usage()}["lender-a"]
        assert (usage.markers_filed, usage.contribution_ratio) == (1, pytest.approx(1 / 2))  # one still stands
        await a.withdraw_marker(filed[-1].marker_id, "filed by mistake")
        usage = {u.member_id: u for u in await c.admin.list_usage()}["lender-a"]
        assert (usage.markers_filed, usage.contribution_ratio) == (0, 0.0)
    finally:
        await c.stop()


async def test_a_withdrawal_the_log_refused_is_logged_by_its_retry(tmp_path: Path) -> None:
    """The store takes the withdrawal, the log refuses the append: the call fails, and its retry
    (the marker already withdrawn) still logs the token's state and the withdrawal, so rings stop
    counting the marker and its filer's contribution goes."""
    c = await consortium(tmp_path, ManualClock())
    a = c.members["lender-a"].hub_client
    try:
        marker = await a.file_marker(rid(40), common_pb2.MARKER_TYPE_SUSPECT, "MULE")
        token_key_ = next(iter(c.hub.rings.negative_tokens))
        with log_refusing_appends(c.hub.store), pytest.raises(LianfangRpcError):
            await a.withdraw_marker(marker.marker_id, "filed by mistake")
        assert (await c.hub.store.get_marker(marker.marker_id)).withdrawn_at is not None  # type: ignore[union-attr]
        assert token_key_ in c.hub.rings.negative_tokens  # the log never heard of it
        await a.withdraw_marker(marker.marker_id, "filed by mistake")
        assert token_key_ not in c.hub.rings.negative_tokens
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        assert usage["lender-a"].markers_filed == 0
    finally:
        await c.stop()


async def test_admins_see_members_that_look_like_scrapers(tmp_path: Path) -> None:
    c = await consortium(tmp_path, ManualClock(), scraping_checks=5, give_to_get_floor=0.9, give_to_get_grace=100)
    try:
        batch = [check_request(f"s-{i}", rid(100 + i)) for i in range(6)]
        await c.members["lender-a"].hub_client.batch_check(batch)
        b = c.members["lender-b"].hub_client
        await b.check_request(check_request("honest", rid(1)))
        for i in range(5):  # real applications carry more than an ID number
            await b.check_request(check_request(f"full-{i}", rid(200 + i), phone(200 + i)))
        await b.report_outcome("honest", common_pb2.OUTCOME_FUNDED)
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        # six Checks of an ID number alone, never an outcome: both patterns
        assert list(usage["lender-a"].flags) == ["SCRAPING_SUSPECTED", "ENUMERATION_SUSPECTED"]
        assert list(usage["lender-b"].flags) == []
        assert usage["lender-a"].checks_today == 6
    finally:
        await c.stop()


async def test_a_check_recorded_twice_counts_once(tmp_path: Path) -> None:
    """A Check resent to another replica after the first recorded it: two identical "a" entries
    in the log (written straight into the shared store here, as the other replica would)."""
    clock = ManualClock()
    c = await consortium(tmp_path, clock, daily_check_quota=2)
    try:
        await c.members["lender-b"].hub_client.check_request(check_request("b-1", phone(7)))
        assert await raw_check(c, "q-1") is None
        entries = await c.hub.store.log_events(LOG_START, 100_000)
        (first,) = [e for _, e in entries if json.loads(e)[:3] == ["a", "lender-a", "q-1"]]
        await c.hub.store.append_log_events([first], entries[-1][0])  # the other replica's recording
        assert await raw_check(c, "q-2") is None  # the quota of 2 still has room: q-1 counted once
        usage = {u.member_id: u for u in await c.admin.list_usage()}
        assert (usage["lender-a"].checks, usage["lender-a"].checks_today) == (2, 2)
        error = await raw_check(c, "q-3")
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await c.stop()


async def test_query_counts_and_usage_fold_a_repeated_check_once(tmp_path: Path) -> None:
    store = SqliteStore(SqliteStoreConfig(path=str(tmp_path / "hub.db")))
    try:
        tracker = RingTracker(store)
        usage, queries = UsageGuard(), QueryCounts(tracker.index, tracker.stacking)
        tracker.observers = (usage.observe, queries.observe)
        t0 = ManualClock()()
        contributed = application_event(ApplicationRecord("lender-b", "b-1", t0, (RID,)), tracker.policy)
        check = application_event(ApplicationRecord("lender-a", "a-1", t0 + 1, (RID,)), tracker.policy)
        await tracker.publish([contributed, check, check])  # the same Check twice in the log
        assert usage.members["lender-a"].checks == 1 and sum(usage.members["lender-a"].by_day.values()) == 1
        assert queries.of("lender-b") == {"lender-a": 1}
        # The next day the same application checked again is a new Check.
        later = application_event(ApplicationRecord("lender-a", "a-1", t0 + 3 * 86_400, (RID,)), tracker.policy)
        await tracker.publish([later])
        assert usage.members["lender-a"].checks == 2 and queries.of("lender-b") == {"lender-a": 2}
    finally:
        await store.close()


class WalkedQueryCounts:
    """The definition: a Check's contributors are the other members of the applications that
    share one of its linking tokens below its cap, walked in the ring index."""

    def __init__(self, tracker: RingTracker) -> None:
        self.tracker = tracker
        self.by_contributor: dict[str, Counter[str]] = {}
        self._checked = RecentChecks()

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded or decoded[0] != "a" or not self._checked.first(decoded[1], decoded[2], decoded[3]):
            return
        index, at = self.tracker.index, float(decoded[3])
        linked = [index.policy.index_token(token, at) for token in decoded[4]]  # an IP: its day's token
        contributors = {
            meta.member_id
            for token in linked
            if not index.is_hub_token(token)
            for other in index.apps_of(token)
            if (meta := index.meta(other)) is not None and meta.member_id != decoded[1]
        }
        for contributor in contributors:
            self.by_contributor.setdefault(contributor, Counter())[decoded[1]] += 1


@pytest.mark.parametrize("reader_links_phones", [True, False])
def test_query_counts_are_the_walk_of_the_linked_applications(reader_links_phones: bool) -> None:
    """Contributors come from the stacking index's members per token: the same as walking the
    ring index, whatever the retries, hub tokens (the three busy phones) and retention passes,
    IPs linked within their day, and when the log was written under a policy that linked a
    type this process's does not."""

    def key(token_type: int, n: int) -> str:
        return token_key(1, token_type, 1, n.to_bytes(16, "big"))

    rng = random.Random(6)
    writer = LinkPolicy()
    caps = {t: cap for t, cap in writer.caps.items() if reader_links_phones or t != PHONE_TYPE}
    tracker = RingTracker(None, LinkPolicy(caps))  # type: ignore[arg-type]  # fed by apply(), no store
    queries, walked = QueryCounts(tracker.index, tracker.stacking), WalkedQueryCounts(tracker)
    tracker.observers = (queries.observe, walked.observe)
    t0 = ManualClock()()
    events: list[str] = []
    for n in range(1500):
        if n % 400 == 399:
            events.append(retention_event(t0 + n * 60 - 200 * 60))
            continue
        tokens = (
            key(RID_TYPE, rng.randrange(40)),
            key(PHONE_TYPE, rng.randrange(25)),
            key(PHONE_TYPE, 100 + rng.randrange(3)),
            key(IP_TYPE, rng.randrange(30)),  # linked per day: 1,500 minutes span two
        )
        app = ApplicationRecord(f"lender-{rng.randrange(4)}", f"r{n}", t0 + n * 60, tokens)
        events.append(application_event(app, writer))
        if rng.random() < 0.1:
            events.append(events[-1])  # a retried Check: queried once
    tracker.apply(((i + 1, 0), e) for i, e in enumerate(events))
    assert queries.by_contributor == walked.by_contributor
    assert sum(sum(c.values()) for c in queries.by_contributor.values()) > 1000


async def test_a_marker_filing_repeated_in_the_log_counts_once(tmp_path: Path) -> None:
    store = SqliteStore(SqliteStoreConfig(path=str(tmp_path / "hub.db")))
    try:
        tracker = RingTracker(store)
        usage = UsageGuard()
        tracker.observers = (usage.observe,)
        t0 = ManualClock()()
        filed = marker_event(RID, True, "lender-b", t0)
        await tracker.publish([filed, filed])  # one filing, its entry appended twice (a retry)
        assert usage.members["lender-b"].markers == 1 and usage.members["lender-b"].contributions == 1
        await tracker.publish([marker_event(RID, True, "lender-b", t0 + 60)])  # a second filing
        assert usage.members["lender-b"].markers == 2
    finally:
        await store.close()
