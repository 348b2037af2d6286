"""Disputes through a real hub: a marker an admin or its filer disputes stops counting in Check
while the dispute is open (another member's dispute only labels it), shows DISPUTED to its
filer, is withdrawn / corrected / upheld by an admin, with overdue disputes surfaced; every step
lands in the audit log."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2

from clients.demo.consortium import LocalConsortium
from clients.errors import LianfangRpcError
from consortium.disputes import INTENT_LEASE_SECONDS
from consortium.store.sqlite import SqliteStore
from runtime.clock import ManualClock
from tests.support.consortium import check_request, hub_on_store, log_refusing_appends, rid, token

DAY = 86_400.0


@pytest.fixture(params=["sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, ["lender-a", "lender-b"]) as pair:
        yield pair


async def hits(c: LocalConsortium, ref: str, n: int) -> list[str]:
    answer = await c.members["lender-b"].hub_client.check_request(check_request(ref, rid(n)))
    return [r.code for r in answer.reasons if r.code.startswith("BLACKLIST")]


async def file(c: LocalConsortium, n: int) -> str:
    marker = await c.members["lender-a"].hub_client.file_marker(
        rid(n),
        common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
        "FORGED_DOCUMENTS",
        evidence_level=common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
    )
    return marker.marker_id


def correct(c: LocalConsortium, dispute_id: str, reason_code: str) -> Awaitable[common_pb2.Dispute]:
    """An admin's CORRECT of the dispute to a SUSPECT marker with ``reason_code``."""
    return c.admin.resolve_dispute(
        dispute_id,
        common_pb2.DISPUTE_RESOLUTION_CORRECT,
        "downgraded after review",
        corrected_marker_type=common_pb2.MARKER_TYPE_SUSPECT,
        corrected_reason_code=reason_code,
    )


async def test_a_dispute_suspends_the_marker_until_it_is_upheld(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    marker_id = await file(c, 1)
    assert await hits(c, "before", 1) == ["BLACKLIST_CONFIRMED_FRAUD"]
    dispute = await c.admin.open_dispute(marker_id, "我从未申请过这笔贷款 (I never applied)")
    assert dispute.raised_by == "admin/demo" and dispute.deadline.seconds - dispute.opened_at.seconds == 20 * DAY
    assert dispute.suspends_marker
    assert await hits(c, "during", 1) == []  # no effect while disputed
    (mine,) = await c.members["lender-a"].hub_client.list_my_markers()
    assert mine.status == common_pb2.MARKER_STATUS_DISPUTED
    with pytest.raises(LianfangRpcError) as again:
        await c.members["lender-b"].hub_client.raise_dispute(marker_id, "a second dispute of the same marker")
    assert again.value.code == grpc.StatusCode.FAILED_PRECONDITION
    clock.advance(21 * DAY)
    (listed,) = await c.admin.list_disputes()
    assert listed.overdue
    upheld = await c.admin.resolve_dispute(
        dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "police report verified"
    )
    assert upheld.resolution == common_pb2.DISPUTE_RESOLUTION_UPHOLD and not upheld.overdue
    assert await hits(c, "after", 1) == ["BLACKLIST_CONFIRMED_FRAUD"]
    assert await c.admin.list_disputes() == []
    assert len(await c.admin.list_disputes(include_resolved=True)) == 1
    with pytest.raises(LianfangRpcError) as done:
        await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "changed my mind")
    assert done.value.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_another_members_dispute_labels_the_marker_but_leaves_it_in_force(hub) -> None:  # type: ignore[no-untyped-def]
    """Any member may pass a data subject's dispute on, but only the admin or the marker's filer
    may suspend it: otherwise one lender (or one clerk) could switch off any member's fraud
    marker for the 20 days, again and again."""
    c, _ = hub
    marker_id = await file(c, 4)  # lender-a's
    dispute = await c.members["lender-b"].hub_client.raise_dispute(marker_id, "I never applied there")
    assert dispute.raised_by == "lender-b" and not dispute.suspends_marker
    answer = await c.members["lender-b"].hub_client.check_request(check_request("taken", rid(4)))
    [hit] = answer.blacklist  # still in force, and said to be contested
    assert hit.filing_members == 1 and hit.disputed_filings == 1
    assert "disputed by the data subject" in next(r.detail for r in answer.reasons if r.code.startswith("BLACKLIST"))
    (mine,) = await c.members["lender-a"].hub_client.list_my_markers()
    assert mine.status == common_pb2.MARKER_STATUS_DISPUTED  # labelled for its filer to verify
    (listed,) = await c.admin.list_disputes()
    assert listed.dispute_id == dispute.dispute_id and not listed.suspends_marker
    # the admin (or the filer) disputing it too suspends the open dispute rather than a second one
    suspended = await c.admin.open_dispute(marker_id, "the police case number checks out; suspend meanwhile")
    assert suspended.dispute_id == dispute.dispute_id and suspended.suspends_marker
    assert await hits(c, "suspended", 4) == []
    with pytest.raises(LianfangRpcError) as again:
        await c.members["lender-a"].hub_client.raise_dispute(marker_id, "and again")
    assert again.value.code == grpc.StatusCode.FAILED_PRECONDITION
    await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "verified: it was them")
    assert await hits(c, "resolved", 4) == ["BLACKLIST_CONFIRMED_FRAUD"]
    relabel = await c.members["lender-b"].hub_client.raise_dispute(marker_id, "I still never applied")
    assert not relabel.suspends_marker and await hits(c, "relabelled", 4) == ["BLACKLIST_CONFIRMED_FRAUD"]
    await c.admin.resolve_dispute(relabel.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "new evidence")
    assert await hits(c, "withdrawn", 4) == []
    await c.restart_hub()  # folded from the log the same way
    own = await c.members["lender-a"].hub_client.raise_dispute(await file(c, 5), "the filer's own second look")
    assert own.suspends_marker and await hits(c, "own", 5) == []


async def test_withdraw_and_correct(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    wrong = await file(c, 2)
    d1 = await c.admin.open_dispute(wrong, "identity theft victim; the police case is attached")
    withdrawn = await c.admin.resolve_dispute(d1.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "a mistaken match")
    assert withdrawn.resolution == common_pb2.DISPUTE_RESOLUTION_WITHDRAW
    assert await hits(c, "w", 2) == []
    (gone,) = await c.members["lender-a"].hub_client.list_my_markers(include_inactive=True)
    assert gone.status == common_pb2.MARKER_STATUS_WITHDRAWN

    overstated = await file(c, 3)
    d2 = await c.members["lender-a"].hub_client.raise_dispute(overstated, "it was a late payment, not fraud")
    corrected = await c.admin.resolve_dispute(
        d2.dispute_id,
        common_pb2.DISPUTE_RESOLUTION_CORRECT,
        "downgraded after review",
        corrected_marker_type=common_pb2.MARKER_TYPE_SUSPECT,
        corrected_reason_code="LATE_PAYMENT_REVIEW",
    )
    assert corrected.corrected_marker_id and corrected.corrected_marker_id != overstated
    assert await hits(c, "c", 3) == ["BLACKLIST_SUSPECT"]
    mine = {m.marker_id: m for m in await c.members["lender-a"].hub_client.list_my_markers(include_inactive=True)}
    assert mine[corrected.corrected_marker_id].filer_member_id == "lender-a"  # the filer still owns it
    assert mine[overstated].status == common_pb2.MARKER_STATUS_WITHDRAWN
    # Give-to-get: the marker withdrawn as wrong is no contribution; the corrected one still is.
    usage = {u.member_id: u for u in await c.admin.list_usage()}
    assert usage["lender-a"].markers_filed == 1


async def test_bad_dispute_requests(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    marker_id = await file(c, 4)
    cases = [
        (c.admin.open_dispute("mk_nope", "x"), grpc.StatusCode.NOT_FOUND),
        (c.admin.open_dispute(marker_id, ""), grpc.StatusCode.INVALID_ARGUMENT),
        (c.admin.resolve_dispute("dp_nope", common_pb2.DISPUTE_RESOLUTION_UPHOLD, "n"), grpc.StatusCode.NOT_FOUND),
        (c.admin.resolve_dispute("dp_nope", 0, "n"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            c.admin.resolve_dispute("dp_nope", common_pb2.DISPUTE_RESOLUTION_CORRECT, "n"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for call, code in cases:
        with pytest.raises(LianfangRpcError) as err:
            await call
        assert err.value.code == code
    await c.members["lender-a"].hub_client.withdraw_marker(marker_id, "filed in error")
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.open_dispute(marker_id, "too late")
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_dispute_outliving_its_purged_marker_can_still_be_closed(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    marker = await c.members["lender-a"].hub_client.file_marker(rid(9), common_pb2.MARKER_TYPE_SUSPECT, "SHORT_LIVED")
    dispute = await c.admin.open_dispute(marker.marker_id, "please check")
    clock.advance(6 * 365 * DAY)  # the marker expires, and the retention job purges it
    assert [m.marker_id for m in await c.hub.store.purge_markers(clock())] == [marker.marker_id]
    with pytest.raises(LianfangRpcError) as nothing:
        await c.admin.resolve_dispute(
            dispute.dispute_id,
            common_pb2.DISPUTE_RESOLUTION_CORRECT,
            "too late",
            corrected_marker_type=common_pb2.MARKER_TYPE_SUSPECT,
            corrected_reason_code="X_Y",
        )
    assert nothing.value.code == grpc.StatusCode.FAILED_PRECONDITION
    closed = await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "expired")
    assert closed.resolution == common_pb2.DISPUTE_RESOLUTION_WITHDRAW


async def test_a_withdrawal_unflags_a_ring_when_only_a_disputed_marker_is_left(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "dispute-tablet")
    first = await a.file_marker(device, common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")
    second = await b.file_marker(device, common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")
    await a.check_request(check_request("ring-1", rid(41), device))
    assert (await b.check_request(check_request("ring-2", rid(42), device))).ring.blacklisted == 2
    await c.admin.open_dispute(second.marker_id, "the tablet was stolen from the shop")
    assert (await a.check_request(check_request("ring-3", rid(43), device))).ring.blacklisted == 3  # a's stands
    await a.withdraw_marker(first.marker_id, "filed in error")
    after = await b.check_request(check_request("ring-4", rid(44), device))
    assert after.ring.size == 4 and after.ring.blacklisted == 0 and not after.blacklist  # only a disputed one left


@pytest.fixture(params=["sqlite"])  # the log made to refuse its second append: a SQLite trigger
async def sqlite_hub(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, ["lender-a", "lender-b"]) as pair:
        yield pair


async def test_a_correction_retried_after_its_log_entry_failed_files_one_marker(
    sqlite_hub: tuple[LocalConsortium, ManualClock],
) -> None:
    """The resolution logs its intent, writes the store, then logs itself: when the log refuses
    that last entry the dispute stays open; a retry must finish the same correction (another
    resolution is refused, since the first one already changed the blacklist) and files the
    corrected marker once."""
    c, _ = sqlite_hub
    overstated = await file(c, 4)
    dispute = await c.members["lender-a"].hub_client.raise_dispute(overstated, "it was a late payment, not fraud")

    with log_refusing_appends(c.hub.store, after=1), pytest.raises(LianfangRpcError):
        await correct(c, dispute.dispute_id, "LATE_PAYMENT_REVIEW")  # the intent is logged, the resolution is not
    (still_open,) = await c.admin.list_disputes()
    assert still_open.dispute_id == dispute.dispute_id
    for other in (
        c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "upheld after all"),
        correct(c, dispute.dispute_id, "ANOTHER_REASON"),
    ):
        with pytest.raises(LianfangRpcError) as err:
            await other
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "CORRECT" in err.value.message

    corrected = await correct(c, dispute.dispute_id, "LATE_PAYMENT_REVIEW")
    mine = await c.members["lender-a"].hub_client.list_my_markers(include_inactive=True)
    assert sorted(m.marker_id for m in mine) == sorted([overstated, corrected.corrected_marker_id])
    assert await hits(c, "after-retry", 4) == ["BLACKLIST_SUSPECT"]
    assert await c.admin.list_disputes() == []


async def test_an_intent_that_changed_nothing_binds_no_one(sqlite_hub: tuple[LocalConsortium, ManualClock]) -> None:
    """The intent was logged but the store refused the withdrawal (SQLite, a trigger refusing
    marker updates): the blacklist is unchanged, so once the intent's lease is over the admin may
    resolve the dispute otherwise (within it, the dispute is held: ABORTED)."""
    c, clock = sqlite_hub
    marker_id = await file(c, 5)
    dispute = await c.members["lender-b"].hub_client.raise_dispute(marker_id, "not me")
    assert isinstance(c.hub.store, SqliteStore)
    db = sqlite3.connect(c.hub.store.config.path)
    db.execute("CREATE TRIGGER refuse_markers BEFORE UPDATE ON markers BEGIN SELECT RAISE(ABORT, 'refused'); END")
    db.commit()
    with pytest.raises(LianfangRpcError):
        await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "mistaken")
    db.execute("DROP TRIGGER refuse_markers")
    db.commit()
    db.close()
    with pytest.raises(LianfangRpcError) as held:
        await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "verified")
    assert held.value.code == grpc.StatusCode.ABORTED
    clock.advance(INTENT_LEASE_SECONDS)
    upheld = await c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "verified")
    assert upheld.resolution == common_pb2.DISPUTE_RESOLUTION_UPHOLD
    assert await hits(c, "upheld", 5) == ["BLACKLIST_CONFIRMED_FRAUD"]


async def test_two_admins_resolving_at_once_one_wins_and_one_correction_is_filed(hub) -> None:  # type: ignore[no-untyped-def]
    """The log orders the two intents: the later one, within the lease of the first, is ignored
    by the fold and its call is refused (ABORTED) before it touches the blacklist."""
    c, _ = hub
    overstated = await file(c, 6)
    dispute = await c.members["lender-a"].hub_client.raise_dispute(overstated, "a late payment")

    upheld = c.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "verified")
    results = await asyncio.gather(
        correct(c, dispute.dispute_id, "FIRST_REVIEW"),
        correct(c, dispute.dispute_id, "SECOND_REVIEW"),
        upheld,
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, LianfangRpcError)]
    assert len(won) == 1 and len(lost) == 2, results
    assert {e.code for e in lost} <= {grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION}
    mine = await c.members["lender-a"].hub_client.list_my_markers(include_inactive=True)
    assert len(mine) == (2 if won[0].resolution == common_pb2.DISPUTE_RESOLUTION_CORRECT else 1)
    (resolved,) = await c.admin.list_disputes(include_resolved=True)
    assert resolved.resolution == won[0].resolution and resolved.corrected_marker_id == won[0].corrected_marker_id


async def test_members_follow_the_disputes_they_raised_and_those_of_their_markers(hub) -> None:  # type: ignore[no-untyped-def]
    """ListMyDisputes: the raiser sees its dispute (to answer the person), the filer sees the
    dispute of its marker (to verify it) without learning which member took it; nobody else
    sees either."""
    c, clock = hub
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    on_a = await file(c, 6)
    taken = await b.raise_dispute(on_a, "I never applied there")
    clock.advance(60)
    by_admin = await c.admin.open_dispute(await file(c, 7), "raised with the admin")
    seen_by_a = {d.dispute_id: d for d in await a.my_disputes()}
    assert set(seen_by_a) == {taken.dispute_id, by_admin.dispute_id}  # both on lender-a's markers
    assert seen_by_a[taken.dispute_id].raised_by == ""  # which lender the person went to is not said
    assert seen_by_a[taken.dispute_id].subject_statement == "I never applied there"
    assert seen_by_a[by_admin.dispute_id].raised_by == "admin/demo"
    assert [(d.dispute_id, d.raised_by) for d in await b.my_disputes()] == [(taken.dispute_id, "lender-b")]
    await c.admin.resolve_dispute(taken.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "verified")
    assert [d.dispute_id for d in await b.my_disputes()] == []  # open ones only, unless asked
    [resolved] = await b.my_disputes(include_resolved=True)
    assert resolved.resolution == common_pb2.DISPUTE_RESOLUTION_UPHOLD and resolved.resolution_note == "verified"


async def test_a_dispute_logged_before_its_filer_was_is_still_the_filers(hub) -> None:  # type: ignore[no-untyped-def]
    """Open entries name the marker's filer (so listing a member's disputes reads no markers);
    an entry from before that is matched through the store, and keeps its old meaning: it
    suspends the marker."""
    c, clock = hub
    marker_id = await file(c, 8)
    old = ["d", "dp_from_before", "open", marker_id, "lender-b", clock(), clock() + 20 * DAY, "an older entry"]
    await c.hub.rings.publish([json.dumps(old)])
    [seen] = await c.members["lender-a"].hub_client.my_disputes()
    assert (seen.dispute_id, seen.raised_by, seen.suspends_marker) == ("dp_from_before", "", True)
    assert await hits(c, "old-entry", 8) == []
    new = await c.members["lender-b"].hub_client.raise_dispute(await file(c, 9), "a new entry")
    entries = [json.loads(e) for _, e in await c.hub.store.log_events((0, 0), 100_000)]
    [logged] = [e for e in entries if e[:3] == ["d", new.dispute_id, "open"]]
    assert logged[-1] == "lender-a"  # the filer, logged with it
