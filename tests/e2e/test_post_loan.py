"""Seed 002 stage 4 through a real consortium (hub + nodes over TLS, SQLite files): the 老王家常菜
no-flow month with its task, freeze and family-illness disposition; the consortium's co-debt
alert live, offline with a hub restart in between, and exactly once after acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import LocalConsortium, LocalMember, start_local_consortium
from clients.errors import LianfangRpcError
from node.monitoring.accounts import MONTH_SECONDS
from node.sources.personas import LAO_WANG
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.clock import ManualClock
from tests.support.origination import application, findings, sign, signing_code
from tests.support.outbox import drained

WAN = 10_000 * 100
DAY = 86_400.0


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    clock = ManualClock()
    c = await start_local_consortium(
        tmp_path, ["lender-a", "lender-b"], clock=clock, source_latency_ms=5, scenario_file=SEED_PERSONAS_FILE
    )
    try:
        yield c, clock
    finally:
        await c.stop()


async def lao_wang_loan(m: LocalMember, clock: ManualClock, ref: str) -> tuple[str, str]:
    """Stages 1-3 of the seed at one member: (application id, loan id) of a 15万 drawdown."""
    customer = m.as_role("customer", "wang-jianguo")
    view = await customer.submit_application(application(LAO_WANG, ref))
    manager = m.as_role("customer_manager", "xiao-li")
    (task,) = [t for t in await manager.list_tasks() if t.application_id == view.application_id]
    await manager.submit_due_diligence(task.task_id, findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000))
    contract = await customer.get_contract(view.application_id)
    code = await signing_code(customer, m.node, view.application_id)
    await customer.sign_contract(sign(contract, Ed25519PrivateKey.generate(), code))
    drawdown = await customer.request_drawdown(view.application_id, 15 * WAN)
    return view.application_id, drawdown.loan_id


async def pay_what_is_due(m: LocalMember, loan_id: str, now: float) -> node_pb2.LoanView:
    """The borrower pays on time: the core banking system reports what fell due by ``now``."""
    loan = await m.as_role("customer", "wang-jianguo").get_loan(loan_id)
    due = sum(i.principal_fen + i.interest_fen for i in loan.schedule if i.due.seconds <= now)
    if due <= loan.paid_fen:
        return loan
    officer = m.as_role("post_loan_officer", "officer-1")
    return await officer.repay_loan(loan_id, amount_fen=due - loan.paid_fen, payment_id=f"core-{int(now)}")


async def risk_tasks(m: LocalMember, manager: str = "xiao-li") -> list[node_pb2.Task]:
    tasks = await m.as_role("customer_manager", manager).list_tasks(include_done=True)
    return [t for t in tasks if t.kind == "risk_check"]


async def test_lao_wang_no_flow_month_task_freeze_disposition_unfreeze(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    app_id, loan_id = await lao_wang_loan(a, clock, "lw-post")
    officer = a.as_role("post_loan_officer", "officer-1")
    customer = a.as_role("customer", "wang-jianguo")

    clock.advance(5 * MONTH_SECONDS + DAY)  # months 1-5: steady flows, instalments paid
    await pay_what_is_due(a, loan_id, clock.now)
    run = await officer.run_monitoring()
    assert run.loans_checked == 1 and not run.frozen and not [x for x in run.alerts if x.level != "reminder"]

    clock.advance(MONTH_SECONDS)  # six months after drawdown: no flow for a month
    await pay_what_is_due(a, loan_id, clock.now)
    run = await officer.run_monitoring()
    assert list(run.frozen) == [app_id]
    (alert,) = [x for x in run.alerts if x.rule == "no_flow"]
    assert alert.level == "red" and alert.loan_id == loan_id and "month 6" in alert.detail
    (task,) = await risk_tasks(a)  # in 小李's task list
    assert task.task_id == alert.task_id and task.state == "open" and task.application_id == app_id
    with pytest.raises(LianfangRpcError) as err:  # the unused limit is frozen
        await customer.request_drawdown(app_id, 1 * WAN)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    again = await officer.run_monitoring()  # the same day again: nothing twice
    assert not again.frozen and not [x for x in again.alerts if x.rule == "no_flow"]
    assert len(await risk_tasks(a)) == 1

    bad = node_pb2.RecordDispositionRequest(task_id=task.task_id, outcome="risk_mitigated", note="")
    with pytest.raises(LianfangRpcError) as err:
        await a.as_role("customer_manager", "xiao-li").record_disposition(bad)
    assert [v.field for v in err.value.violations] == ["note"]
    note = "王建国家人住院, 店铺暂停营业半个月; 关注后续经营恢复情况"
    request = node_pb2.RecordDispositionRequest(task_id=task.task_id, outcome="risk_mitigated", note=note)
    with pytest.raises(LianfangRpcError) as err:  # not the assignee
        await a.as_role("customer_manager", "zhang-wei").record_disposition(request)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(LianfangRpcError) as err:  # a borrower cannot dispose of anything
        await customer.record_disposition(request)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    done = await a.as_role("customer_manager", "xiao-li").record_disposition(request)
    assert (done.outcome, done.unfreeze, done.limit_frozen, done.actor) == (
        "risk_mitigated",
        "when_flows_resume",
        True,
        "xiao-li",
    )
    with pytest.raises(LianfangRpcError) as err:  # a closed task takes no second disposition
        await a.as_role("customer_manager", "xiao-li").record_disposition(request)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION

    clock.advance(MONTH_SECONDS)  # month 7: flows resume
    await pay_what_is_due(a, loan_id, clock.now)
    run = await officer.run_monitoring()
    assert list(run.unfrozen) == [app_id]
    drawdown = await customer.request_drawdown(app_id, 1 * WAN)
    assert drawdown.state == "disbursed"

    trail = await a.as_role("customer_manager", "xiao-li").post_loan_alerts(app_id)
    actions = [(e.action, e.actor) for e in trail.audit]
    assert ("freeze", "system") in actions and ("disposition", "xiao-li") in actions
    assert ("unfreeze", "system") in actions
    assert actions.index(("freeze", "system")) < actions.index(("disposition", "xiao-li"))
    assert all(e.at.seconds > 0 for e in trail.audit)


async def wait_for(predicate, timeout: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Real waiting (the hub's stream is real), polling; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await predicate():
        if loop.time() - start > timeout:
            raise AssertionError("not within the timeout")
        await asyncio.sleep(0.02)
    return loop.time() - start


async def test_co_debt_alert_live_offline_across_a_hub_restart_exactly_once(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a, b = c.members["lender-a"], c.members["lender-b"]
    app_id, _ = await lao_wang_loan(a, clock, "lw-codebt")
    assert a.node.post_loan is not None
    await asyncio.wait_for(a.node.post_loan.consumer.connected.wait(), 2.0)

    async def co_debt() -> list[node_pb2.PostLoanAlert]:
        alerts = (await a.as_role("post_loan_officer").post_loan_alerts(app_id)).alerts
        return [x for x in alerts if x.rule == "consortium_co_debt"]

    await b.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "b-lw-1"))
    assert await wait_for(co_debt) < 1.0  # node A heard within a second
    (alert,) = await co_debt()
    assert "1 other member(s)" in alert.detail and "USCC" in alert.detail
    assert "lender-b" not in str(await a.as_role("post_loan_officer").post_loan_alerts(app_id))
    (task,) = await risk_tasks(a)
    assert task.application_id == app_id and task.task_id == alert.task_id

    # Node A goes offline; B's borrower applies again; the hub restarts; A comes back.
    await c.members["lender-a"].node.stop(0.5)
    clock.advance(3600)
    await b.as_role("customer", "wang-jianguo").submit_application(application(LAO_WANG, "b-lw-2"))
    await c.restart_hub()
    await c.restart_node("lender-a")
    a = c.members["lender-a"]
    assert a.node.post_loan is not None

    async def two() -> bool:
        return len(await co_debt()) == 2

    await wait_for(two, timeout=3.0)
    second = (await co_debt())[1]
    assert "2 application(s)" in second.detail and "1 other member(s)" in second.detail
    assert len(await risk_tasks(a)) == 1  # joined the open risk check: one task, two alerts

    # Acknowledged: another restart of both redelivers nothing.
    await c.restart_node("lender-a")
    a = c.members["lender-a"]
    assert a.node.post_loan is not None
    await asyncio.wait_for(a.node.post_loan.consumer.connected.wait(), 3.0)
    await asyncio.sleep(0.3)
    assert len(await co_debt()) == 2
    backlog = [x async for x in _first(a.hub_client.watch())]
    assert backlog == []  # nothing left unacknowledged at the hub


async def _first(stream):  # type: ignore[no-untyped-def]
    async for response in stream:
        for alert in response.alerts:
            yield alert
        return


async def test_post_loan_fraud_is_reported_to_the_hub_as_a_marker(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    app_id, _ = await lao_wang_loan(a, clock, "lw-fraud")
    clock.advance(6 * MONTH_SECONDS + DAY)
    await a.as_role("post_loan_officer").run_monitoring()
    (task,) = await risk_tasks(a)
    manager = a.as_role("customer_manager", "xiao-li")
    with pytest.raises(LianfangRpcError) as err:
        await manager.record_disposition(
            node_pb2.RecordDispositionRequest(task_id=task.task_id, outcome="fraud_confirmed", note="shell shop")
        )
    assert {v.field for v in err.value.violations} == {"reason_code", "evidence_level"}
    confirmed = node_pb2.RecordDispositionRequest(
        task_id=task.task_id,
        outcome="fraud_confirmed",
        note="the shop never reopened; loan funds moved to a third party",
        reason_code="LOAN_PURPOSE_FRAUD",
        evidence_level=common_pb2.EVIDENCE_LEVEL_DOCUMENTARY,
    )
    with pytest.raises(LianfangRpcError) as err:  # a consortium-wide marker is the risk manager's call
        await manager.record_disposition(confirmed)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert not await a.hub_client.list_my_markers()  # nothing filed
    await a.as_role("risk_manager", "risk-1").record_disposition(confirmed)
    assert (await a.as_role("risk_manager").get_application(app_id)).state == "fraud_confirmed"
    markers = await a.hub_client.list_my_markers()
    assert markers and {m.marker_type for m in markers} == {common_pb2.MARKER_TYPE_CONFIRMED_FRAUD}
    assert {m.case_ref for m in markers} == {task.task_id}


async def test_kpis_cli_prints_the_table_and_writes_the_chart_of_the_same_numbers(bank, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sys

    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from node.monitoring.kpi_chart import numbers_in

    c, clock = bank
    a = c.members["lender-a"]
    await lao_wang_loan(a, clock, "lw-kpi")
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(a.identity_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    chart = tmp_path / "kpis.png"
    cli = [sys.executable, "-m", "clients.cli.main"]
    process = await asyncio.create_subprocess_exec(
        *cli, "node", "kpis", "--node", f"localhost:{a.node.port}", "--ca", c.ca.ca_file,
        "--identity-key", str(key_file), "--as", "risk_manager", "--chart", str(chart),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    report = await a.as_role("risk_manager").kpis()
    assert report.loans == 1 and report.average_ticket_yuan == 150_000.0
    assert "150,000.00" in text and f"{report.approval_rate:.1%}" in text
    drawn = numbers_in(chart.read_bytes())
    assert drawn["average_ticket_yuan"] == report.average_ticket_yuan
    assert drawn["approval_rate"] == pytest.approx(report.approval_rate)
    assert drawn["stage_hours"] == {s.stage: pytest.approx(s.average_hours) for s in report.stages}


async def test_an_unpaid_instalment_is_chased_then_defaulted_and_the_hub_told(bank) -> None:  # type: ignore[no-untyped-def]
    """Payments go into the loan's ledger (once per payment id). An instalment they do not
    cover is a yellow alert from its first day past due, a red one with a collection task from
    day 30, and more than 90 days past due the loan is defaulted: the limit frozen and OUTCOME_DEFAULTED at the hub
    (ring scores and give-to-get count it). A defaulted loan can still be paid off."""
    c, clock = bank
    a = c.members["lender-a"]
    app_id, loan_id = await lao_wang_loan(a, clock, "lw-late")
    officer = a.as_role("post_loan_officer", "officer-1")
    customer = a.as_role("customer", "wang-jianguo")
    loan = await customer.get_loan(loan_id)
    first = loan.schedule[0]
    amount = first.principal_fen + first.interest_fen

    paid = await officer.repay_loan(loan_id, amount_fen=amount - 100, payment_id="core-1")  # 1 yuan short
    again = await officer.repay_loan(loan_id, amount_fen=amount - 100, payment_id="core-1")  # resent
    assert paid.paid_fen == again.paid_fen == amount - 100
    with pytest.raises(LianfangRpcError) as err:
        await officer.repay_loan(loan_id, amount_fen=5, payment_id="core-1")
    assert [v.field for v in err.value.violations] == ["payment_id"]
    with pytest.raises(LianfangRpcError) as err:
        await officer.repay_loan(loan_id, amount_fen=5)
    assert [v.field for v in err.value.violations] == ["payment_id"]

    clock.now = first.due.seconds + DAY + 3600  # the day after the due date
    run = await officer.run_monitoring()
    (late,) = [x for x in run.alerts if x.rule == "overdue"]
    assert (late.level, late.task_id) == ("yellow", "") and "instalment 1 unpaid 1 days" in late.detail
    assert (await customer.get_loan(loan_id)).days_past_due == 1
    assert not [x for x in (await officer.run_monitoring()).alerts if x.rule == "overdue"]  # once

    clock.now = first.due.seconds + 30 * DAY + 3600
    (serious,) = [x for x in (await officer.run_monitoring()).alerts if x.rule == "overdue"]
    assert serious.level == "red" and serious.task_id  # a collection task for the manager

    clock.now = first.due.seconds + 90 * DAY + 3600  # 90 days: still special mention (关注)
    assert not (await officer.run_monitoring()).defaulted
    clock.now = first.due.seconds + 91 * DAY + 3600  # more than 90 days past due: substandard
    run = await officer.run_monitoring()
    assert list(run.defaulted) == [loan_id] and list(run.frozen) == [app_id]
    assert (await customer.get_loan(loan_id)).state == "defaulted"
    assert (await officer.run_monitoring()).loans_checked == 0  # no longer an active loan
    (collection,) = [t for t in await risk_tasks(a) if t.state == "open"]
    no_risk = node_pb2.RecordDispositionRequest(task_id=collection.task_id, outcome="no_risk", note="called him")
    with pytest.raises(LianfangRpcError) as err:  # "no risk" unfreezes by default: not a defaulted facility
        await a.as_role("customer_manager", "xiao-li").record_disposition(no_risk)
    assert [v.field for v in err.value.violations] == ["unfreeze"]
    await drained(a.node)
    stored = await c.hub.store.get_application("lender-a", app_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_DEFAULTED

    rest = sum(i.principal_fen + i.interest_fen for i in loan.schedule) - (amount - 100)
    done = await officer.repay_loan(loan_id, amount_fen=rest, payment_id="core-recovery")
    assert (done.state, done.days_past_due) == ("repaid", 0)
    await drained(a.node)
    stored = await c.hub.store.get_application("lender-a", app_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_REPAID


async def test_a_node_without_a_repayment_ledger_calls_no_loan_late(tmp_path: Path) -> None:
    """repayment_ledger = false (its core banking system reports no payments): the batch chases
    and defaults nothing, and GetLoan shows no days past due."""
    clock = ManualClock()
    c = await start_local_consortium(
        tmp_path,
        ["lender-a"],
        clock=clock,
        source_latency_ms=5,
        scenario_file=SEED_PERSONAS_FILE,
        node_options={"repayment_ledger": False},
    )
    try:
        a = c.members["lender-a"]
        _, loan_id = await lao_wang_loan(a, clock, "lw-no-ledger")
        clock.advance(200 * DAY)
        run = await a.as_role("post_loan_officer", "officer-1").run_monitoring()
        assert run.defaulted == [] and not [x for x in run.alerts if x.rule == "overdue"]
        assert (await a.as_role("customer", "wang-jianguo").get_loan(loan_id)).days_past_due == 0
    finally:
        await c.stop()


async def test_a_large_loan_at_another_bank_found_by_the_monthly_bureau_pull(tmp_path: Path) -> None:
    """征信状况: 若发现客户在他行新增大额贷款, 触发共债风险预警. The bureau (a simulator pinned by the
    scenario) shows a 12万 loan 40 days after the drawdown; the pull 60 days after it raises a red
    co-debt alert with a risk-check task. With ``bureau_recheck_days = 0`` nothing is pulled."""
    scenario = tmp_path / "scenario.toml"
    seed = Path(SEED_PERSONAS_FILE).read_text(encoding="utf-8")
    pinned = 'flow_factors = { "6" = 0.0 }\nbureau_new_loans = [{ day = 40, amount_yuan = 120000 }]'
    scenario.write_text(seed.replace('flow_factors = { "6" = 0.0 }', pinned), encoding="utf-8")
    for days, alerted in ((30.0, True), (0.0, False)):
        clock = ManualClock()
        c = await start_local_consortium(
            tmp_path / f"every-{days:g}",
            ["lender-a"],
            clock=clock,
            source_latency_ms=5,
            scenario_file=str(scenario),
            node_options={"bureau_recheck_days": days},
        )
        try:
            a = c.members["lender-a"]
            app_id, loan_id = await lao_wang_loan(a, clock, "lw-bureau")
            await pay_what_is_due(a, loan_id, clock.now + 61 * DAY)  # on time: only the bureau speaks
            officer = a.as_role("post_loan_officer", "officer-1")
            clock.advance(31 * DAY)
            first = await officer.run_monitoring()
            assert first.bureau_reports == int(alerted) and not first.alerts  # not taken yet
            clock.advance(30 * DAY)
            run = await officer.run_monitoring()
            assert run.bureau_reports == int(alerted) and list(run.bureau_failed) == []
            found = [x for x in (await officer.post_loan_alerts(app_id)).alerts if x.rule == "bureau_co_debt"]
            assert bool(found) is alerted
            if alerted:
                (alert,) = found
                assert (alert.level, alert.loan_id) == ("red", loan_id) and "120000 yuan" in alert.detail
                assert alert.task_id in [t.task_id for t in await risk_tasks(a)]
        finally:
            await c.stop()


async def test_a_batch_its_caller_stops_waiting_for_still_runs_to_its_end(tmp_path: Path) -> None:
    """cron's `lianfang node monitor run` gives up on a slow bureau (its deadline): the batch on
    the node is not abandoned half done: it ends and records its run."""
    from node.monitoring.batch import BureauRecheck
    from node.monitoring.bureau import BureauFeed, CreditLine
    from node.sources.base import SourceRequest

    class HangingBureau(BureauFeed):  # an external provider that does not answer
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> list[CreditLine]:
            await asyncio.sleep(30)
            return []

    clock = ManualClock()
    c = await start_local_consortium(
        tmp_path, ["lender-a"], clock=clock, source_latency_ms=5, scenario_file=SEED_PERSONAS_FILE
    )
    try:
        a = c.members["lender-a"]
        await lao_wang_loan(a, clock, "lw-slow-bureau")
        assert a.node.post_loan is not None
        batch = a.node.post_loan.batch
        batch.bureau = BureauRecheck(HangingBureau(), deadline_seconds=0.5)
        clock.advance(31 * DAY)
        with pytest.raises(LianfangRpcError) as err:
            await a.as_role("post_loan_officer", "officer-1").run_monitoring(timeout=0.2)
        assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED

        async def ran() -> bool:
            return batch.last_run() is not None

        await wait_for(ran, timeout=5.0)
        assert batch.last_run() == clock.now
    finally:
        await c.stop()
