"""The hub over real gRPC + TLS, on both stores: Check semantics, markers, auth, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from clients.credentials import generate_key_file, load_private_key, public_key_bytes
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from consortium.members import PENDING
from consortium.records import Member
from runtime.clock import ManualClock
from tests.support.consortium import by_type, check_request, hub_on_store, log_refusing_appends, phone, raw_jwt, rid

HOUR = 3600.0
DAY = 24 * HOUR
MEMBERS = ["lender-a", "lender-b", "lender-c"]


@pytest.fixture(params=["sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, MEMBERS) as pair:
        yield pair


def calendar_years(at: float, years: int) -> float:
    """The same UTC date and time ``years`` later."""
    start = dt.datetime.fromtimestamp(at, dt.UTC)
    return start.replace(year=start.year + years).timestamp()


def client(c: LocalConsortium, member: str):  # type: ignore[no-untyped-def]
    return c.members[member].hub_client


async def test_check_idempotent_on_member_and_application_ref(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    assert gc.isenabled()  # the start-up replay runs without the collector, which comes back after
    a, b = client(c, "lender-a"), client(c, "lender-b")
    first = await a.check_request(check_request("a-1", phone(1), rid(1)))
    assert first.newly_recorded
    clock.advance(60)
    retry = await a.check_request(check_request("a-1", phone(1), rid(1)))
    assert not retry.newly_recorded
    answer = await b.check_request(check_request("b-1", phone(1)))
    assert by_type(answer, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (1, 1)  # the retry did not double-count


async def test_a_reused_reference_is_answered_for_its_first_tokens_and_says_so(hub) -> None:  # type: ignore[no-untyped-def]
    """A retry counts once (quotas, give-to-get, query transparency), so a reference sent again
    with other people's tokens must not look them up: it is answered for the tokens first
    recorded under it, in Check and in BatchCheck, and the answer says so (REUSED_REFERENCE):
    read as a clean answer, a reused reference passed a blacklisted applicant. The new tokens
    are neither answered nor recorded; a genuine retry carries no such reason."""
    c, clock = hub
    a, b = client(c, "lender-a"), client(c, "lender-b")
    await b.check_request(check_request("b-1", phone(21)))
    await b.file_marker(rid(22), common_pb2.MARKER_TYPE_SUSPECT, "MULE_ACCOUNT")
    first = await a.check_request(check_request("a-1", phone(20)))
    assert not first.blacklist and by_type(first, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (0, 0)
    clock.advance(60)
    for reused in (
        await a.check_request(check_request("a-1", phone(21), rid(22))),
        await a.check_request(check_request("a-1", rid(22))),  # another type of the same key
        (await a.batch_check([check_request("a-2", phone(20)), check_request("a-1", phone(21), rid(22))])).results[1],
    ):
        assert not reused.newly_recorded
        assert not reused.blacklist and by_type(reused, common_pb2.TOKEN_TYPE_PHONE).get("1H", (0, 0)) == (0, 0)
        (said,) = [r for r in reused.reasons if r.code == "REUSED_REFERENCE"]
        assert "new application_ref" in said.detail
    retry = await a.check_request(check_request("a-1", phone(20)))  # a genuine retry
    assert not retry.newly_recorded and not [r for r in retry.reasons if r.code == "REUSED_REFERENCE"]
    batch = await a.batch_check([check_request("a-2", phone(20))])
    assert not [r for r in batch.results[0].reasons if r.code == "REUSED_REFERENCE"]
    later = await client(c, "lender-c").check_request(check_request("c-1", phone(21), rid(22)))
    assert by_type(later, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (1, 1)  # b only: a's reuse recorded nothing
    assert len(later.blacklist) == 1


async def test_stacking_windows_and_other_members_exclude_caller(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b, cc = (client(c, m) for m in MEMBERS)
    await a.check_request(check_request("a-1", phone(7)))  # t0
    clock.advance(2 * DAY)
    await a.check_request(check_request("a-2", phone(7)))  # t0+2d, same member again
    clock.advance(20 * DAY)
    await b.check_request(check_request("b-1", phone(7)))  # t0+22d
    clock.advance(30 * 60)
    answer = await cc.check_request(check_request("c-1", phone(7)))  # t0+22d+30m
    w = by_type(answer, common_pb2.TOKEN_TYPE_PHONE)
    assert w["1H"] == (1, 1)  # only lender-b within the hour
    assert w["24H"] == (1, 1)
    assert w["7D"] == (1, 1)
    assert w["30D"] == (2, 3)  # lender-a twice and lender-b
    assert w["90D"] == (2, 3)
    codes = [r.code for r in answer.reasons]
    assert "STACKING_PHONE_1H" in codes
    # the caller's own applications never count as stacking
    again = await a.check_request(check_request("a-3", phone(7)))
    assert by_type(again, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (2, 2)  # b and c, not a
    clock.advance(91 * DAY)
    later = await b.check_request(check_request("b-2", phone(7)))
    assert by_type(later, common_pb2.TOKEN_TYPE_PHONE)["90D"] == (0, 0)
    assert not [r for r in later.reasons if r.code.startswith("STACKING")]


async def test_batch_check_counts_stacking_as_if_sent_one_by_one(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b, cc = (client(c, m) for m in MEMBERS)
    first = await b.batch_check([check_request("b-1", phone(9)), check_request("b-2", phone(9))])
    assert [by_type(r, common_pb2.TOKEN_TYPE_PHONE)["1H"] for r in first.results] == [(0, 0)] * 2  # own apps
    clock.advance(60)
    second = await cc.batch_check([check_request("c-1", phone(9)), check_request("c-2", phone(9))])
    assert [by_type(r, common_pb2.TOKEN_TYPE_PHONE)["1H"] for r in second.results] == [(1, 2), (1, 2)]
    retry = await b.batch_check([check_request("b-3", phone(9)), check_request("b-1", phone(9))])
    assert [r.newly_recorded for r in retry.results] == [True, False]
    assert [by_type(r, common_pb2.TOKEN_TYPE_PHONE)["1H"] for r in retry.results] == [(1, 2), (1, 2)]
    single = await a.check_request(check_request("a-1", phone(9)))
    assert by_type(single, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (2, 5)  # b's retry counted once


async def test_markers_rules(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b = client(c, "lender-a"), client(c, "lender-b")
    with pytest.raises(LianfangRpcError) as err:
        await a.file_marker(rid(3), common_pb2.MARKER_TYPE_CONFIRMED_FRAUD, "FORGED_DOCUMENTS")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.violations] == ["evidence_level"]

    fraud = await a.file_marker(
        rid(3),
        common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
        "FORGED_DOCUMENTS",
        evidence_level=common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
    )
    protective = await a.file_marker(rid(4), common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION, "ID_CARD_STOLEN")
    assert protective.polarity == common_pb2.MARKER_POLARITY_PROTECTIVE
    clock.advance(DAY)
    hit = await b.check_request(check_request("b-1", rid(3), rid(4)))
    kinds = {(h.marker_type, h.polarity) for h in hit.blacklist}
    assert kinds == {
        (common_pb2.MARKER_TYPE_CONFIRMED_FRAUD, common_pb2.MARKER_POLARITY_NEGATIVE),
        (common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION, common_pb2.MARKER_POLARITY_PROTECTIVE),
    }
    (neg,) = [h for h in hit.blacklist if h.polarity == common_pb2.MARKER_POLARITY_NEGATIVE]
    assert (neg.reason_code, neg.evidence_level, neg.filing_members) == (
        "FORGED_DOCUMENTS",
        common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
        1,
    )
    codes = {r.code for r in hit.reasons}
    assert {"BLACKLIST_CONFIRMED_FRAUD", "PROTECTIVE_VICTIM_OF_IMPERSONATION"} <= codes

    with pytest.raises(LianfangRpcError) as err:
        await b.withdraw_marker(fraud.marker_id)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(LianfangRpcError) as err:
        await a.withdraw_marker("mk_does_not_exist")
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    withdrawn = await a.withdraw_marker(fraud.marker_id, "filed in error")
    assert withdrawn.status == common_pb2.MARKER_STATUS_WITHDRAWN
    after = await b.check_request(check_request("b-2", rid(3)))
    assert not after.blacklist
    assert [m.marker_id for m in await a.list_my_markers()] == [protective.marker_id]
    assert len(await a.list_my_markers(include_inactive=True)) == 2


async def test_free_text_with_a_personal_identifier_is_refused_and_changes_nothing(hub) -> None:  # type: ignore[no-untyped-def]
    """Case references, reason codes, withdrawal reasons and dispute statements reach the hub's
    store, its append-only log or other members: one holding what looks like an ID number, a
    phone or an e-mail is INVALID_ARGUMENT naming the field, and nothing is filed or changed."""
    c, _ = hub
    a, b = client(c, "lender-a"), client(c, "lender-b")
    suspect = common_pb2.MARKER_TYPE_SUSPECT
    refused = [
        (a.file_marker(rid(31), suspect, "MULE", case_ref="刘德明 320506197003080176"), "case_ref"),
        (a.file_marker(rid(31), suspect, "FORGED_15895472306"), "reason_code"),
    ]
    for call, field in refused:
        with pytest.raises(LianfangRpcError) as err:
            await call
        assert (err.value.code, [v.field for v in err.value.violations]) == (grpc.StatusCode.INVALID_ARGUMENT, [field])
        assert "320506197003080176" not in err.value.message + str(err.value.violations)
    assert not await a.list_my_markers()  # nothing filed
    marker = await a.file_marker(rid(31), common_pb2.MARKER_TYPE_SUSPECT, "MULE", case_ref="CASE-2024-0042")
    with pytest.raises(LianfangRpcError) as err:
        await a.withdraw_marker(marker.marker_id, "customer called from 158-9547-2306")
    assert [v.field for v in err.value.violations] == ["reason"]
    with pytest.raises(LianfangRpcError) as err:
        await b.raise_dispute(marker.marker_id, "本人身份证320506197003080176，从未申请")
    assert [v.field for v in err.value.violations] == ["subject_statement"]
    [kept] = await a.list_my_markers()
    assert kept.status == common_pb2.MARKER_STATUS_ACTIVE and not kept.HasField("withdrawn_at")  # nor disputed


async def test_an_error_quoting_a_huge_value_still_reaches_the_caller(hub) -> None:  # type: ignore[no-untyped-def]
    """Errors travel in trailing metadata, which grpc caps: a NOT_FOUND quoting a 20,000-character
    id used to arrive as RESOURCE_EXHAUSTED "stream removed". Messages are cut to fit."""
    c, _ = hub
    a = client(c, "lender-a")
    for huge in ("mk_" + "9" * 20_000, "mk_" + "黑名单" * 3_000):  # a Chinese character: 9 bytes in grpc-message
        with pytest.raises(LianfangRpcError) as err:
            await a.withdraw_marker(huge, "no such marker")
        assert err.value.code == grpc.StatusCode.NOT_FOUND and len(err.value.message.encode()) <= 700
    bad = [check_request(f"x-{i}", phone(i)) for i in range(200)]
    for request in bad:
        request.consent_ref = ""
    with pytest.raises(LianfangRpcError) as err:  # 200 bad entries: the first violations travel
        await a.batch_check(bad)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and 0 < len(err.value.violations) < 200


async def test_negative_markers_expire_five_years_after_event(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b = client(c, "lender-a"), client(c, "lender-b")
    marker = await a.file_marker(rid(5), common_pb2.MARKER_TYPE_SUSPECT, "SUSPICIOUS_DOCUMENTS")
    five_years = calendar_years(clock.now, 5)  # on the calendar: a leap day is no day early
    assert marker.expires_at.seconds == pytest.approx(five_years, abs=1)
    clock.advance(five_years - clock.now - DAY)
    assert (await b.check_request(check_request("b-1", rid(5)))).blacklist
    clock.advance(2 * DAY)
    assert not (await b.check_request(check_request("b-2", rid(5)))).blacklist
    (expired,) = await a.list_my_markers(include_inactive=True)
    assert expired.status == common_pb2.MARKER_STATUS_EXPIRED


async def test_marker_retention_per_type_is_a_hub_setting(tmp_path: Path) -> None:
    """``marker_retention_years``: a court's list kept until withdrawn (0: never expires), suspect
    markers 1 year; the others keep their defaults (negative 5 years)."""
    from clients.demo.consortium import start_local_consortium

    clock = ManualClock()
    options = {"marker_retention_years": {"court_dishonest": "0", "suspect": "1"}}
    c = await start_local_consortium(tmp_path, ["lender-a"], clock=clock, hub_options=options)
    try:
        a = client(c, "lender-a")
        court = await a.file_marker(rid(61), common_pb2.MARKER_TYPE_COURT_DISHONEST, "COURT_LIST")
        suspect = await a.file_marker(rid(62), common_pb2.MARKER_TYPE_SUSPECT, "MULE")
        fraud = await a.file_marker(
            rid(63),
            common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
            "FORGED",
            evidence_level=common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
        )
        assert not court.HasField("expires_at")
        assert suspect.expires_at.seconds == int(calendar_years(suspect.event_ended_at.seconds, 1))
        assert fraud.expires_at.seconds == int(calendar_years(fraud.event_ended_at.seconds, 5))
    finally:
        await c.stop()


async def test_report_outcome(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a = client(c, "lender-a")
    await a.check_request(check_request("a-1", phone(9)))
    await a.report_outcome("a-1", common_pb2.OUTCOME_FUNDED)
    stored = await c.hub.store.get_application("lender-a", "a-1")
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_FUNDED
    checked = stored.received_at
    for when, why in ((86_400.0, "before the application was checked"), (clock.now + 5 * 365 * DAY, "in the future")):
        with pytest.raises(LianfangRpcError) as err:  # 1970, or five years ahead: a wrong clock or a bug
            await a.report_outcome("a-1", common_pb2.OUTCOME_REPAID, occurred_at=when)
        assert [v.field for v in err.value.violations] == ["occurred_at"] and why in err.value.violations[0].description
    # the outbox delivered the Check days after the decision it reports: its outcome is earlier
    await a.report_outcome("a-1", common_pb2.OUTCOME_REPAID, occurred_at=checked - 3 * DAY)
    stored = await c.hub.store.get_application("lender-a", "a-1")
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_REPAID and stored.outcome_at == checked - 3 * DAY
    with pytest.raises(LianfangRpcError) as err:
        await client(c, "lender-b").report_outcome("a-1", common_pb2.OUTCOME_FUNDED)
    assert err.value.code == grpc.StatusCode.NOT_FOUND  # another member's application is invisible


async def test_invalid_argument_carries_field_violations_and_writes_nothing(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    a = client(c, "lender-a")
    bad = consortium_pb2.CheckRequest(
        application_ref="", consent_ref="c", tokens=[phone(1), phone(1)], product_category="Bad Category"
    )
    with pytest.raises(LianfangRpcError) as err:
        await a.check_request(bad)
    fields = {v.field for v in err.value.violations}
    assert fields == {
        "application_ref",
        "applicant_kind",
        "product_category",
        "tokens[1]",
        "purpose",
        "consent_expires_at",
    }
    # an identifier in the product category would be stored with the application: refused
    smuggled_in = ("110101199003077774", "6222021234567890128", "13800138000", "loan_138_0013_8000")
    glued = ("x13800138000", "u110101199003077774", "loan_1380_0138_000", "c6222021234567890128")
    for raw in (*smuggled_in, *glued):
        smuggled = check_request("a-cat", phone(1))
        smuggled.product_category = raw
        with pytest.raises(LianfangRpcError) as err:
            await a.check_request(smuggled)
        assert [v.field for v in err.value.violations] == ["product_category"]
    assert await c.hub.store.get_application("lender-a", "a-cat") is None
    dated = check_request("a-dated", phone(1))
    dated.product_category = "xwd_20250601"  # a product code with a date in it is no identifier
    assert (await a.check_request(dated)).newly_recorded
    # BatchCheck is all-or-nothing: one bad check refuses the batch and records none
    good = check_request("a-good", phone(2))
    broken = check_request("a-broken", phone(3))
    broken.tokens[0].value = b"short"
    with pytest.raises(LianfangRpcError) as err:
        await a.batch_check([good, broken])
    assert [v.field for v in err.value.violations] == ["checks[1].tokens[0].value"]
    assert await c.hub.store.get_application("lender-a", "a-good") is None
    results = await a.batch_check([good, check_request("a-other", phone(2))])
    assert [r.application_ref for r in results.results] == ["a-good", "a-other"]


async def test_a_check_needs_a_purpose_and_an_authorisation_in_force(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a = client(c, "lender-a")
    request = check_request("consent-1", phone(40))
    request.purpose = common_pb2.PURPOSE_UNSPECIFIED
    with pytest.raises(LianfangRpcError) as err:
        await a.check_request(request)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in err.value.violations] == ["purpose"]
    expired = check_request("consent-2", phone(40))
    expired.consent_expires_at.seconds = int(clock()) - 1
    with pytest.raises(LianfangRpcError) as err:
        await a.check_request(expired)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "expired" in err.value.message
    assert expired.consent_ref not in err.value.message  # a lender's reference is never echoed
    with pytest.raises(LianfangRpcError) as err:
        await a.batch_check([check_request("consent-3", phone(41)), expired])
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "checks[1]" in err.value.message
    assert await c.hub.store.get_application("lender-a", "consent-3") is None  # nothing recorded
    assert await c.hub.store.get_application("lender-a", "consent-2") is None


async def test_a_reference_holding_an_identifier_is_refused_and_never_stored(hub) -> None:  # type: ignore[no-untyped-def]
    """A lender that keys its applications by phone or ID number (a member calling the hub with
    the SDK, not through a node) must not put them in the hub's records: refused, field named,
    value not quoted. A node's own ids and consent digests pass."""
    c, _ = hub
    a = client(c, "lender-a")
    for ref, consent, field in (
        ("loan-13800138000", "c-1", "application_ref"),
        ("loan-138.0013.8000", "c-1", "application_ref"),
        ("app-1", "320506197003080176", "consent_ref"),
        ("app-1", "auth/3205.0619.7003.0801.76", "consent_ref"),
    ):
        request = check_request(ref, phone(50))
        request.consent_ref = consent
        with pytest.raises(LianfangRpcError) as err:
            await a.check_request(request)
        assert [v.field for v in err.value.violations] == [field]
        assert "personal data" in err.value.violations[0].description and consent not in str(err.value)
        assert await c.hub.store.get_application("lender-a", ref) is None
    node_made = check_request("app_kj53qbbdaaaaaa", phone(50))
    node_made.consent_ref = "kj53qbbeaaaaaakj53qbbeaaaaaa2345"
    assert (await a.check_request(node_made)).application_ref == "app_kj53qbbdaaaaaa"


async def test_invalid_argument_detail_is_google_rpc_bad_request(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    channel = c.hub_channel("lender-a")
    stub = consortium_pb2_grpc.ConsortiumServiceStub(channel)
    md = c.members["lender-a"].hub_client.signer.metadata()  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Check(consortium_pb2.CheckRequest(), metadata=md)
    await channel.close()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (raw,) = [v for k, v in err.value.trailing_metadata() if k == "grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert "tokens" in {v.field for v in bad.field_violations}


async def _call_with(c: LocalConsortium, token: str | None, subject: str = "lender-a") -> grpc.StatusCode:
    """A Check with ``token`` over a client certificate for ``subject`` (the token's own, unless
    the test is about a mismatch)."""
    channel = c.hub_channel(subject)
    stub = consortium_pb2_grpc.ConsortiumServiceStub(channel)
    md = (("authorization", f"Bearer {token}"),) if token is not None else ()
    try:
        await stub.Check(check_request(f"jwt-{secrets.token_hex(4)}", phone(1)), metadata=md, timeout=5)
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await channel.close()


async def test_a_member_s_leaked_key_is_replaced_and_stops_working(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """RotateMemberKey: tokens signed with the old key are refused from then on (a fresh one, and
    one this hub had verified and cached), the new key works, the status and reason stay, and
    the rotation is an audit entry. A revoked member's key is not rotated; a bad key is refused."""
    c, _ = hub
    old_key = c.members["lender-a"].key_file
    cached = raw_jwt(old_key, "lender-a", scope="query")
    assert await _call_with(c, cached) == grpc.StatusCode.OK  # verified and cached by the hub
    logged = c.hub.rings.applied
    new_key = str(tmp_path / "lender-a-new.pem")
    changed = await c.admin.rotate_member_key("lender-a", generate_key_file(new_key), "key leaked in a phishing mail")
    assert changed.status == common_pb2.MEMBER_STATUS_ACTIVE and c.hub.rings.applied == logged + 1
    assert await _call_with(c, cached) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(old_key, "lender-a", scope="query")) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(new_key, "lender-a", scope="query")) == grpc.StatusCode.OK
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.rotate_member_key("lender-a", b"short")
    assert [v.field for v in err.value.violations] == ["public_key"]
    with pytest.raises(LianfangRpcError) as err:  # a key some member has: this one's, or another's
        await c.admin.rotate_member_key("lender-b", changed.public_key)
    assert [v.field for v in err.value.violations] == ["public_key"]
    with pytest.raises(LianfangRpcError) as err:  # the leaked key never comes back
        await c.admin.rotate_member_key("lender-a", public_key_bytes(load_private_key(old_key)), "rolled back")
    assert [v.description for v in err.value.violations] == ["was this member's key before (a new key pair is needed)"]
    entries = await c.hub.store.log_events((0, 0), 10_000)
    [rotation] = [e for _, e in entries if '"rotate_key"' in e]
    assert hashlib.sha256(changed.public_key).hexdigest()[:16] in rotation  # which key was installed
    await c.admin.change_member("revoke", "lender-b", "left the consortium")
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.rotate_member_key("lender-b", generate_key_file(str(tmp_path / "b.pem")))
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.rotate_member_key("nobody", generate_key_file(str(tmp_path / "n.pem")))
    assert err.value.code == grpc.StatusCode.NOT_FOUND


async def test_a_member_from_before_key_claims_gets_them_on_its_first_key_change(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A member stored before keys were claimed holds its key unclaimed: a registration with it
    is still refused, and its first rotation claims the key it gives up, for good."""
    c, _ = hub
    legacy_key = generate_key_file(tmp_path / "legacy.pem")
    await c.hub.store.add_member(Member("lender-old", "Old", "bank", legacy_key, PENDING, "registered", 1.0, 1.0))
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.register_member("lender-copy", "Copy", "bank", legacy_key)
    assert [v.field for v in err.value.violations] == ["public_key"]
    await c.admin.rotate_member_key("lender-old", generate_key_file(tmp_path / "new.pem"), "routine")
    with pytest.raises(LianfangRpcError) as err:
        await c.admin.rotate_member_key("lender-old", legacy_key, "back")
    assert [v.description for v in err.value.violations] == ["was this member's key before (a new key pair is needed)"]


@pytest.fixture
async def sqlite_hub(tmp_path: Path) -> AsyncIterator[LocalConsortium]:
    """On SQLite a member change and its log entry are one transaction, so a log refusing
    appends fails the change (Redis keeps the entry with the member and logs it later)."""
    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    try:
        yield c
    finally:
        await c.stop()


async def test_a_key_change_that_failed_leaves_its_key_free(sqlite_hub: LocalConsortium, tmp_path: Path) -> None:
    """The store refusing the write: nothing changed, so the key is not claimed either — the
    admin's retry of a leak response, or the registration under a corrected id, goes through
    (the claim made before the write is given back)."""
    c = sqlite_hub
    new = generate_key_file(tmp_path / "new.pem")
    with log_refusing_appends(c.hub.store), pytest.raises(LianfangRpcError):
        await c.admin.rotate_member_key("lender-a", new, "leak")
    assert (await c.admin.rotate_member_key("lender-a", new, "leak")).public_key == new
    key = generate_key_file(tmp_path / "k.pem")
    with log_refusing_appends(c.hub.store), pytest.raises(LianfangRpcError):
        await c.admin.register_member("lender-typo", "X", "bank", key)
    assert "lender-typo" not in {m.member_id for m in await c.admin.list_members()}
    assert (await c.admin.register_member("lender-x", "X", "bank", key)).public_key == key


async def test_a_member_category_holds_no_identifier(sqlite_hub: LocalConsortium, tmp_path: Path) -> None:
    """A member's category is shown to borrowers (subject access) and in the audit counts."""
    key = generate_key_file(tmp_path / "k.pem")
    for category in ("110101199003077774", "13800138000", "x110101199003077774"):
        with pytest.raises(LianfangRpcError) as refused:
            await sqlite_hub.admin.register_member("lender-odd", "Odd", category, key)
        assert [v.field for v in refused.value.violations] == ["category"]
    assert (await sqlite_hub.admin.register_member("lender-odd", "Odd", "consumer_finance", key)).member_id


async def test_jwt_failures(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    key = c.members["lender-a"].key_file
    assert await _call_with(c, raw_jwt(key, "lender-a")) == grpc.StatusCode.OK
    assert await _call_with(c, None) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, "not-a-jwt") == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(key, "lender-a", iat=0)) == grpc.StatusCode.UNAUTHENTICATED  # expired
    assert await _call_with(c, raw_jwt(key, "lender-a", lifetime=3600)) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(key, "lender-a", audience="other")) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(key, "lender-b"), "lender-b") == grpc.StatusCode.UNAUTHENTICATED  # wrong key
    assert await _call_with(c, raw_jwt(key, "nobody"), "nobody") == grpc.StatusCode.UNAUTHENTICATED
    stranger = tmp_path / "stranger.pem"
    generate_key_file(stranger)
    assert await _call_with(c, raw_jwt(str(stranger), "admin/demo"), "admin/demo") == grpc.StatusCode.UNAUTHENTICATED
    # scopes and token ids
    assert await _call_with(c, raw_jwt(key, "lender-a", scope=None)) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(key, "lender-a", scope="query everything")) == grpc.StatusCode.UNAUTHENTICATED
    assert await _call_with(c, raw_jwt(key, "lender-a", scope="contribute")) == grpc.StatusCode.PERMISSION_DENIED
    assert await _call_with(c, raw_jwt(key, "lender-a", scope="query admin")) == grpc.StatusCode.PERMISSION_DENIED
    assert await _call_with(c, raw_jwt(key, "lender-a", jti="")) == grpc.StatusCode.UNAUTHENTICATED
    reusable = raw_jwt(key, "lender-a", scope="query")
    assert [await _call_with(c, reusable) for _ in range(3)] == [grpc.StatusCode.OK] * 3
    once = raw_jwt(key, "lender-a", scope="query contribute")  # any scope beyond query: single-use
    assert await _call_with(c, once) == grpc.StatusCode.OK
    assert await _call_with(c, once) == grpc.StatusCode.UNAUTHENTICATED  # replayed
    # a valid member token cannot call the admin service
    with pytest.raises(grpc.aio.AioRpcError) as err:
        channel = c.hub_channel("lender-a")
        try:
            await consortium_pb2_grpc.AdminServiceStub(channel).ListMembers(
                consortium_pb2.ListMembersRequest(),
                metadata=(("authorization", "Bearer " + raw_jwt(key, "lender-a")),),
            )
        finally:
            await channel.close()
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_member_lifecycle(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    admin = c.admin
    key_file = tmp_path / "new.pem"
    public = generate_key_file(key_file)
    member = await admin.register_member("lender-new", "New Lender", "bank", public)
    assert member.status == common_pb2.MEMBER_STATUS_PENDING
    with pytest.raises(LianfangRpcError) as err:
        await admin.register_member("lender-new", "Again", "bank", public)
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(LianfangRpcError) as err:  # one key pair per member: else it signs as either
        await admin.register_member("lender-twin", "Twin", "bank", public)
    assert [v.field for v in err.value.violations] == ["public_key"]
    spare = generate_key_file(tmp_path / "spare.pem")
    with pytest.raises(LianfangRpcError) as err:  # a taken id: the key it came with stays free
        await admin.register_member("lender-new", "Typo", "bank", spare)
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert (await admin.register_member("lender-spare", "Spare", "bank", spare)).public_key == spare
    token = raw_jwt(str(key_file), "lender-new")
    assert await _call_with(c, token, "lender-new") == grpc.StatusCode.PERMISSION_DENIED  # pending
    await admin.change_member("approve", "lender-new")
    assert await _call_with(c, token, "lender-new") == grpc.StatusCode.OK
    with pytest.raises(LianfangRpcError) as err:
        await admin.change_member("reinstate", "lender-new")
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    # a status change's reason goes into the audit log: a pasted identifier is refused, as elsewhere
    with pytest.raises(LianfangRpcError) as err:
        await admin.change_member("suspend", "BAD", "complaint from 13800138000")
    assert {v.field for v in err.value.violations} == {"member_id", "reason"}
    suspended = await admin.change_member("suspend", "lender-new", "late contributions")
    assert (suspended.status, suspended.status_reason) == (common_pb2.MEMBER_STATUS_SUSPENDED, "late contributions")
    assert await _call_with(c, token, "lender-new") == grpc.StatusCode.PERMISSION_DENIED
    await admin.change_member("reinstate", "lender-new")
    assert await _call_with(c, token, "lender-new") == grpc.StatusCode.OK
    await admin.change_member("revoke", "lender-new")
    assert await _call_with(c, token, "lender-new") == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(LianfangRpcError) as err:
        await admin.change_member("approve", "lender-new")
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(LianfangRpcError) as err:
        await admin.change_member("approve", "no-such-member")
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(LianfangRpcError) as err:
        await admin.register_member("X", "", "bank", b"short")
    assert {v.field for v in err.value.violations} == {"member_id", "display_name", "public_key"}
    with pytest.raises(LianfangRpcError) as err:  # a lender's name, not its owner's phone number
        await admin.register_member("lender-z", "张三 13800138000", "bank", os.urandom(32))
    assert [v.field for v in err.value.violations] == ["display_name"]
    listed = {m.member_id: m.status for m in await admin.list_members()}
    assert listed["lender-new"] == common_pb2.MEMBER_STATUS_REVOKED
    assert len(listed) == 5  # the fixture's three, lender-new and lender-spare


async def test_plaintext_client_refused_by_tls_hub(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    channel = grpc.aio.insecure_channel(c.hub_address)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await consortium_pb2_grpc.ConsortiumServiceStub(channel).ListMyMarkers(
            consortium_pb2.ListMyMarkersRequest(), timeout=2
        )
    await channel.close()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_concurrent_checks_same_ref_record_once(hub) -> None:  # type: ignore[no-untyped-def]
    c, _ = hub
    a, b = client(c, "lender-a"), client(c, "lender-b")
    answers = await asyncio.gather(*(a.check_request(check_request("a-race", phone(11))) for _ in range(8)))
    assert sum(r.newly_recorded for r in answers) == 1
    answer = await b.check_request(check_request("b-1", phone(11)))
    assert by_type(answer, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (1, 1)
