"""OPRF mode with the key service away (a real key service, hub and nodes over mutual TLS,
SQLite files): the application is referred with KEY_SERVICE_UNAVAILABLE and its Check is queued
without tokens, with the identifiers to make them from; once the key service is back, the
drainer makes the tokens, the hub records the application (another lender's Check counts it)
and the late answer is attached; the sent row keeps the tokenised Check, not the identifiers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.demo.consortium import LocalConsortium
from node.outbox import SENT
from node.outbox.queue import UNTOKENISED_CHECK
from node.sources.personas import LAO_WANG
from runtime.clock import ManualClock
from tests.support.consortium import by_type
from tests.support.origination import application
from tests.support.outbox import two_lenders


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with two_lenders(tmp_path, token_mode="oprf") as pair:
        yield pair


async def test_a_check_queued_while_the_key_service_was_away_is_tokenised_and_delivered(bank) -> None:  # type: ignore[no-untyped-def]
    c, clock = bank
    assert c.key_service is not None
    a, b = c.members["lender-a"], c.members["lender-b"]
    await c.key_service.stop()

    down = await a.as_role("customer").submit_application(application(LAO_WANG, "a-keys-down"))
    assert down.state == "referred" and "KEY_SERVICE_UNAVAILABLE" in down.decision.reasons
    assert down.decision.consortium_pending
    outbox = a.node.engine.outbox
    (row,) = outbox.rows()
    assert (row.kind, row.application_id, row.state) == (UNTOKENISED_CHECK, down.application_id, "pending")
    assert LAO_WANG.uscc.encode() in row.request  # the identifiers wait on the node, nowhere else
    assert await c.hub.store.get_application("lender-a", down.application_id) is None

    assert a.node.drainer is not None
    assert await a.node.drainer.drain_once() == 0  # still away: the row backs off, kept
    (row,) = outbox.rows()
    assert row.state == "pending" and row.attempts == 1 and "KeyServiceUnavailable" in row.last_error

    await c.key_service.restart()
    deadline = time.monotonic() + 20
    while outbox.depth():  # backoff in manual time; the node's channel reconnects in real time
        assert time.monotonic() < deadline, [(r.kind, r.state, r.last_error) for r in outbox.rows()]
        clock.advance(5)
        outbox.notify()
        await asyncio.sleep(0.05)

    (row,) = outbox.rows()
    assert row.state == SENT
    sent = consortium_pb2.CheckRequest.FromString(row.request)  # the tokenised Check replaced the identifiers
    assert sent.application_ref == down.application_id and sent.tokens
    assert {t.scheme for t in sent.tokens} == {common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512}
    assert LAO_WANG.uscc.encode() not in row.request
    assert await c.hub.store.get_application("lender-a", down.application_id) is not None

    late = await a.as_role("customer").get_application(down.application_id)
    assert late.decision.HasField("consortium_late") and not late.decision.consortium_pending

    seen = await b.as_role("customer").submit_application(application(LAO_WANG, "b-after"))
    assert by_type(seen.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["30D"][0] == 1  # lender-a's, counted
