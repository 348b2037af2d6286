"""Issue 7 item 3 through a real consortium (hub + nodes over mutual TLS, SQLite files): the hub
goes away, the nodes keep deciding (refer, HUB_UNAVAILABLE) and queue; the circuit opens and,
after its cool-down, the drainer's probe closes it; the outbox drains exactly once (a resend
after a lost acknowledgement changes no count at the hub); the late hub answer reaches the
credit approver; a permanently refused item is dead-lettered, listed and retried, or discarded."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2

from clients.circuit import CLOSED, OPEN
from clients.demo.consortium import LocalConsortium, LocalMember
from clients.errors import LianfangRpcError
from consortium.server import start_hub
from node.outbox import DEAD, DISCARDED, SENT
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG
from runtime.clock import ManualClock
from tests.support.consortium import by_type
from tests.support.origination import application, findings, staff_view
from tests.support.outbox import drained, eventually, two_lenders


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with two_lenders(tmp_path) as pair:
        yield pair


async def hub_down(c: LocalConsortium) -> int:
    port = c.hub.port
    await c.hub.stop(0)
    return port


async def hub_up(c: LocalConsortium, port: int) -> None:
    assert c.hub_config is not None
    c.hub = await start_hub(dataclasses.replace(c.hub_config, listen=f"127.0.0.1:{port}"), clock=c.clock)


async def until(m: LocalMember, clock: ManualClock, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Lets (manual) time pass, a cool-down per round, until ``done()``: the node's channel
    reconnects to a returning hub on gRPC's own (real-time) backoff, so the first probes may
    still fail, reopen the circuit and push their rows' next attempts out."""
    deadline = time.monotonic() + timeout
    breaker = m.node.engine.consortium.gate.breaker
    while not done():
        assert time.monotonic() < deadline, [(r.kind, r.state, r.last_error) for r in m.node.engine.outbox.rows()]
        clock.advance(breaker.reset_seconds)
        m.node.engine.outbox.notify()
        await asyncio.sleep(0.05)


def gauge(m: LocalMember, name: str) -> float | None:
    return m.node.metrics.registry.get_sample_value(name)


async def test_hub_outage_queues_then_drains_exactly_once_with_the_late_answer(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a, b = c.members["lender-a"], c.members["lender-b"]
    await staff_view(b, await b.as_role("customer").submit_application(application(LAO_WANG, "b-before")))
    await drained(b.node)
    breaker = a.node.engine.consortium.gate.breaker

    port = await hub_down(c)
    customer = a.as_role("customer")
    down = await staff_view(a, await customer.submit_application(application(LAO_WANG, "a-down-1")))
    assert down.state == "referred" and "HUB_UNAVAILABLE" in down.decision.reasons  # never a silent approve
    assert down.decision.consortium_pending and not down.decision.HasField("consortium")
    other = await staff_view(a, await customer.submit_application(application(JINGCHENG_PARTS, "a-down-2")))
    assert other.state == "referred" and "HUB_UNAVAILABLE" in other.decision.reasons
    assert breaker.state == OPEN  # two outages in a row
    approver = a.as_role("credit_approver", "approver-1")
    declined = await approver.decide_referral(other.application_id, False, "declined while the hub was away")
    assert declined.state == "declined"  # its outcome waits behind its Check
    outbox = a.node.engine.outbox
    assert [(r.kind, r.application_id) for r in reversed(outbox.rows())] == [
        ("check", down.application_id),
        ("check", other.application_id),
        ("outcome", other.application_id),
    ]
    assert outbox.depth() == 3 and gauge(a, "lianfang_node_outbox_depth") == 3
    assert gauge(a, "lianfang_node_hub_circuit_open") == 1

    await hub_up(c, port)
    assert a.node.drainer is not None
    assert await a.node.drainer.drain_once() == 0  # the circuit is open: nothing goes out yet
    assert outbox.depth() == 3
    clock.advance(30)  # the cool-down ends: the drainer's next delivery is the probe
    await until(a, clock, lambda: outbox.depth() == 0)
    assert breaker.state == CLOSED and gauge(a, "lianfang_node_outbox_depth") == 0

    for view in (down, other):  # recorded at the hub, once each
        assert await c.hub.store.get_application("lender-a", view.application_id) is not None
    stored = await c.hub.store.get_application("lender-a", other.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_DECLINED

    late = await staff_view(a, down)
    assert late.decision.HasField("consortium_late") and not late.decision.consortium_pending
    codes = {r.code for r in late.decision.consortium_late.reasons}
    assert any(code.startswith("STACKING_") for code in codes)  # lender-b saw the same applicant
    assert late.state == "referred"  # no automatic re-decision: the approver sees it
    tasks = await approver.list_tasks()  # by default, the caller's own and its role's queue
    assert tasks == await approver.list_tasks(assignee="credit-approvers")
    (task,) = [t for t in tasks if t.application_id == late.application_id]
    assert "consortium answered late" in task.reason and all(code in task.reason for code in codes)

    async def stacking_seen_by_b(ref: str) -> tuple[int, int]:
        view = await staff_view(b, await b.as_role("customer").submit_application(application(LAO_WANG, ref)))
        return by_type(view.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["30D"]

    assert await stacking_seen_by_b("b-after-1") == (1, 1)  # lender-a's one application, not two
    usage = {u.member_id: u for u in await c.admin.list_usage()}

    # A crash between the hub's acknowledgement and our commit: every sent row goes out again.
    with outbox.store.transaction() as db:
        resent = db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sent'").rowcount
    assert resent == 3
    await drained(a.node)
    assert outbox.count(SENT) == 3
    again = {u.member_id: u for u in await c.admin.list_usage()}
    assert again["lender-a"].outcomes_reported == usage["lender-a"].outcomes_reported == 1
    assert await stacking_seen_by_b("b-after-2") == (1, 1)  # the hub absorbed the repeats


async def test_a_refused_item_is_dead_lettered_listed_and_retried(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    view = await staff_view(a, await a.as_role("customer").submit_application(application(LAO_WANG, "a-dead")))
    await drained(a.node)
    await c.admin.change_member("suspend", "lender-a", "audit")
    clock.advance(1)  # past the hub's member cache
    manager = a.as_role("customer_manager", "xiao-li")
    (task,) = await manager.list_tasks()
    visit = findings(clock.now, soft=2, consistent=False, wallet_yuan=12_000)
    assert (await manager.submit_due_diligence(task.task_id, visit)).state == "approved"  # answered at once
    outbox = a.node.engine.outbox
    await eventually(lambda: outbox.dead() == 1, what="a dead letter")
    admin = a.as_role("system_admin", "ops-1")
    listing = await admin.list_outbox("dead")
    (item,) = listing.items
    assert (item.kind, item.application_id, listing.dead, listing.pending) == ("outcome", view.application_id, 1, 0)
    assert item.last_error.startswith("PERMISSION_DENIED") and item.attempts == 1
    assert gauge(a, "lianfang_node_outbox_dead") == 1
    assert listing.circuit == "closed"  # a refusal is an answer: the hub is up

    with pytest.raises(LianfangRpcError) as err:  # only known dead items are retried, only by admins
        await admin.retry_outbox(item.id + 100)
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(LianfangRpcError) as err:
        await a.as_role("risk_manager").retry_outbox(item.id)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(LianfangRpcError) as err:
        await admin.list_outbox("lost")
    assert [v.field for v in err.value.violations] == ["state"]

    await c.admin.change_member("reinstate", "lender-a", "audit done")
    clock.advance(1)
    retried = await admin.retry_outbox(item.id)
    assert retried.state == "pending"
    await eventually(lambda: outbox.get(item.id).state == SENT, what="the retried item sent")
    stored = await c.hub.store.get_application("lender-a", view.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_APPROVED
    assert outbox.count(DEAD) == 0


async def test_a_check_the_hub_refuses_is_a_dead_letter_not_an_outage_and_holds_its_outcome(bank) -> None:  # type: ignore[no-untyped-def]
    """A suspended member's Check is refused (PERMISSION_DENIED): the application is referred
    with HUB_REFUSED — the hub is up, it said no — and the Check waits dead-lettered for a
    person, holding the application's outcome back (which would only be refused as unknown).
    Retried after reinstatement, both reach the hub and the late answer is attached."""
    c, clock = bank
    a = c.members["lender-a"]
    await c.admin.change_member("suspend", "lender-a", "audit")
    clock.advance(1)  # past the hub's member cache
    view = await staff_view(a, await a.as_role("customer").submit_application(application(LAO_WANG, "a-refused")))
    assert view.state == "referred" and "HUB_REFUSED" in view.decision.reasons
    assert "HUB_UNAVAILABLE" not in view.decision.reasons and view.decision.consortium_pending
    outbox = a.node.engine.outbox
    (check,) = outbox.rows(DEAD)
    assert check.kind == "check" and check.last_error.startswith("PERMISSION_DENIED")
    await a.as_role("credit_approver").decide_referral(view.application_id, False, "declined")
    clock.advance(60)
    outbox.notify()
    await asyncio.sleep(0.2)
    (outcome,) = [r for r in outbox.rows() if r.kind == "outcome"]
    assert outcome.state == "pending" and outcome.attempts == 0  # held behind the dead Check
    await c.admin.change_member("reinstate", "lender-a", "audit done")
    clock.advance(1)
    await a.as_role("system_admin", "ops-1").retry_outbox(check.id)
    await until(a, clock, lambda: outbox.count(SENT) == 2)
    stored = await c.hub.store.get_application("lender-a", view.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_DECLINED
    decision = (await a.as_role("risk_manager", "risk-staff").get_application(view.application_id)).decision
    assert not decision.consortium_pending


async def test_expired_consent_at_delivery_is_a_dead_letter_that_holds_its_outcome(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    a = c.members["lender-a"]
    port = await hub_down(c)
    view = await staff_view(a, await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "a-late")))
    await a.as_role("credit_approver").decide_referral(view.application_id, False, "declined")
    clock.advance(31 * 86_400)  # the borrower's 30-day authorisation ends before the hub returns
    await hub_up(c, port)
    outbox = a.node.engine.outbox
    await until(a, clock, lambda: outbox.dead() == 1)
    check, outcome = sorted(outbox.rows(), key=lambda r: r.id)
    assert check.state == DEAD and check.last_error.startswith("FAILED_PRECONDITION")
    assert outcome.state == "pending" and outbox.due(clock()) == []  # never overtakes its Check
    assert await c.hub.store.get_application("lender-a", view.application_id) is None  # refused: nothing recorded
    view_now = await staff_view(a, view)
    assert view_now.decision.consortium_pending and not view_now.decision.HasField("consortium_late")


async def test_a_dead_letter_nobody_can_deliver_is_discarded_with_a_reason(bank) -> None:  # type: ignore[no-untyped-def]
    """An expired consent will never be accepted: a system admin gives the Check up, with a
    reason. The application stops waiting for an answer and says who gave it up; its held-back
    outcome goes out and, refused as unknown, is settled; the dead count returns to 0; a month
    later settled rows lose their payload but keep their key."""
    c, clock = bank
    a = c.members["lender-a"]
    port = await hub_down(c)
    view = await staff_view(a, await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "a-gone")))
    await a.as_role("credit_approver").decide_referral(view.application_id, False, "declined")
    clock.advance(31 * 86_400)
    await hub_up(c, port)
    outbox = a.node.engine.outbox
    await until(a, clock, lambda: outbox.dead() == 1)
    check, outcome = sorted(outbox.rows(), key=lambda r: r.id)
    admin = a.as_role("system_admin", "ops-1")

    refusals = [
        (admin.discard_outbox(check.id, "  "), grpc.StatusCode.INVALID_ARGUMENT, ["reason"]),
        (admin.discard_outbox(check.id, "x" * 501), grpc.StatusCode.INVALID_ARGUMENT, ["reason"]),
        (admin.discard_outbox(0, "why"), grpc.StatusCode.INVALID_ARGUMENT, ["id"]),
        (admin.discard_outbox(check.id + 100, "why"), grpc.StatusCode.NOT_FOUND, []),
        (admin.discard_outbox(outcome.id, "not dead"), grpc.StatusCode.FAILED_PRECONDITION, []),
        (a.as_role("risk_manager").discard_outbox(check.id, "why"), grpc.StatusCode.PERMISSION_DENIED, []),
    ]
    for call, code, fields in refusals:
        with pytest.raises(LianfangRpcError) as err:
            await call
        assert (err.value.code, [v.field for v in err.value.violations]) == (code, fields)
    assert outbox.get(check.id).state == DEAD and outbox.get(check.id).request != b""  # nothing changed

    given_up = await admin.discard_outbox(check.id, "授权已过期 consent expired before the hub returned")
    assert given_up.state == DISCARDED and given_up.last_error.startswith("discarded by ops-1: 授权已过期")
    assert "FAILED_PRECONDITION" in given_up.last_error and given_up.settled_at.seconds == int(clock())
    assert outbox.get(check.id).request == b""
    decision = (await a.as_role("risk_manager", "risk-staff").get_application(view.application_id)).decision
    assert not decision.consortium_pending
    assert decision.consortium_given_up.startswith("consortium Check given up by ops-1 at ")
    assert decision.consortium_given_up.endswith(": 授权已过期 consent expired before the hub returned")
    # Released, the outcome goes to the hub, which never recorded the application: NOT_FOUND
    # settles it as discarded instead of dead-lettering it.
    await until(a, clock, lambda: outbox.get(outcome.id).state == DISCARDED)
    settled = outbox.get(outcome.id)
    assert "the hub does not know the application" in settled.last_error and "NOT_FOUND" in settled.last_error
    listing = await admin.list_outbox(DISCARDED)
    assert [i.id for i in listing.items] == [outcome.id, check.id] and listing.dead == 0 and listing.pending == 0
    assert gauge(a, "lianfang_node_outbox_dead") == 0.0
    with pytest.raises(LianfangRpcError) as err:
        await admin.retry_outbox(check.id)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION  # a discard is not undone

    later = await a.as_role("customer").submit_application(application(JINGCHENG_PARTS, "a-later"))  # approved
    await drained(a.node)
    [sent] = [r for r in outbox.rows(SENT) if r.application_id == later.application_id]
    assert sent.request != b""
    clock.advance(31 * 86_400)
    outbox.notify()
    await eventually(lambda: outbox.get(sent.id).request == b"", what="settled payloads dropped")
    with a.node.engine.store.transaction() as db:  # the row stays: its idempotency key is still taken
        assert not outbox.enqueue_in(db, sent.kind, sent.idempotency_key, sent.application_id, b"again", clock())
