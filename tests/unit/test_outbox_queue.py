"""The outbox table on a real SQLite file: transactional enqueue, idempotency keys, per-application
order, dead letters and their retry, backoff with full jitter."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.circuit import CircuitOpen
from clients.errors import LianfangRpcError
from node.hub_errors import is_outage, is_transient
from node.identity.oprf_tokens import KeyServiceUnavailable
from node.origination.consortium_check import should_queue
from node.origination.store import BUSY_TIMEOUT_MS as NODE_BUSY_TIMEOUT_MS
from node.origination.store import NodeStore
from node.outbox import CHECK, DEAD, DISCARDED, OUTCOME, PENDING, SENT, Outbox, queue
from node.outbox.queue import UNTOKENISED_CHECK
from node.outbox.retry import Backoff
from node.outbox.submissions import queue_check_in, untokenised_check
from runtime.errors import FailedPrecondition, NotFound


def outbox(tmp_path: Path) -> Outbox:
    return Outbox(NodeStore(str(tmp_path / "node.db")))


def test_enqueue_commits_or_rolls_back_with_the_callers_transaction(tmp_path: Path) -> None:
    box = outbox(tmp_path)
    with pytest.raises(RuntimeError), box.store.transaction() as db:
        box.enqueue_in(db, CHECK, "check:app_1", "app_1", b"x", 100.0)
        raise RuntimeError("the decision failed to store")
    assert box.depth() == 0
    with box.store.transaction() as db:
        assert box.enqueue_in(db, CHECK, "check:app_1", "app_1", b"x", 100.0)
        assert not box.enqueue_in(db, CHECK, "check:app_1", "app_1", b"y", 101.0)  # same key: kept once
    assert box.depth() == 1 and box.get(1).request == b"x"
    box.store.close()
    reopened = Outbox(NodeStore(str(tmp_path / "node.db")))  # durable across a restart
    assert [r.idempotency_key for r in reopened.due(100.0)] == ["check:app_1"]


def test_an_application_s_rows_go_in_order_and_wait_for_earlier_unsent_ones(tmp_path: Path) -> None:
    box = outbox(tmp_path)
    with box.store.transaction() as db:
        box.enqueue_in(db, CHECK, "check:a", "a", b"", 100.0)
        box.enqueue_in(db, OUTCOME, "outcome:a:OUTCOME_DECLINED", "a", b"", 100.0)
        box.enqueue_in(db, OUTCOME, "outcome:b:OUTCOME_APPROVED", "b", b"", 100.0)
    assert [r.idempotency_key for r in box.due(100.0)] == ["check:a", "outcome:b:OUTCOME_APPROVED"]
    box.mark_retry(1, 200.0, "UNAVAILABLE: down")
    assert [r.idempotency_key for r in box.due(150.0)] == ["outcome:b:OUTCOME_APPROVED"]  # a's outcome waits
    assert box.get(1).attempts == 1 and box.get(1).last_error == "UNAVAILABLE: down"
    assert box.retry(1, 120.0).next_attempt_at == 120.0  # a person need not wait out the back-off
    assert [r.id for r in box.due(120.0)] == [1, 3] and box.get(1).attempts == 1
    box.mark_retry(1, 200.0, "UNAVAILABLE: down")
    box.mark_dead(1, "FAILED_PRECONDITION: consent expired")
    assert [r.id for r in box.due(300.0)] == [3]  # a dead Check still holds its outcome back
    with box.store.transaction() as db:
        box.mark_sent_in(db, 3, 300.0)
    assert box.depth() == 1 and box.dead() == 1 and box.count(SENT) == 1
    with pytest.raises(FailedPrecondition):
        box.retry(3, 300.0)
    with pytest.raises(NotFound):
        box.retry(99, 300.0)
    assert box.retry(1, 300.0).state == PENDING
    assert [r.id for r in box.due(300.0)] == [1]
    with box.store.transaction() as db:
        box.mark_sent_in(db, 1, 301.0)
    assert [r.id for r in box.due(301.0)] == [2]
    assert [r.state for r in box.rows()] == [SENT, PENDING, SENT] and [r.id for r in box.rows(DEAD)] == []


def test_backoff_is_full_jitter_capped_and_honours_retry_info() -> None:
    backoff = Backoff(base_seconds=0.5, max_seconds=8.0, rng=random.Random(7))
    for attempts in range(12):
        ceiling = min(8.0, 0.5 * 2**attempts)
        delays = [backoff.delay(attempts) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed step
    assert all(30.0 <= backoff.delay(0, retry_after=30.0) <= 30.5 for _ in range(50))


def test_error_classes() -> None:
    def err(code: grpc.StatusCode) -> LianfangRpcError:
        return LianfangRpcError(code, "x")

    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        assert is_transient(err(code)) and is_outage(err(code))
    for code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED):  # retried, not an outage
        assert is_transient(err(code)) and not is_outage(err(code))
    for code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
        assert not is_transient(err(code)) and not is_outage(err(code))
    assert is_transient(TimeoutError()) and is_transient(CircuitOpen("open")) and is_outage(CircuitOpen("open"))
    assert not is_transient(ValueError("a bug"))
    away = KeyServiceUnavailable("down", key_service_code=grpc.StatusCode.UNAVAILABLE)  # OPRF: asked before the hub
    assert is_transient(away) and not is_outage(away)  # retried, never held against the hub's circuit
    assert is_transient(
        KeyServiceUnavailable("quota", key_service_code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=60.0)
    )
    assert not is_transient(KeyServiceUnavailable("refused", key_service_code=grpc.StatusCode.PERMISSION_DENIED))
    assert not is_transient(KeyServiceUnavailable("the proof does not verify"))  # dead-lettered, logged at ERROR
    assert away.code == grpc.StatusCode.UNAVAILABLE  # what the node answers its own caller, whatever the cause


def test_every_key_service_failure_is_queued_but_a_hub_refusal_is_not() -> None:
    untokenised = consortium_pb2.CheckRequest(application_ref="app_1")
    identifiers = [(common_pb2.TOKEN_TYPE_USCC, "92310115MA1FL3Q869")]
    refused = KeyServiceUnavailable("refused", key_service_code=grpc.StatusCode.PERMISSION_DENIED)
    assert should_queue(refused, untokenised, identifiers)  # the drainer dead-letters it: a person sees it
    assert should_queue(KeyServiceUnavailable("the proof does not verify"), untokenised, identifiers)
    assert not should_queue(refused, untokenised, [])  # nothing to make tokens from
    with_tokens = consortium_pb2.CheckRequest(application_ref="app_2", tokens=[common_pb2.Token(scheme=1, type=1)])
    assert should_queue(LianfangRpcError(grpc.StatusCode.UNAVAILABLE, "hub down"), with_tokens, [])
    assert not should_queue(LianfangRpcError(grpc.StatusCode.INVALID_ARGUMENT, "refused"), with_tokens, [])
    assert not should_queue(None, with_tokens, identifiers)


def test_a_check_without_tokens_is_queued_with_its_identifiers_until_it_is_tokenised(tmp_path: Path) -> None:
    box = outbox(tmp_path)
    request = consortium_pb2.CheckRequest(application_ref="app_1", consent_ref="c" * 32)
    identifiers = [(common_pb2.TOKEN_TYPE_USCC, "92310115MA1FL3Q869"), (common_pb2.TOKEN_TYPE_PHONE, "+8613800138000")]
    with box.store.transaction() as db:
        queue_check_in(box, db, request, 100.0, identifiers)
    (row,) = box.rows()
    assert (row.kind, row.idempotency_key) == (UNTOKENISED_CHECK, "check:app_1")
    assert untokenised_check(row.request) == (request, identifiers)
    tokenised = consortium_pb2.CheckRequest(application_ref="app_1", tokens=[common_pb2.Token(scheme=2, type=1)])
    plain = box.tokenised(row.id, tokenised.SerializeToString())
    assert (plain.kind, plain.request, plain.state) == (CHECK, tokenised.SerializeToString(), PENDING)
    assert box.tokenised(row.id, b"other").request == tokenised.SerializeToString()  # only an untokenised row
    with box.store.transaction() as db:
        queue_check_in(box, db, request, 101.0, identifiers)  # same key: the first row stands
    assert len(box.rows()) == 1
    with box.store.transaction() as db:  # a Check with tokens is queued as it is, identifiers or not
        queue_check_in(
            box, db, consortium_pb2.CheckRequest(application_ref="app_2", tokens=tokenised.tokens), 103.0, identifiers
        )
    newest = box.rows()[0]
    assert newest.kind == CHECK and consortium_pb2.CheckRequest.FromString(newest.request).tokens == tokenised.tokens


def test_settled_rows_lose_their_payload_after_the_boundary_in_batches_and_keep_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = outbox(tmp_path)
    with box.store.transaction() as db:
        for key in ("check:old", "check:older", "check:new", "check:waiting", "check:dead"):
            box.enqueue_in(db, CHECK, key, key.split(":")[1], b"payload", 100.0)
        box.mark_sent_in(db, 1, 100.0)
        box.mark_sent_in(db, 2, 90.0)
        box.mark_sent_in(db, 3, 200.0)
    box.mark_dead(5, "FAILED_PRECONDITION: consent expired")
    with box.store.transaction() as db:  # unsettled rows with an old time still keep their payload
        db.execute("UPDATE outbox SET sent_at = 50.0 WHERE id IN (4, 5)")
    monkeypatch.setattr(queue, "PAYLOAD_BATCH", 1)
    assert [box.drop_settled_payloads(150.0) for _ in range(3)] == [1, 1, 0]
    assert [box.get(i).request for i in (1, 2, 3, 4, 5)] == [b"", b"", b"payload", b"payload", b"payload"]
    with box.store.transaction() as db:
        assert not box.enqueue_in(db, CHECK, "check:old", "old", b"again", 300.0)


def test_a_discarded_check_releases_its_application_s_rows_and_is_never_overwritten(tmp_path: Path) -> None:
    box = outbox(tmp_path)
    with box.store.transaction() as db:
        box.enqueue_in(db, UNTOKENISED_CHECK, "check:a", "a", b"identifiers", 100.0)
        box.enqueue_in(db, OUTCOME, "outcome:a:OUTCOME_DECLINED", "a", b"declined", 100.0)
    box.mark_dead(1, "PERMISSION_DENIED: the key service refused")
    assert box.due(200.0) == [] and not box.check_discarded("a")
    with pytest.raises(FailedPrecondition), box.store.transaction() as db:
        box.discard_in(db, 2, 110.0, "ops-1", "pending, not dead")
    with pytest.raises(NotFound), box.store.transaction() as db:
        box.discard_in(db, 99, 110.0, "ops-1", "no such item")
    with box.store.transaction() as db:
        row = box.discard_in(db, 1, 120.0, "ops-1", "the key service will not tokenise it")
    assert (row.state, row.request, row.settled_at) == (DISCARDED, b"", 120.0)
    assert row.last_error == (
        "discarded by ops-1: the key service will not tokenise it"
        " (the hub's last refusal: PERMISSION_DENIED: the key service refused)"
    )
    assert [r.id for r in box.due(200.0)] == [2] and box.check_discarded("a") and box.dead() == 0
    box.settle_unknown(2, 130.0, "NOT_FOUND: never checked")
    settled = box.get(2)
    assert (settled.state, settled.request, settled.settled_at, settled.attempts) == (DISCARDED, b"", 130.0, 1)
    with box.store.transaction() as db:  # a delivery finishing late never overwrites a settled row
        assert not box.mark_sent_in(db, 1, 140.0)
    box.mark_dead(2, "late")
    box.mark_retry(2, 150.0, "late")
    box.settle_unknown(1, 150.0, "late")
    assert [(box.get(i).state, box.get(i).settled_at) for i in (1, 2)] == [(DISCARDED, 120.0), (DISCARDED, 130.0)]


def test_dropped_payloads_leave_the_wal_and_a_reader_never_stalls_the_truncation(tmp_path: Path) -> None:
    """``scrub_wal`` truncates the write-ahead log so a discarded payload leaves both files; with
    another connection reading an older snapshot it gives up at once (the next pass retries)
    instead of waiting out the busy timeout on the node's event loop."""
    box = outbox(tmp_path)
    secret = b"110101199003077777 13800138000"
    with box.store.transaction() as db:
        box.enqueue_in(db, UNTOKENISED_CHECK, "check:a", "a", secret, 100.0)
    box.mark_dead(1, "PERMISSION_DENIED: the key service refused")
    reader = sqlite3.connect(str(tmp_path / "node.db"), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM outbox").fetchone()  # holds its snapshot: the WAL cannot be reset
    with box.store.transaction() as db:
        box.discard_in(db, 1, 120.0, "ops-1", "will never be tokenised")
    started = time.monotonic()
    assert box.store.scrub_wal() is False
    assert time.monotonic() - started < NODE_BUSY_TIMEOUT_MS / 1000 / 2
    assert box.store.query("PRAGMA busy_timeout") == [(NODE_BUSY_TIMEOUT_MS,)]  # restored for writes
    reader.execute("COMMIT")
    reader.close()
    assert box.store.scrub_wal() is True
    files = [tmp_path / "node.db", tmp_path / "node.db-wal"]
    assert files[1].stat().st_size == 0
    assert all(secret not in f.read_bytes() for f in files)
    assert box.get(1).state == DISCARDED


def test_lifting_the_key_hold_frees_rows_put_off_before_a_restart(tmp_path: Path) -> None:
    """The hold is in memory; the retry time a quota refusal set (midnight) is stored: a node
    restarted since must still let its untokenised Checks go once the key service answers."""
    box = outbox(tmp_path)
    with box.store.transaction() as db:
        box.enqueue_in(db, UNTOKENISED_CHECK, "check:a", "a", b"", 100.0)
    box.mark_retry(1, 86_400.0, "RESOURCE_EXHAUSTED: quota")
    restarted = Outbox(box.store)  # keys_held_until starts at 0 again
    assert [r.id for r in restarted.due(200.0)] == []
    restarted.lift_key_hold(200.0)
    assert [r.id for r in restarted.due(200.0)] == [1]
