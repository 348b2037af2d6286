"""OPRF mode with the key service away (a real key service, hub and nodes over mutual TLS,
SQLite files): the application is referred with KEY_SERVICE_UNAVAILABLE and its Check is queued
without tokens, with the identifiers to make them from, without holding up the hub-only rows
behind it; once the key service is back, the drainer makes the tokens once and stores them as a
plain Check (no identifiers left; a hub outage then costs the key service nothing more); the hub
records the application (another lender's Check counts it) and the late answer is attached."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.demo.consortium import LocalConsortium
from consortium.server import start_hub
from node.outbox import CHECK, PENDING, SENT
from node.outbox.queue import UNTOKENISED_CHECK
from node.outbox.submissions import queue_outcome_in
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG
from runtime.clock import ManualClock
from tests.support.consortium import by_type
from tests.support.origination import application, staff_view
from tests.support.outbox import settled, two_lenders


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    # The background drainer runs only when woken (an enqueue, ``notify``): the test drains by hand.
    async with two_lenders(tmp_path, token_mode="oprf", node_options={"outbox_poll_seconds": 3600.0}) as pair:
        yield pair


def evaluations(c: LocalConsortium, member: str) -> int:
    """Elements the key service evaluated for a member (its own audit)."""
    assert c.key_service is not None
    return sum(e.count for e in c.key_service.service.vault.audit(member, limit=1000) if e.action == "evaluate")


async def test_a_check_queued_while_the_key_service_was_away_is_tokenised_and_delivered(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    assert c.key_service is not None and c.hub_config is not None
    a, b = c.members["lender-a"], c.members["lender-b"]
    customer = a.as_role("customer")
    earlier = await customer.submit_application(application(JINGCHENG_PARTS, "a-keys-up"))  # reached the hub
    await c.key_service.stop()

    down = await staff_view(a, await customer.submit_application(application(LAO_WANG, "a-keys-down")))
    assert down.state == "referred" and "KEY_SERVICE_UNAVAILABLE" in down.decision.reasons
    assert down.decision.consortium_pending
    outbox = a.node.engine.outbox
    await settled(a.node)  # the background drainer's try (woken by the enqueue) is over
    (row,) = outbox.rows(PENDING)
    assert (row.kind, row.application_id) == (UNTOKENISED_CHECK, down.application_id)
    assert LAO_WANG.uscc.encode() in row.request  # the identifiers wait on the node, nowhere else
    assert await c.hub.store.get_application("lender-a", down.application_id) is None

    assert row.attempts == 1 and "KeyServiceUnavailable" in row.last_error
    with a.node.engine.store.transaction() as db:  # hub-only work queued behind it (another application)
        queue_outcome_in(outbox, db, earlier.application_id, common_pb2.OUTCOME_DECLINED, clock())
    clock.advance(600)  # both are due; the untokenised Check comes first
    assert a.node.drainer is not None
    assert await a.node.drainer.drain_once() == 1  # the outcome went out although the key service is away
    untokenised = outbox.get(row.id)
    assert (untokenised.state, untokenised.attempts, untokenised.kind) == (PENDING, 2, UNTOKENISED_CHECK)
    stored = await c.hub.store.get_application("lender-a", earlier.application_id)
    assert stored is not None and stored.outcome == common_pb2.OUTCOME_DECLINED

    hub_port = c.hub.port
    await c.hub.stop(0)  # now the hub goes away too, and the key service comes back
    await c.key_service.restart()
    before = evaluations(c, "lender-a")
    deadline = time.monotonic() + 20
    while outbox.get(row.id).kind == UNTOKENISED_CHECK:  # the node's channel reconnects in real time
        assert time.monotonic() < deadline, outbox.get(row.id).last_error
        clock.advance(60)
        await a.node.drainer.drain_once()
        await asyncio.sleep(0.05)
    for _ in range(5):  # more rounds with the hub away: a plain Check now, the key service not asked again
        clock.advance(60)
        await a.node.drainer.drain_once()
    tokenised = outbox.get(row.id)
    assert tokenised.kind == CHECK and tokenised.state == PENDING and tokenised.attempts >= 1
    assert LAO_WANG.uscc.encode() not in tokenised.request  # the identifiers are gone already
    sent = consortium_pb2.CheckRequest.FromString(tokenised.request)
    assert sent.application_ref == down.application_id and sent.tokens
    assert {t.scheme for t in sent.tokens} == {common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512}
    assert evaluations(c, "lender-a") - before == len(sent.tokens)  # one evaluation, however many rounds

    c.hub = await start_hub(dataclasses.replace(c.hub_config, listen=f"127.0.0.1:{hub_port}"), clock=c.clock)
    deadline = time.monotonic() + 20
    while outbox.depth():  # backoff and the circuit's cool-down in manual time; reconnects in real time
        assert time.monotonic() < deadline, [(r.kind, r.state, r.last_error) for r in outbox.rows()]
        clock.advance(60)
        outbox.notify()
        await asyncio.sleep(0.05)
    assert outbox.get(row.id).state == SENT
    assert await c.hub.store.get_application("lender-a", down.application_id) is not None
    assert evaluations(c, "lender-a") - before == len(sent.tokens)

    late = await staff_view(a, down)
    assert late.decision.HasField("consortium_late") and not late.decision.consortium_pending

    seen = await staff_view(b, await b.as_role("customer").submit_application(application(LAO_WANG, "b-after")))
    assert by_type(seen.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["30D"][0] == 1  # lender-a's, counted


async def test_the_key_service_hold_is_lifted_when_it_answers_again_or_a_person_retries(bank) -> None:  # type: ignore[no-untyped-def]
    """After the key service was away (or refused this member's quota), untokenised Checks wait
    out a back-off: until midnight for a quota. A stage-1 evaluation that succeeds (the service is
    back, the quota raised) or a person's `outbox retry` lifts that hold at once."""
    c, clock = bank
    assert c.key_service is not None
    a = c.members["lender-a"]
    customer, outbox = a.as_role("customer"), a.node.engine.outbox
    await c.key_service.stop()
    await staff_view(a, await customer.submit_application(application(LAO_WANG, "held-1")))
    await settled(a.node)
    assert a.node.drainer is not None
    clock.advance(600)
    await a.node.drainer.drain_once()  # the key service still away: the hold is set
    assert outbox.keys_held_until > clock()
    (row,) = outbox.rows(PENDING)

    outbox.retry(row.id, clock())  # a person: try now
    assert outbox.keys_held_until == 0.0 and outbox.get(row.id).next_attempt_at == clock()
    await a.node.drainer.drain_once()
    assert outbox.keys_held_until > clock()  # still away: held again
    assert outbox.get(row.id).next_attempt_at > clock()  # and the row put off to its retry time

    await c.key_service.restart()
    deadline = time.monotonic() + 20
    while True:  # the node's channel to the key service reconnects in real time
        answered = await staff_view(
            a, await customer.submit_application(application(JINGCHENG_PARTS, f"back-{time.monotonic()}"))
        )
        if "KEY_SERVICE_UNAVAILABLE" not in answered.decision.reasons:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert outbox.keys_held_until == 0.0  # the evaluation that just worked lifted it,
    assert outbox.get(row.id).next_attempt_at <= clock()  # the put-off row too (a quota's: midnight)


async def test_a_check_queued_across_a_re_keying_is_tokenised_again_and_delivered(bank) -> None:  # type: ignore[no-untyped-def]
    """A Check queued while the hub was down holds the old epoch's elements; the hub is re-keyed
    meanwhile and refuses them as stale (they would be stored where nothing links to them). The
    drainer makes the tokens again from the application's identifiers under the new epoch and
    delivers it; it used to dead-letter it for good."""
    c, clock = bank
    assert c.key_service is not None and c.hub_config is not None
    a, b = c.members["lender-a"], c.members["lender-b"]
    outbox = a.node.engine.outbox
    hub_port = c.hub.port
    await c.hub.stop(0)
    down = await staff_view(a, await a.as_role("customer").submit_application(application(LAO_WANG, "hub-down")))
    await settled(a.node)
    (row,) = outbox.rows(PENDING)
    queued = consortium_pb2.CheckRequest.FromString(row.request)
    assert row.kind == CHECK and {t.epoch for t in queued.tokens} == {1}
    c.hub = await start_hub(dataclasses.replace(c.hub_config, listen=f"127.0.0.1:{hub_port}"), clock=c.clock)
    await c.key_service.rotate(c.hub.store, c.hub.rings)  # epoch 2 active, epoch 1 re-keyed out and retired
    assert a.node.drainer is not None
    deadline = time.monotonic() + 20
    while outbox.get(row.id).state == PENDING:  # the node's hub channel reconnects in real time
        assert time.monotonic() < deadline, outbox.get(row.id).last_error
        clock.advance(60)
        await a.node.drainer.drain_once()
        await asyncio.sleep(0.05)
    assert outbox.get(row.id).state == SENT, outbox.get(row.id).last_error
    sent = consortium_pb2.CheckRequest.FromString(outbox.get(row.id).request)
    assert {t.epoch for t in sent.tokens} == {2}
    late = await staff_view(a, down)
    assert late.decision.HasField("consortium_late")
    seen = await staff_view(b, await b.as_role("customer").submit_application(application(LAO_WANG, "b-after-rekey")))
    assert by_type(seen.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["30D"][0] == 1  # lender-a's, counted
