"""A member's staff manage its blacklist markers through the node (MarkerService): a risk
manager lists them with the application each was filed for and withdraws one filed in error; a
customer manager passes on a borrower's dispute of another member's marker. The node holds the
member key; nothing with personal data leaves it; the hub's rules (only the filer withdraws)
hold through it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from node.markers import BORROWER_RECORDS, FILED_MARKER
from node.origination.store import MIGRATIONS, Application, NodeStore
from node.sources.personas import JINGCHENG_PARTS
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock
from tests.support.origination import application

POLICE = common_pb2.EVIDENCE_LEVEL_POLICE_REPORT
ACTIVE, WITHDRAWN = common_pb2.MARKER_STATUS_ACTIVE, common_pb2.MARKER_STATUS_WITHDRAWN


@pytest.fixture
async def consortium(tmp_path: Path) -> AsyncIterator[LocalConsortium]:
    c = await start_local_consortium(
        tmp_path, ["lender-a", "lender-b"], clock=ManualClock(), source_latency_ms=1, scenario_file=SEED_PERSONAS_FILE
    )
    try:
        yield c
    finally:
        await c.stop()


def hub_calls(c: LocalConsortium, method: str) -> float:
    """How many ``method`` calls the hub has received (its own per-RPC counter)."""
    assert c.hub.metrics is not None
    labels = {"grpc_type": "unary", "grpc_service": "lianfang.v1.ConsortiumService", "grpc_method": method}
    return c.hub.metrics.registry.get_sample_value("grpc_server_started_total", labels) or 0.0


async def _refused(call, code: grpc.StatusCode) -> LianfangRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(LianfangRpcError) as err:
        await call
    assert err.value.code == code, err.value
    return err.value


async def test_risk_manager_lists_and_withdraws_markers_through_the_node(consortium: LocalConsortium) -> None:
    a, b = consortium.members["lender-a"], consortium.members["lender-b"]
    risk, second = a.as_role("risk_manager", "risk-1"), a.as_role("risk_manager", "risk-2")
    view = await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "jc-markers"))
    await risk.confirm_fraud(view.application_id, "FORGED_DOCUMENTS", POLICE, "CASE-9")
    elsewhere = await a.hub_client.file_marker(  # filed with the member key but not through this node
        common_pb2.Token(scheme=1, type=3, epoch=1, value=b"\x07" * 16), common_pb2.MARKER_TYPE_SUSPECT, "MULE"
    )

    listed = await risk.list_markers()
    by_id = {f.marker.marker_id: f for f in listed}
    assert len(listed) >= 3 and all(f.marker.status == ACTIVE for f in listed)
    assert by_id.pop(elsewhere.marker_id).application_id == ""
    assert {f.application_id for f in by_id.values()} == {view.application_id}
    assert set(by_id) == set(a.node.engine.store.get_application(view.application_id).decision["fraud"]["markers"])
    wrong = sorted(by_id)[0]

    await _refused(a.as_role("customer_manager").list_markers(), grpc.StatusCode.PERMISSION_DENIED)
    await _refused(a.as_role("customer_manager").withdraw_marker(wrong, "x"), grpc.StatusCode.PERMISSION_DENIED)
    rep = JINGCHENG_PARTS.legal_rep_resident_id
    sent = hub_calls(consortium, "WithdrawMarker")
    for reason, problem in (
        ("", "is required"),
        ("   ", "is required"),
        ("回访 13800138000", "personal data"),
        (f"法人 {rep[:6]} {rep[6:14]} {rep[14:]}", "personal data"),  # an ID number in its groups
        (f"uscc {JINGCHENG_PARTS.uscc.lower()}", "personal data"),  # a social credit code, either case
        (f"法人证件 {'/'.join(rep[i : i + 3] for i in range(0, 18, 3))}", "personal data"),  # in threes
        (f"借款人{JINGCHENG_PARTS.name}称未申请", "applicant's identifiers"),  # its name: no shape finds one
    ):
        err = await _refused(risk.withdraw_marker(wrong, reason), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for v in err.violations] == ["reason"] and problem in err.violations[0].description
    err = await _refused(risk.withdraw_marker("", "x"), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in err.violations] == ["marker_id"]
    err = await _refused(risk.withdraw_marker(rep, "x"), grpc.StatusCode.INVALID_ARGUMENT)  # pasted in the wrong box
    assert [v.field for v in err.violations] == ["marker_id"] and rep not in str(err)
    assert hub_calls(consortium, "WithdrawMarker") == sent  # none of those left the node
    await _refused(risk.withdraw_marker("mk_unknown", "filed in error"), grpc.StatusCode.NOT_FOUND)
    # only the filer withdraws, through its own node too
    err = await _refused(
        b.as_role("risk_manager").withdraw_marker(wrong, "not ours"), grpc.StatusCode.PERMISSION_DENIED
    )
    assert "filing member" in err.message
    assert all(m.status == ACTIVE for m in await a.hub_client.list_my_markers())  # nothing changed so far

    withdrawn = await risk.withdraw_marker(wrong, "filed against the wrong applicant")
    assert withdrawn.marker.status == WITHDRAWN and withdrawn.application_id == view.application_id
    assert (withdrawn.withdrawn_by, withdrawn.marker.withdraw_reason) == ("risk-1", "filed against the wrong applicant")
    again = await second.withdraw_marker(wrong, "a second try")  # answers the first withdrawal
    assert (again.withdrawn_by, again.marker.withdraw_reason) == ("risk-1", "filed against the wrong applicant")
    hub_view = {m.marker_id: m for m in await a.hub_client.list_my_markers(include_inactive=True)}
    assert hub_view[wrong].status == WITHDRAWN
    assert sum(m.status == ACTIVE for m in hub_view.values()) == len(listed) - 1

    active = {f.marker.marker_id for f in await risk.list_markers()}
    assert wrong not in active and len(active) == len(listed) - 1
    everything = {f.marker.marker_id: f for f in await risk.list_markers(include_inactive=True)}
    assert everything[wrong].withdrawn_by == "risk-1" and everything[wrong].marker.status == WITHDRAWN
    standing = {
        m.marker_id
        for m in (await risk.borrower_records(application(JINGCHENG_PARTS, "x").identifiers, "SAR-1")).markers
    }
    assert wrong not in standing and standing == {m for m in active if m != elsewhere.marker_id}


async def test_a_borrowers_dispute_goes_through_any_member_and_never_carries_an_identifier(
    consortium: LocalConsortium,
) -> None:
    a, b = consortium.members["lender-a"], consortium.members["lender-b"]
    request = application(JINGCHENG_PARTS, "jc-dispute")
    view = await a.as_role("customer").submit_application(request)
    await a.as_role("risk_manager").confirm_fraud(view.application_id, "FORGED_DOCUMENTS", POLICE)
    desk = b.as_role("customer_manager", "cm-7")  # the borrower complains at another lender

    # The borrower's access request, at lender-b: what stands against them (not who filed it),
    # and who queried them, by member category. Its marker ids are what a dispute names.
    records = await desk.borrower_records(request.identifiers, "SAR-2026-0042")
    filed = {m.marker_id for m in await a.hub_client.list_my_markers()}
    [kept] = b.node.engine.store.records_of_kind(BORROWER_RECORDS)  # who read whose records, under which request
    assert (kept["by"], kept["request_ref"]) == ("cm-7", "SAR-2026-0042") and kept["tokens"] >= 3
    assert {m.marker_id for m in records.markers} == filed and len(filed) >= 2
    assert all(
        m.status == common_pb2.MARKER_STATUS_ACTIVE and m.reason_code == "FORGED_DOCUMENTS" for m in records.markers
    )
    assert all(m.marker_type == common_pb2.MARKER_TYPE_CONFIRMED_FRAUD for m in records.markers)
    assert len(records.queries) >= 1 and {q.member_category for q in records.queries} == {"microloan"}
    # the hub's log keeps the request with a keyed digest of its reference, never the lender's text
    logged = [json.loads(event) for _, event in await consortium.hub.store.log_events((0, 0), 100_000)]
    [sa] = [e for e in logged if e[0] == "sa"]
    assert sa[1] == "lender-b" and sa[5] and sa[5] != "SAR-2026-0042" and len(sa[5]) == 32
    marker = records.markers[0]
    err = await _refused(desk.borrower_records(node_pb2.Identifiers(), "SAR-1"), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in err.violations] == ["identifiers"]
    err = await _refused(
        desk.borrower_records(node_pb2.Identifiers(phones=["12345"]), "SAR-1"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert [v.field for v in err.violations] == ["identifiers.phones[0]"] and "12345" not in str(err)
    phone = request.identifiers.phones[0]
    rep = JINGCHENG_PARTS.legal_rep_resident_id
    for ref in (
        "",  # none
        f"SAR for {''.join(c for c in phone if c.isdigit())[-11:]}",  # the borrower's phone
        f"SAR {'/'.join(rep[i : i + 3] for i in range(0, 18, 3))}",  # their ID, spelt so only the node sees it
    ):
        err = await _refused(desk.borrower_records(request.identifiers, ref), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for v in err.violations] == ["request_ref"]
    await _refused(
        b.as_role("customer").borrower_records(request.identifiers, "SAR-1"), grpc.StatusCode.PERMISSION_DENIED
    )

    for statement, problem in (
        ("", "is required"),
        ("我的身份证 320506197003080176 被冒用", "personal data"),
        ("x" * 2001, "at most 2000"),
    ):
        err = await _refused(desk.dispute_marker(marker.marker_id, statement), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for v in err.violations] == ["subject_statement"]
        assert problem in " ".join(v.description for v in err.violations)
    assert await consortium.admin.list_disputes() == []  # none of those reached the hub
    await _refused(b.as_role("customer").dispute_marker(marker.marker_id, "x"), grpc.StatusCode.PERMISSION_DENIED)
    await _refused(desk.dispute_marker("mk_unknown", "I never applied"), grpc.StatusCode.NOT_FOUND)

    dispute = await desk.dispute_marker(marker.marker_id, "I never applied there; my card was stolen in May")
    assert dispute.marker_id == marker.marker_id and dispute.raised_by == "lender-b" and dispute.deadline.seconds
    [listed] = await consortium.admin.list_disputes()
    assert listed.dispute_id == dispute.dispute_id
    assert listed.subject_statement == "I never applied there; my card was stolen in May"
    disputed = {m.marker_id: m for m in await a.hub_client.list_my_markers()}[marker.marker_id]
    assert disputed.status == common_pb2.MARKER_STATUS_DISPUTED
    seen = {m.marker_id: m.status for m in (await desk.borrower_records(request.identifiers, "SAR-2")).markers}
    assert seen[marker.marker_id] == common_pb2.MARKER_STATUS_DISPUTED

    # Both members follow it: the one that took it (to answer the borrower), the filer (to verify
    # its marker); a dispute of lender-b's own marker is lender-b's business, not lender-a's.
    b_marker = await b.hub_client.file_marker(
        common_pb2.Token(scheme=1, type=3, epoch=1, value=b"\x09" * 16), common_pb2.MARKER_TYPE_SUSPECT, "MULE"
    )
    consortium.clock.advance(60)  # opened later: listed after
    on_b = await consortium.admin.open_dispute(b_marker.marker_id, "raised with the admin directly")
    [seen_by_filer] = await a.as_role("risk_manager").list_disputes()
    assert seen_by_filer.dispute_id == dispute.dispute_id
    assert seen_by_filer.raised_by == ""  # not told which other lender the person went to
    assert seen_by_filer.subject_statement  # but told what the person says, to verify the marker
    raised, on_own = await desk.list_disputes()
    assert (raised.dispute_id, raised.raised_by) == (dispute.dispute_id, "lender-b")
    assert (on_own.dispute_id, on_own.raised_by) == (on_b.dispute_id, "admin/demo")
    await _refused(a.as_role("customer").list_disputes(), grpc.StatusCode.PERMISSION_DENIED)
    await consortium.admin.resolve_dispute(
        dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_UPHOLD, "police report on file"
    )
    assert await a.as_role("risk_manager").list_disputes() == []  # resolved: only with include_resolved
    [answer] = [d for d in await desk.list_disputes(include_resolved=True) if d.dispute_id == dispute.dispute_id]
    assert answer.resolution == common_pb2.DISPUTE_RESOLUTION_UPHOLD
    assert answer.resolution_note == "police report on file"


def test_markers_filed_before_the_node_recorded_them_are_found_after_an_upgrade(tmp_path: Path) -> None:
    """A node database from before ``filed_marker`` records: opening it backfills one per marker
    ConfirmFraud had filed (from the application's own list), once."""
    path = str(tmp_path / "node.db")
    store = NodeStore(path)
    app = Application(
        application_id="app_old",
        application_ref="ref-old",
        state="fraud_confirmed",
        product_code="p",
        applicant_kind="company",
        applicant_name="n",
        identifiers={},
        industry="",
        locality="",
        amount_fen=1,
        term_months=1,
        repayment_method="",
        consent_ref="",
        decision={"fraud_filed": {"1.3.1.aa": "mk_one", "1.5.1.bb": "mk_two"}},
    )
    store.create_application(app, "test", 0.0)
    store.close()
    with sqlite3.connect(path) as db:  # as an older version left it
        db.execute("PRAGMA user_version = 0")
    store = NodeStore(path)
    found = {r["marker_id"]: r["application_id"] for r in store.records_of_kind(FILED_MARKER)}
    assert found == {"mk_one": "app_old", "mk_two": "app_old"}
    assert store.query("PRAGMA user_version") == [(len(MIGRATIONS),)]
    store.close()
    NodeStore(path).close()  # a second open does nothing more
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM records WHERE kind = ?", (FILED_MARKER,)).fetchone() == (2,)


async def test_the_node_names_whoever_withdrew_a_marker_and_nobody_else(consortium: LocalConsortium) -> None:
    """Two risk managers withdrawing one marker at once: the one whose reason the hub kept is
    named, the other is answered with that withdrawal. A marker a dispute's resolution withdrew
    names nobody at the node, whoever calls WithdrawMarker afterwards."""
    a = consortium.members["lender-a"]
    view = await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "jc-race"))
    await a.as_role("risk_manager").confirm_fraud(view.application_id, "FORGED_DOCUMENTS", POLICE)
    first, second = sorted(f.marker.marker_id for f in await a.as_role("risk_manager").list_markers())[:2]

    one, other = a.as_role("risk_manager", "risk-1"), a.as_role("risk_manager", "risk-2")
    answers = await asyncio.gather(one.withdraw_marker(first, "reason one"), other.withdraw_marker(first, "reason two"))
    assert {x.withdrawn_by for x in answers} == {answers[0].withdrawn_by}  # both name the same person
    kept = answers[0].marker.withdraw_reason
    assert (answers[0].withdrawn_by, kept) in {("risk-1", "reason one"), ("risk-2", "reason two")}

    [dispute] = [await consortium.admin.open_dispute(second, "I never applied")]
    await consortium.admin.resolve_dispute(dispute.dispute_id, common_pb2.DISPUTE_RESOLUTION_WITHDRAW, "not them")
    late = await one.withdraw_marker(second, "cleaning up")
    assert late.marker.status == WITHDRAWN and late.withdrawn_by == ""
    assert dispute.dispute_id in late.marker.withdraw_reason and "not them" in late.marker.withdraw_reason
