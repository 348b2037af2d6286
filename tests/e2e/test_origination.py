"""Seed 002 stages 1-3 through a real consortium (hub + 3 nodes over TLS): the three personas,
a stacking applicant and a blacklisted one, roles, illegal transitions, restart persistence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from clients.node import NodeClient
from node.rules import CREDIT_SCORECARD
from node.server import reload_risk_model
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG, SHENDU_VISION
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock
from tests.support.consortium import log_refusing_appends
from tests.support.origination import (
    GAMED_FIELDS,
    application,
    findings,
    game,
    sign,
    signing_code,
    staff_view,
    texted_code,
)
from tests.support.outbox import drained

WAN = 10_000 * 100  # 万元 in fen


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    clock = ManualClock()
    c = await start_local_consortium(
        tmp_path,
        ["lender-a", "lender-b", "lender-c"],
        clock=clock,
        source_latency_ms=5,
        scenario_file=SEED_PERSONAS_FILE,
    )
    try:
        yield c, clock
    finally:
        await c.stop()


async def test_lao_wang_grey_zone_due_diligence_then_self_payment(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    customer = a.as_role("customer", "wang-jianguo")
    view = await staff_view(a, await customer.submit_application(application(LAO_WANG, "lw-1")))
    d = view.decision
    assert (d.anti_fraud_score, d.credit_score, d.grade) == (85, 78, "B")
    assert d.pre_credit_limit_fen == 20 * WAN and d.annual_rate == pytest.approx(0.045)
    assert view.state == "due_diligence" and "GREY_ZONE_SCORE" in d.reasons
    assert {s.name: s.status for s in d.sources} == {
        n: "ok" for n in ("registry", "tax", "flow", "bureau", "judicial", "fraud", "identity")
    }
    assert view.assigned_to == "xiao-li"  # 属地 shanghai-pudong + 行业 catering
    manager = a.as_role("customer_manager", "xiao-li")
    (task,) = await manager.list_tasks()
    assert task.kind == "due_diligence" and any("电费单" in item for item in task.checklist)
    with pytest.raises(LianfangRpcError) as err:  # not the assignee
        await a.as_role("customer_manager", "zhang-wei").submit_due_diligence(
            task.task_id, findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000)
        )
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    view = await manager.submit_due_diligence(
        task.task_id, findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000)
    )
    assert view.state == "approved"
    assert view.final_limit_fen == 18 * WAN and view.final_rate == pytest.approx(0.045)
    contract = await customer.get_contract(view.application_id)
    assert "180,000.00" in contract.document and contract.state == "awaiting_signature"
    borrower = Ed25519PrivateKey.generate()
    with pytest.raises(LianfangRpcError) as err:  # no code texted yet
        await customer.sign_contract(sign(contract, borrower, "123456"))
    assert [v.field for v in err.value.violations] == ["sms_code"]
    sent = await customer.send_signing_code(view.application_id)
    assert sent.sent_to == "+86 139****2718" and sent.expires_at.seconds == int(clock.now) + 300  # LAO_WANG's phone
    stale = texted_code(a.node)
    with pytest.raises(LianfangRpcError) as err:  # one code a minute
        await customer.send_signing_code(view.application_id)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and err.value.retry_after == pytest.approx(60, abs=1)
    wrong = "000000" if stale != "000000" else "111111"
    with pytest.raises(LianfangRpcError) as err:
        await customer.sign_contract(sign(contract, borrower, wrong))
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("sms_code", "not the code sent (4 tries left)")
    ]
    clock.advance(301)
    with pytest.raises(LianfangRpcError) as err:  # the right code, too late
        await customer.sign_contract(sign(contract, borrower, stale))
    assert "expired" in err.value.violations[0].description
    code = await signing_code(customer, a.node, view.application_id)
    for _ in range(5):
        with pytest.raises(LianfangRpcError):
            await customer.sign_contract(sign(contract, borrower, wrong))
    with pytest.raises(LianfangRpcError) as err:  # used up by five wrong tries: the right one no longer signs
        await customer.sign_contract(sign(contract, borrower, code))
    assert "too many wrong codes" in err.value.violations[0].description
    clock.advance(60)
    code = await signing_code(customer, a.node, view.application_id)
    signed = await customer.sign_contract(sign(contract, borrower, code))
    assert signed.state == "signed" and signed.signature_valid
    drawdown = await customer.request_drawdown(view.application_id, 15 * WAN)
    assert (drawdown.payment_mode, drawdown.state) == ("self", "disbursed")  # below 受托支付起点
    loan = await customer.get_loan(drawdown.loan_id)
    assert len(loan.schedule) == 12 and sum(i.principal_fen for i in loan.schedule) == 15 * WAN
    final = await customer.get_application(view.application_id)
    assert [t.to_state for t in final.history] == ["submitted", "due_diligence", "approved", "signed", "funded"]
    assert not any(t.reason or t.actor for t in final.history)  # the borrower sees states, not staff notes
    assert all(t.reason for t in (await staff_view(a, final)).history)
    await drained(a.node)  # outcomes reach the hub through the node's outbox
    stored = await c.hub.store.get_application("lender-a", view.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_FUNDED


async def test_shendu_vision_above_pre_credit_entrusted_payment_with_review(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    b = c.members["lender-b"]
    customer = b.as_role("customer", "lin-xiaowen")
    view = await staff_view(b, await customer.submit_application(application(SHENDU_VISION, "sv-1")))
    assert view.state == "due_diligence" and "AMOUNT_ABOVE_PRE_CREDIT" in view.decision.reasons
    assert view.decision.pre_credit_limit_fen < 80 * WAN
    manager = b.as_role("customer_manager", view.assigned_to)
    (task,) = await manager.list_tasks()
    view = await manager.submit_due_diligence(
        task.task_id, findings(clock.now, soft=5, consistent=True, wallet_yuan=120_000)
    )
    assert view.state == "approved" and view.final_limit_fen >= 80 * WAN
    contract = await customer.get_contract(view.application_id)
    code = await signing_code(customer, b.node, view.application_id)
    await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    with pytest.raises(LianfangRpcError) as err:
        await customer.request_drawdown(view.application_id, 80 * WAN)  # entrusted needs a payee
    assert [v.field for v in err.value.violations] == ["payee_account"]
    drawdown = await customer.request_drawdown(view.application_id, 80 * WAN, "6222020200112233445")
    assert (drawdown.payment_mode, drawdown.state) == ("entrusted", "pending_review")
    reviewer = b.as_role("disbursement_reviewer", "reviewer-1")
    (review_task,) = await reviewer.list_tasks(assignee="disbursement-reviewers")
    assert review_task.kind == "disbursement_review"
    done = await reviewer.review_disbursement(drawdown.drawdown_id, True, "payee contract checked")
    assert done.state == "disbursed"
    loan = await customer.get_loan(done.loan_id)
    assert [i.principal_fen for i in loan.schedule[:-1]] == [0] * 23  # interest first


async def test_jingcheng_equipment_loan_approved_in_stage_one(bank) -> None:  # type: ignore[no-untyped-def]
    c, _ = bank
    cc = c.members["lender-c"]
    customer = cc.as_role("customer", "liu-deming")
    unsecured = application(JINGCHENG_PARTS, "jc-0")
    unsecured.collateral_value_fen = 0  # an equipment loan without the equipment's price
    with pytest.raises(LianfangRpcError) as err:
        await staff_view(cc, await customer.submit_application(unsecured))
    assert [v.field for v in err.value.violations] == ["collateral_value_fen"]
    phoneless = application(JINGCHENG_PARTS, "jc-no-phone")
    del phoneless.identifiers.phones[:]  # approved, it could never be signed: no phone for the code
    with pytest.raises(LianfangRpcError) as err:
        await customer.submit_application(phoneless)
    assert [v.field for v in err.value.violations] == ["identifiers.phones"]
    view = await staff_view(cc, await customer.submit_application(application(JINGCHENG_PARTS, "jc-1")))
    assert view.state == "approved", list(view.decision.reasons)
    # the income would carry more; the 50万 machine at 70 % secures 35万 (seed 002)
    assert view.final_limit_fen == 35 * WAN and view.final_rate > 0
    assert view.collateral_value_fen == 50 * WAN
    contract = await customer.get_contract(view.application_id)
    code = await signing_code(customer, cc.node, view.application_id)
    await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    drawdown = await customer.request_drawdown(view.application_id, 35 * WAN, "31001520300050012345")
    assert (drawdown.payment_mode, drawdown.state) == ("entrusted", "pending_review")
    done = await cc.as_role("disbursement_reviewer").review_disbursement(drawdown.drawdown_id, True, "invoice ok")
    loan = await customer.get_loan(done.loan_id)
    assert len(loan.schedule) == 36 and loan.payment_mode == "entrusted"
    # Another customer reaches none of it: the application, its contract, a drawdown, the loan
    # answer NOT_FOUND, as an unknown id would. Staff still see it.
    mallory = cc.as_role("customer", "mallory")
    for call in (
        mallory.get_application(view.application_id),
        mallory.get_contract(view.application_id),
        mallory.send_signing_code(view.application_id),
        mallory.sign_contract(sign(contract, Ed25519PrivateKey.generate())),
        mallory.request_drawdown(view.application_id, 1_000 * 100, "31001520300050012345"),
        mallory.get_loan(done.loan_id),
    ):
        with pytest.raises(LianfangRpcError) as err:
            await call
        assert err.value.code == grpc.StatusCode.NOT_FOUND
    drawdowns = cc.node.engine.store.records_for("drawdown", view.application_id)
    assert [d["drawdown_id"] for d in drawdowns] == [drawdown.drawdown_id]  # mallory drew nothing
    assert (await cc.as_role("credit_approver").get_application(view.application_id)).state == "funded"
    with pytest.raises(LianfangRpcError) as err:  # nor by re-submitting its reference
        await staff_view(cc, await mallory.submit_application(application(JINGCHENG_PARTS, "jc-1")))
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS and view.application_id not in err.value.message
    assert (
        await staff_view(cc, await customer.submit_application(application(JINGCHENG_PARTS, "jc-1")))
    ).application_id == view.application_id
    other_account = application(JINGCHENG_PARTS, "jc-1")  # the borrower's own, resent with another account
    other_account.identifiers.bank_accounts.append("6222021234567890128")
    with pytest.raises(LianfangRpcError) as err:  # not a retry: its accounts decide 受托支付's own-account check
        await customer.submit_application(other_account)
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
    # Staff may submit on a borrower's behalf: the first customer to reach it by its id owns it.
    assisted = await cc.as_role("customer_manager", "xiao-li").submit_application(application(JINGCHENG_PARTS, "jc-2"))
    borrower = cc.as_role("customer", "liu-deming")
    assert (await borrower.get_contract(assisted.application_id)).application_id == assisted.application_id
    with pytest.raises(LianfangRpcError) as err:
        await mallory.get_application(assisted.application_id)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


async def test_stacking_and_blacklisted_applicants_are_referred_with_consortium_reasons(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    for lender, ref in (("lender-b", "b-stk"), ("lender-c", "c-stk")):
        await c.members[lender].as_role("customer").submit_application(application(LAO_WANG, ref))
        clock.advance(3600)
    view = await staff_view(
        c.members["lender-a"],
        await c.members["lender-a"].as_role("customer").submit_application(application(LAO_WANG, "a-stk")),
    )
    assert view.state == "referred"  # never declined on a consortium flag alone
    cs = {h.reason_code for h in view.decision.hits if h.source == "consortium"}
    assert cs and set(view.decision.reasons) >= cs
    assert any(r.code.startswith("STACKING_") for r in view.decision.consortium.reasons)

    b = c.members["lender-b"]
    token = b.tokeniser.primary.token(common_pb2.TOKEN_TYPE_USCC, JINGCHENG_PARTS.uscc)
    await b.hub_client.file_marker(
        token,
        common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
        "FORGED_DOCUMENTS",
        evidence_level=common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
    )
    view = await staff_view(
        c.members["lender-a"],
        await c.members["lender-a"].as_role("customer").submit_application(application(JINGCHENG_PARTS, "a-bl")),
    )
    assert view.state == "referred"
    assert any(h.source == "consortium" and h.action == "decline" for h in view.decision.hits)
    assert [h.marker_type for h in view.decision.consortium.blacklist] == [common_pb2.MARKER_TYPE_CONFIRMED_FRAUD]
    approver = c.members["lender-a"].as_role("credit_approver", "approver-1")
    decided = await approver.decide_referral(view.application_id, False, "confirmed fraud at another lender")
    assert decided.state == "declined" and decided.history[-1].actor == "approver-1"


async def test_roles_transitions_and_restart(bank) -> None:  # type: ignore[no-untyped-def]
    c, _ = bank
    a = c.members["lender-a"]
    customer = a.as_role("customer")
    view = await staff_view(a, await customer.submit_application(application(JINGCHENG_PARTS, "jc-roles")))
    again = await staff_view(a, await customer.submit_application(application(JINGCHENG_PARTS, "jc-roles")))
    assert again.application_id == view.application_id  # a retried submission is not a new application
    with pytest.raises(LianfangRpcError) as err:
        await customer.decide_referral(view.application_id, True, "I approve myself")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(LianfangRpcError) as err:
        await NodeClient(a.node_client.channel).get_application(view.application_id)  # no token
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(LianfangRpcError) as err:
        await customer.request_drawdown(view.application_id, 10 * WAN, "vendor")  # not signed yet
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(LianfangRpcError) as err:
        await a.as_role("credit_approver").decide_referral(view.application_id, True, "not referred")
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    contract = await customer.get_contract(view.application_id)
    tampered = sign(contract, Ed25519PrivateKey.generate(), await signing_code(customer, a.node, view.application_id))
    tampered.signature = bytes(64)
    with pytest.raises(LianfangRpcError) as err:
        await customer.sign_contract(tampered)
    assert [v.field for v in err.value.violations] == ["signature"]
    with pytest.raises(LianfangRpcError) as err:
        await staff_view(a, await customer.submit_application(node_pb2.SubmitApplicationRequest(application_ref="bad")))
    assert {"product_code", "consent_ref", "applicant_name"} <= {v.field for v in err.value.violations}

    # restart the node process on the same database: everything is still there
    before = await customer.get_application(view.application_id)
    await c.restart_node("lender-a")
    after = await c.members["lender-a"].as_role("customer").get_application(view.application_id)
    assert after == before
    assert (
        await c.members["lender-a"].as_role("customer").get_contract(view.application_id)
    ).document == contract.document


async def test_late_source_and_unreachable_hub_refer_with_reasons(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    text = Path(SEED_PERSONAS_FILE).read_text(encoding="utf-8")
    tax = f'[applicants."{SHENDU_VISION.uscc}".tax]'
    text = text.replace(tax, f'{tax}\noutcome = "timeout"', 1)
    identity = text.index(f'[applicants."{JINGCHENG_PARTS.uscc}".identity]')
    face = text.index("auth_face_match = true", identity)
    text = text[:face] + "auth_face_match = false" + text[face + len("auth_face_match = true") :]
    scenario.write_text(text, encoding="utf-8")
    c = await start_local_consortium(
        tmp_path / "c",
        ["lender-a"],
        source_latency_ms=5,
        scenario_file=str(scenario),
        node_options={"source_deadline_seconds": 0.3},
    )
    try:
        customer = c.members["lender-a"].as_role("customer")
        late = await staff_view(
            c.members["lender-a"], await customer.submit_application(application(SHENDU_VISION, "late-1"))
        )
        assert late.state == "referred" and "SOURCE_TIMEOUT_TAX" in late.decision.reasons
        assert {s.name: s.status for s in late.decision.sources}["tax"] == "timeout"
        face = await staff_view(
            c.members["lender-a"], await customer.submit_application(application(JINGCHENG_PARTS, "face-1"))
        )
        assert face.state == "declined" and "FACE_CHECK_FAILED" in face.decision.reasons
        await c.hub.stop(0)  # the hub goes away: the node refers, never approves
        down = await staff_view(
            c.members["lender-a"], await customer.submit_application(application(LAO_WANG, "down-1"))
        )
        assert down.state == "referred" and "HUB_UNAVAILABLE" in down.decision.reasons
    finally:
        await c.stop()


async def test_sources_that_all_time_out_refer_an_applicant_they_would_have_approved(tmp_path: Path) -> None:
    """Missing features score the scorecards' ``missing`` points: a credit score that low is the
    outage's, not the applicant's, so it refers (to a person) instead of declining for good."""
    c = await start_local_consortium(
        tmp_path / "c", ["lender-a"], source_latency_ms=200, node_options={"source_deadline_seconds": 0.02}
    )
    try:
        customer = c.members["lender-a"].as_role("customer")
        view = await staff_view(
            c.members["lender-a"], await customer.submit_application(application(JINGCHENG_PARTS, "slow-1"))
        )
        assert view.state == "referred", list(view.decision.reasons)
        reasons = set(view.decision.reasons)
        assert {"SOURCE_TIMEOUT_BUREAU", "CREDIT_SCORE_LOW"} <= reasons  # the score still shows why
    finally:
        await c.stop()


async def test_confirmed_fraud_is_reported_with_evidence_and_hits_elsewhere(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    view = await staff_view(a, await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "jc-fraud")))
    with pytest.raises(LianfangRpcError) as err:
        await a.as_role("customer_manager").confirm_fraud(
            view.application_id, "FORGED_DOCUMENTS", common_pb2.EVIDENCE_LEVEL_POLICE_REPORT
        )
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    risk = a.as_role("risk_manager", "risk-1")
    with pytest.raises(LianfangRpcError) as err:
        await risk.confirm_fraud(view.application_id, "FORGED_DOCUMENTS", common_pb2.EVIDENCE_LEVEL_UNSPECIFIED)
    assert [v.field for v in err.value.violations] == ["evidence_level"]
    fraud = await risk.confirm_fraud(
        view.application_id, "FORGED_DOCUMENTS", common_pb2.EVIDENCE_LEVEL_POLICE_REPORT, "case-7"
    )
    assert fraud.state == "fraud_confirmed" and fraud.history[-1].actor == "risk-1"
    await drained(a.node)
    stored = await c.hub.store.get_application("lender-a", view.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_FRAUD_CONFIRMED
    usage = {u.member_id: u for u in await c.admin.list_usage()}["lender-a"]
    assert len(await a.hub_client.list_my_markers()) >= 2  # one per identifier
    # filed from the application's Check, they are its one contribution, beside the outcome
    assert usage.contribution_ratio * usage.checks == pytest.approx(1 + usage.outcomes_reported)
    clock.advance(86_400)
    own = await c.members["lender-b"].as_role("customer", "liu").submit_application(application(JINGCHENG_PARTS, "b-1"))
    elsewhere = await staff_view(c.members["lender-b"], own)
    hits = elsewhere.decision.consortium.blacklist
    assert {h.marker_type for h in hits} == {common_pb2.MARKER_TYPE_CONFIRMED_FRAUD}
    # the applicant's own view says the outcome, not which marker, rule or score caught him
    assert elsewhere.decision.reasons and elsewhere.decision.hits and elsewhere.decision.anti_fraud_score
    assert own.state == elsewhere.state and own.decision.outcome == elsewhere.decision.outcome
    assert not own.decision.HasField("consortium") and not own.decision.reasons and not own.decision.hits
    assert (own.decision.anti_fraud_score, own.decision.credit_score, own.decision.grade) == (0, 0, "")
    assert not own.decision.sources and not own.decision.rule_set_version and not own.assigned_to
    assert not any(t.actor or t.reason for t in own.history)
    again = await c.members["lender-b"].as_role("customer", "liu").get_application(own.application_id)
    assert again == own  # GetApplication shows the borrower the same
    assert all(h.evidence_level == common_pb2.EVIDENCE_LEVEL_POLICE_REPORT for h in hits)
    assert elsewhere.state == "referred"  # a consortium flag refers; it never declines by itself


async def test_confirm_fraud_refuses_bad_input_maps_hub_errors_and_never_files_twice(bank) -> None:  # type: ignore[no-untyped-def]
    """ConfirmFraud checks what it forwards (a reason code the hub takes, no personal data in the
    case reference) before filing anything; a hub failure midway answers the hub's meaning
    (UNAVAILABLE, not INTERNAL) and keeps the markers already filed, so the retry files only the
    rest; two concurrent calls file once."""
    c, _ = bank
    a = c.members["lender-a"]
    risk = a.as_role("risk_manager", "risk-1")
    police = common_pb2.EVIDENCE_LEVEL_POLICE_REPORT
    submitted = application(JINGCHENG_PARTS, "jc-twice")
    submitted.identifiers.device_ids.append("AND-9f8e7d6c5b4a")
    submitted.identifiers.addresses.append("江苏省苏州市吴中区木渎镇金山路88号")
    view = await staff_view(a, await a.as_role("customer").submit_application(submitted))
    for reason, case_ref, field in (
        ("forged_documents", "", "reason_code"),
        ("FORGED_15895472306", "", "reason_code"),
        ("ID320506197003080176", "", "reason_code"),  # the legal rep's ID: a code's shape, the applicant's own
        ("FRAUD_AND9F8E7D6C5B4A", "", "reason_code"),  # its device, in a code's shape
        ("FORGED_DOCUMENTS", "报案人 320506197003080176", "case_ref"),
        ("FORGED_DOCUMENTS", "设备 and-9f8e7d6c5b4a", "case_ref"),  # no shape finds a device id: its own
        ("FORGED_DOCUMENTS", "江苏省苏州市吴中区木渎镇金山路88号 现场", "case_ref"),
        ("FORGED_DOCUMENTS", f"{JINGCHENG_PARTS.name}骗贷", "case_ref"),
        ("FORGED_DOCUMENTS", "x" * 129, "case_ref"),
    ):
        with pytest.raises(LianfangRpcError) as err:
            await risk.confirm_fraud(view.application_id, reason, police, case_ref)
        assert (err.value.code, [v.field for v in err.value.violations]) == (grpc.StatusCode.INVALID_ARGUMENT, [field])
    hub_side = a.hub_client
    assert await hub_side.list_my_markers() == []

    with log_refusing_appends(c.hub.store, after=1), pytest.raises(LianfangRpcError) as err:  # one filing taken
        await risk.confirm_fraud(view.application_id, "FORGED_DOCUMENTS", police, "CASE-7")
    assert err.value.code == grpc.StatusCode.UNAVAILABLE
    assert len(await hub_side.list_my_markers()) == 1
    assert (await risk.get_application(view.application_id)).state != "fraud_confirmed"
    first, second = await asyncio.gather(
        risk.confirm_fraud(view.application_id, "FORGED_DOCUMENTS", police, "CASE-7"),
        risk.confirm_fraud(view.application_id, "FORGED_DOCUMENTS", police, "CASE-7"),
        return_exceptions=True,
    )
    [done] = [r for r in (first, second) if not isinstance(r, BaseException)]
    [refused] = [r for r in (first, second) if isinstance(r, LianfangRpcError)]
    assert done.state == "fraud_confirmed" and refused.code == grpc.StatusCode.FAILED_PRECONDITION
    filed = await hub_side.list_my_markers()
    assert len(filed) == len({m.token.value for m in filed}) >= 2  # one marker per identifier, none twice


async def test_a_submission_its_caller_gave_up_on_is_decided_by_the_retry(tmp_path: Path) -> None:
    """The caller goes away while stage 1 waits on slow sources: the application is stored but
    undecided. A retry of the same reference runs stage 1 for it (one application, the hub
    counting its Check once); a retry with other identifiers is refused; a person applicant
    without an ID number is INVALID_ARGUMENT up front instead of INTERNAL half-way."""
    c = await start_local_consortium(tmp_path, ["lender-a"], clock=ManualClock(), source_latency_ms=600)
    try:
        customer = c.members["lender-a"].as_role("customer")
        request = application(JINGCHENG_PARTS, "jc-slow")
        first = asyncio.create_task(customer.submit_application(request))
        await asyncio.sleep(0.3)  # stage 1 is waiting on the sources
        first.cancel()  # the caller goes away: the node's handler is cancelled too
        with pytest.raises(asyncio.CancelledError):
            await first
        store = c.members["lender-a"].node.engine.store
        await asyncio.sleep(0.2)
        stuck = store.find_by_ref("jc-slow")
        assert stuck is not None and stuck.state == "submitted"
        other = application(JINGCHENG_PARTS, "jc-slow")
        other.identifiers.phones[:] = ["13900001111"]
        with pytest.raises(LianfangRpcError) as err:
            await staff_view(c.members["lender-a"], await customer.submit_application(other))
        assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
        done = await staff_view(c.members["lender-a"], await customer.submit_application(request))
        assert done.application_id == stuck.application_id and done.state != "submitted"
        hub_side = await c.hub.store.get_application("lender-a", stuck.application_id)
        assert hub_side is not None
        person = application(LAO_WANG, "lw-no-id")
        person.applicant_kind = common_pb2.APPLICANT_KIND_PERSON
        person.identifiers.legal_rep_resident_id = ""
        with pytest.raises(LianfangRpcError) as err:
            await staff_view(c.members["lender-a"], await customer.submit_application(person))
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "identifiers.resident_id" in [v.field for v in err.value.violations]
        assert store.find_by_ref("lw-no-id") is None
        # more identifiers than a Check takes: refused here, not stored and referred as HUB_REFUSED
        crowded = application(JINGCHENG_PARTS, "jc-crowded")
        crowded.identifiers.phones[:] = [f"+86139{n:08d}" for n in range(63)]  # + USCC + legal rep = 65
        with pytest.raises(LianfangRpcError) as err:
            await staff_view(c.members["lender-a"], await customer.submit_application(crowded))
        assert [v.field for v in err.value.violations] == ["identifiers"]
        assert store.find_by_ref("jc-crowded") is None
        crowded.identifiers.phones[:] = crowded.identifiers.phones[:62]  # 64: taken
        assert (await customer.submit_application(crowded)).decision.outcome
    finally:
        await c.stop()


async def test_an_applicant_typed_differently_is_the_same_applicant_to_the_sources(bank) -> None:  # type: ignore[no-untyped-def]
    """Sources get the identifiers in their canonical spelling (as the tokens do): the USCC with
    spaces, the legal representative's ID in full-width digits are the same company and person
    to a provider, so they score and decide the same."""
    c, _ = bank
    customer = c.members["lender-a"].as_role("customer")
    typed = application(JINGCHENG_PARTS, "jc-typed")
    typed.identifiers.uscc = "9132 0506 ma1m xk4d 5d"
    typed.identifiers.legal_rep_resident_id = JINGCHENG_PARTS.legal_rep_resident_id.translate(
        {ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"}
    )
    plain = await staff_view(
        c.members["lender-a"], await customer.submit_application(application(JINGCHENG_PARTS, "jc-plain"))
    )
    spelled = await staff_view(c.members["lender-a"], await customer.submit_application(typed))
    assert plain.state == "approved"
    assert (spelled.state, spelled.decision.credit_score, spelled.decision.grade) == (
        plain.state,
        plain.decision.credit_score,
        plain.decision.grade,
    )
    # a retry under the same reference in yet another spelling is the same application
    again = application(JINGCHENG_PARTS, "jc-typed")
    assert (await customer.submit_application(again)).application_id == spelled.application_id
    # but the same reference with another term (or applicant name, industry, locality) is not
    other_term = application(JINGCHENG_PARTS, "jc-typed")
    other_term.term_months = 12
    with pytest.raises(LianfangRpcError) as taken:
        await staff_view(c.members["lender-a"], await customer.submit_application(other_term))
    assert taken.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_due_diligence_evidence_no_visit_produced_is_refused_and_old_photos_do_not_count(bank) -> None:  # type: ignore[no-untyped-def]
    """Gamed photos raised the final limit: a digest that is no SHA-256, a position off the
    globe, a date in 2100, one image twice, and notes of any length were scored. They are
    INVALID_ARGUMENT naming each field, the task left open; photos taken long before the task
    was opened are no evidence of this visit and score nothing."""
    c, clock = bank
    a = c.members["lender-a"]
    view = await staff_view(
        a, await a.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "lw-photos"))
    )
    assert view.state == "due_diligence"
    manager = a.as_role("customer_manager", view.assigned_to)
    (task,) = await manager.list_tasks()
    clock.advance(86_400)  # the visit, the next day
    gamed = game(findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000))
    with pytest.raises(LianfangRpcError) as err:
        await manager.submit_due_diligence(task.task_id, gamed)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.violations] == GAMED_FIELDS
    assert [t.task_id for t in await manager.list_tasks()] == [task.task_id]  # still open, nothing scored
    stored = await manager.get_application(view.application_id)
    assert stored.state == "due_diligence" and stored.final_limit_fen == 0
    # photos of the shop from before the case was opened: the visit's other findings alone
    # score too low (with these photos counted it was approved at 18万, as in the first test)
    stale = findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000)
    for photo in stale.photos:
        photo.taken_at.seconds = int(clock.now) - 3 * 86_400
    referred = await manager.submit_due_diligence(task.task_id, stale)
    assert referred.state == "referred"
    assert "DD_PHOTO_EVIDENCE_INSUFFICIENT" in referred.history[-1].reason


async def test_confirmed_fraud_closes_the_applications_tasks_and_rejects_its_pending_drawdowns(bank) -> None:  # type: ignore[no-untyped-def]
    """Confirming fraud left the manager's due-diligence task open for good (submitting it
    failed), and a drawdown waiting for review pending with its amount reserved. The state
    change closes them in the same transaction, and the history says so."""
    c, clock = bank
    a = c.members["lender-a"]
    risk = a.as_role("risk_manager", "risk-1")
    police = common_pb2.EVIDENCE_LEVEL_POLICE_REPORT
    view = await staff_view(
        a, await a.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "lw-dd-fraud"))
    )
    manager = a.as_role("customer_manager", view.assigned_to)
    (task,) = await manager.list_tasks()
    fraud = await risk.confirm_fraud(view.application_id, "FAKE_SHOP", police, "CASE-1")
    assert (fraud.state, fraud.assigned_to) == ("fraud_confirmed", "")
    assert "closed its open task(s): due_diligence" in fraud.history[-1].reason
    assert await manager.list_tasks() == []
    assert [t.state for t in await manager.list_tasks(include_done=True) if t.task_id == task.task_id] == ["done"]
    with pytest.raises(LianfangRpcError) as err:
        await manager.submit_due_diligence(task.task_id, findings(clock.now, soft=3, consistent=True, wallet_yuan=1))
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION

    customer = a.as_role("customer", "liu-deming")
    view = await staff_view(a, await customer.submit_application(application(JINGCHENG_PARTS, "jc-dd-fraud")))
    code = await signing_code(customer, a.node, view.application_id)
    contract = await customer.get_contract(view.application_id)
    await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    paid = await customer.request_drawdown(view.application_id, 5 * WAN)  # below review: disbursed
    waiting = await customer.request_drawdown(view.application_id, 20 * WAN, "31001520300050012345")
    assert (paid.state, waiting.state) == ("disbursed", "pending_review")
    reviewer = a.as_role("disbursement_reviewer", "reviewer-1")
    assert len(await reviewer.list_tasks(assignee="disbursement-reviewers")) == 1
    fraud = await risk.confirm_fraud(view.application_id, "FAKE_INVOICE", police, "CASE-2")
    assert fraud.state == "fraud_confirmed"
    assert "rejected 1 drawdown(s) pending review, 200000 yuan released" in fraud.history[-1].reason
    assert "disbursement_review" in fraud.history[-1].reason
    assert await reviewer.list_tasks(assignee="disbursement-reviewers") == []
    store = a.node.engine.store
    states = {d["drawdown_id"]: d["state"] for d in store.records_for("drawdown", view.application_id)}
    assert states == {paid.drawdown_id: "disbursed", waiting.drawdown_id: "rejected"}
    assert store.get_application(view.application_id).drawn_fen == 5 * WAN  # only what was paid out
    for approve in (True, False):
        with pytest.raises(LianfangRpcError) as err:
            await reviewer.review_disbursement(waiting.drawdown_id, approve, "too late")
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert (await customer.get_loan(paid.loan_id)).principal_fen == 5 * WAN  # the loan paid out stays


async def test_applicant_text_with_control_characters_is_refused(bank) -> None:  # type: ignore[no-untyped-def]
    """The applicant's name goes into the contract document: a NUL, a line break or a bidi
    override there forges or hides contract lines. Name, industry and locality are refused
    with such characters (and industry and locality over 100 characters), nothing stored."""
    c, _ = bank
    a = c.members["lender-a"]
    customer = a.as_role("customer", "wang-jianguo")
    bad = application(LAO_WANG, "lw-ctl")
    bad.applicant_name = "老王\x00\n<script>"
    bad.locality = "shanghai\u202e-pudong"
    with pytest.raises(LianfangRpcError) as err:
        await staff_view(a, await customer.submit_application(bad))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.violations] == ["applicant_name", "locality"]
    bad = application(LAO_WANG, "lw-ctl")
    bad.industry = "catering\u2028"
    bad.locality = "x" * 100_000
    with pytest.raises(LianfangRpcError) as err:
        await staff_view(a, await customer.submit_application(bad))
    assert [v.field for v in err.value.violations] == ["locality", "industry"]
    assert a.node.engine.store.find_by_ref("lw-ctl") is None
    fine = application(LAO_WANG, "lw-ctl")
    fine.applicant_name = "老王家常菜·浦东店 (Lao Wang's)"
    assert (await customer.submit_application(fine)).applicant_name == fine.applicant_name


async def test_due_diligence_never_lends_past_the_pledge(bank) -> None:  # type: ignore[no-untyped-def]
    """A 30万 machine secures 21万 at 70 %: asking 30万 goes to due diligence, and the strongest
    findings still set the final limit no higher than the pledge allows."""
    c, clock = bank
    cc = c.members["lender-c"]
    request = application(JINGCHENG_PARTS, "jc-pledge")
    request.collateral_value_fen = request.amount_fen = 30 * WAN
    view = await staff_view(cc, await cc.as_role("customer", "liu-deming").submit_application(request))
    assert (view.state, view.decision.pre_credit_limit_fen) == ("due_diligence", 21 * WAN)
    manager = cc.as_role("customer_manager", view.assigned_to)
    (task,) = [t for t in await manager.list_tasks() if t.application_id == view.application_id]
    strong = findings(clock.now, soft=5, consistent=True, wallet_yuan=900_000, customs=True)
    view = await manager.submit_due_diligence(task.task_id, strong)
    # below the amount asked: a credit approver decides, within the pledge too
    assert (view.state, view.final_limit_fen) == ("referred", 21 * WAN)
    approver = cc.as_role("credit_approver")
    view = await approver.decide_referral(view.application_id, True, "lend what the machine secures")
    assert view.state == "approved" and view.final_limit_fen == 21 * WAN


async def test_signing_codes_are_rationed(bank) -> None:  # type: ignore[no-untyped-def]
    """One a minute and ten a day: with five tries each, a guesser gets 50 tries a day."""
    c, clock = bank
    customer = c.members["lender-c"].as_role("customer", "liu-deming")
    view = await staff_view(
        c.members["lender-c"], await customer.submit_application(application(JINGCHENG_PARTS, "jc-codes"))
    )
    assert view.state == "approved"
    clock.advance(86_400 - clock.now % 86_400 + 60)  # early in a UTC day
    for _ in range(10):
        await customer.send_signing_code(view.application_id)
        clock.advance(61)
    with pytest.raises(LianfangRpcError) as err:
        await customer.send_signing_code(view.application_id)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "10 signing codes sent today" in err.value.message
    clock.advance(86_400)
    assert (await customer.send_signing_code(view.application_id)).sent_to == "+86 158****2306"


async def test_a_reloaded_credit_scorecard_decides_the_next_application(tmp_path: Path) -> None:
    """What SIGHUP does (``reload_risk_model``): the files are read again and the next decision
    is made, and recorded, by the new models; files that do not load leave the running ones."""
    credit = tmp_path / "credit.toml"
    shipped = CREDIT_SCORECARD.read_text(encoding="utf-8")
    credit.write_text(shipped, encoding="utf-8")
    c = await start_local_consortium(
        tmp_path / "c",
        ["lender-a"],
        source_latency_ms=0,
        scenario_file=SEED_PERSONAS_FILE,
        node_options={"credit_scorecard_file": str(credit)},
    )
    try:
        a = c.members["lender-a"]
        customer = a.as_role("customer", "wang-jianguo")
        first = (await staff_view(a, await customer.submit_application(application(LAO_WANG, "lw-r1")))).decision
        assert (first.grade, first.rule_set_version.split()[-1]) == ("B", "sme-credit@2025.06.1")
        stricter = shipped.replace("B = 75", "B = 80", 1).replace('version = "2025.06.1"', 'version = "2099.01"', 1)
        credit.write_text(stricter, encoding="utf-8")
        reload_risk_model(a.config, a.node.engine)
        second = (await staff_view(a, await customer.submit_application(application(LAO_WANG, "lw-r2")))).decision
        assert (second.credit_score, second.grade) == (78, "C")
        assert second.rule_set_version.split()[-1] == "sme-credit@2099.01"
        credit.write_text("[grades]\nA = 'x'\n", encoding="utf-8")
        reload_risk_model(a.config, a.node.engine)
        third = (await staff_view(a, await customer.submit_application(application(LAO_WANG, "lw-r3")))).decision
        assert (third.grade, third.rule_set_version) == ("C", second.rule_set_version)
    finally:
        await c.stop()


async def test_an_approver_grants_no_more_than_the_evidence_unless_saying_so(bank) -> None:  # type: ignore[no-untyped-def]
    """A visit that scored nothing left the final limit at 0, and approving the referral gave the
    whole pre-credit limit (more than a passing visit): now the approver must set the limit, within
    the product and the pledge."""
    c, clock = bank
    a = c.members["lender-a"]
    view = await staff_view(
        a, await a.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "lw-weak"))
    )
    manager = a.as_role("customer_manager", "xiao-li")
    (task,) = [t for t in await manager.list_tasks() if t.application_id == view.application_id]
    weak = findings(clock.now, soft=1, consistent=False, wallet_yuan=0)
    del weak.photos[:]
    weak.electricity_fen[:] = [0, 0, 0]
    view = await manager.submit_due_diligence(task.task_id, weak)
    assert (view.state, view.final_limit_fen) == ("referred", 0)
    approver = a.as_role("credit_approver")
    with pytest.raises(LianfangRpcError) as err:
        await approver.decide_referral(view.application_id, True, "known customer")
    assert [v.field for v in err.value.violations] == ["final_limit_fen"]
    with pytest.raises(LianfangRpcError) as err:  # past the product's maximum
        await approver.decide_referral(view.application_id, True, "known customer", final_limit_fen=10**12)
    assert [v.field for v in err.value.violations] == ["final_limit_fen"]
    view = await approver.decide_referral(view.application_id, True, "known customer", final_limit_fen=10 * WAN)
    assert (view.state, view.final_limit_fen) == ("approved", 10 * WAN)


async def test_a_decision_is_counted_once_it_is_stored(tmp_path: Path) -> None:
    """The node's database refusing the decision's write (a SQLite trigger: a full or failing
    disk): the resend decides again, and the decision counter counts the one that was stored."""
    import sqlite3

    c = await start_local_consortium(
        tmp_path / "c", ["lender-a"], source_latency_ms=0, scenario_file=SEED_PERSONAS_FILE
    )
    try:
        m = c.members["lender-a"]
        db = sqlite3.connect(m.config.database, isolation_level=None)
        db.execute(
            "CREATE TRIGGER refuse_decision BEFORE INSERT ON transitions WHEN NEW.from_state = 'submitted'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        customer = m.as_role("customer", "wang-jianguo")
        with pytest.raises(LianfangRpcError):
            await staff_view(m, await customer.submit_application(application(LAO_WANG, "lw-counted")))
        db.execute("DROP TRIGGER refuse_decision")
        db.close()
        view = await customer.submit_application(application(LAO_WANG, "lw-counted"))  # the resend
        registry = m.node.metrics.registry
        counted = registry.get_sample_value("lianfang_node_decisions_total", {"outcome": view.decision.outcome})
        assert counted == 1
    finally:
        await c.stop()


async def test_an_evidence_limit_below_the_product_minimum_needs_the_approver_s_own(bank) -> None:  # type: ignore[no-untyped-def]
    """Approving without a limit gives the evidence's only when the product lends that much."""
    c, _ = bank
    a = c.members["lender-a"]
    engine = a.node.engine
    view = await staff_view(
        a, await a.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "lw-small"))
    )
    app = engine.store.get_application(view.application_id)
    app.decision = {**app.decision, "pre_credit_limit_fen": 3_000 * 100}  # below 小微普惠贷's 10,000 yuan
    app.decision.pop("due_diligence", None)
    app.final_limit_fen = 0
    engine.store.save(app, engine.clock(), to_state="referred", actor="system", reason="test: referred")
    approver = a.as_role("credit_approver")
    with pytest.raises(LianfangRpcError) as err:
        await approver.decide_referral(view.application_id, True, "small but fine")
    assert [v.field for v in err.value.violations] == ["final_limit_fen"]


async def test_the_products_on_offer_show_their_terms_not_their_risk_settings(bank) -> None:  # type: ignore[no-untyped-def]
    """产品中心: a front end lists the products before an application, filtered by the kind of
    applicant; the terms come from the node's products file, and a bad kind names the field."""
    from node.origination.products import load_products

    c, _ = bank
    customer = c.members["lender-a"].as_role("customer", "anyone")
    products = await customer.list_products()
    shipped = load_products()
    assert [p.code for p in products] == sorted(shipped)
    for view in products:
        product = shipped[view.code]
        assert (view.name, view.min_amount_fen, view.max_amount_fen) == (
            product.name,
            product.min_amount_fen,
            product.max_amount_fen,
        )
        assert (view.min_annual_rate, view.max_annual_rate) == (
            min(product.price_grid.values()),
            max(product.price_grid.values()),
        )
        assert list(view.repayment_methods) == list(product.repayment_methods)
        assert view.entrusted_payment_threshold_fen == product.entrusted_payment_threshold_fen
        assert (view.approval_valid_days, view.availability_months) == (30, 12)
        assert not {"grey_zone", "min_credit_score", "revenue_factor"} & {f.name for f, _ in view.ListFields()}
    shops = await customer.list_products(common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS)
    assert [p.code for p in shops] == ["shebei_diya", "xiaowei_puhui"]  # keji_liudong lends to companies only
    assert await customer.list_products(common_pb2.APPLICANT_KIND_PERSON) == []  # none lends to persons
    with pytest.raises(LianfangRpcError) as err:
        await customer.list_products(9)  # type: ignore[arg-type]
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.violations] == ["applicant_kind"]


async def test_a_retry_may_list_its_identifiers_in_another_order(bank) -> None:  # type: ignore[no-untyped-def]
    c, _ = bank
    customer = c.members["lender-a"].as_role("customer", "wang-jianguo")
    first = application(LAO_WANG, "lw-order")
    first.identifiers.device_ids.extend(["dev-AAA-1", "dev-BBB-2"])
    first.identifiers.bank_accounts.extend(["6222021234567890128", "6212261234567890126"])
    view = await customer.submit_application(first)
    again = application(LAO_WANG, "lw-order")
    again.identifiers.device_ids.extend(["dev-BBB-2", "dev-AAA-1", "dev-BBB-2"])
    again.identifiers.bank_accounts.extend(["6212261234567890126", "6222021234567890128"])
    assert (await customer.submit_application(again)).application_id == view.application_id


async def test_a_borrower_sees_no_limit_it_was_not_offered(bank) -> None:  # type: ignore[no-untyped-def]
    """A visit whose evidence supports less than the amount asked refers the application with
    that limit on it, and declining the referral leaves it: staff see it, the borrower does not
    (nothing was offered)."""
    c, clock = bank
    a = c.members["lender-a"]
    customer = a.as_role("customer", "wang-jianguo")
    view = await customer.submit_application(application(LAO_WANG, "lw-unoffered", amount_yuan=500_000))
    manager = a.as_role("customer_manager", "xiao-li")
    (task,) = [t for t in await manager.list_tasks() if t.application_id == view.application_id]
    visit = findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000)  # the evidence's limit: below 50万
    referred = await manager.submit_due_diligence(task.task_id, visit)
    assert referred.state == "referred" and referred.final_limit_fen > 0  # staff: the evidence's limit
    own = await customer.get_application(view.application_id)
    assert (own.state, own.final_limit_fen, own.final_rate) == ("referred", 0, 0.0)
    await a.as_role("credit_approver").decide_referral(view.application_id, False, "too weak")
    own = await customer.get_application(view.application_id)
    assert (own.state, own.final_limit_fen, own.final_rate) == ("declined", 0, 0.0)
