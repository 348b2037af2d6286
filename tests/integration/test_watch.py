"""Hub Watch over real TLS: co-debt and marker alerts on a watched borrower, counts without the
other lender's identity, at-least-once delivery with resume cursors and durable acks across a
hub restart, and the guards (own applications only, bad cursors)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.credentials import generate_key_file
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from consortium import members
from consortium.server import start_hub
from consortium.store.base import LOG_START, LogCursor
from node.monitoring.actions import PostLoanActions
from node.monitoring.hub_alerts import AlertConsumer, ConsortiumAlerts
from node.monitoring.records import PostLoanRecords
from node.origination.due_diligence import load_field_team
from node.origination.store import NodeStore
from runtime.clock import ManualClock
from tests.support.consortium import check_request, phone, rid, token


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[LocalConsortium]:
    # The members' nodes do not consume alerts here: the test is lender-a's only Watch client.
    c = await start_local_consortium(
        tmp_path, ["lender-a", "lender-b"], clock=ManualClock(), node_options={"watch_alerts": False}
    )
    try:
        yield c
    finally:
        await c.stop()


async def alerts_of(hub: HubClient, after: str = "", *, wait_for: int = 0) -> list[consortium_pb2.Alert]:
    """The alerts one fresh stream delivers: its backlog, then live ones until ``wait_for`` came
    (at most a second of real waiting)."""
    got: list[consortium_pb2.Alert] = []

    async def read() -> None:
        async for response in hub.watch(after):
            got.extend(response.alerts)
            if len(got) >= wait_for:
                return

    await asyncio.wait_for(read(), timeout=1.0)
    return got


async def test_co_debt_and_marker_alerts_resume_ack_and_survive_a_restart(pair: LocalConsortium) -> None:
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    await a.check_request(check_request("loan-1", rid(1), phone(1)))
    assert await a.register_watch("loan-1") == sorted([common_pb2.TOKEN_TYPE_PHONE, common_pb2.TOKEN_TYPE_RESIDENT_ID])
    assert await alerts_of(a) == []

    received: list[consortium_pb2.Alert] = []

    async def listen() -> None:
        async for response in a.watch():
            received.extend(response.alerts)
            if received:
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.1)  # the stream is open before the event
    started = asyncio.get_running_loop().time()
    await b.check_request(check_request("b-app-1", rid(1), phone(9)))
    await asyncio.wait_for(listener, timeout=1.0)  # live, within a second
    assert asyncio.get_running_loop().time() - started < 1.0
    (first,) = received
    assert first.kind == consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION
    assert list(first.application_refs) == ["loan-1"]
    assert list(first.token_types) == [common_pb2.TOKEN_TYPE_RESIDENT_ID]
    assert (first.other_members, first.other_applications) == (1, 1)
    wire = first.SerializeToString()
    assert b"lender-b" not in wire and b"b-app-1" not in wire  # counts, never the other lender

    await a.check_request(check_request("a-own-2", rid(1)))  # the watcher's own application: no news
    await b.check_request(check_request("b-app-1", rid(1), phone(9)))  # a retried Check: nothing new
    await b.report_outcome("b-app-1", common_pb2.OUTCOME_FUNDED)
    await b.file_marker(rid(1), common_pb2.MARKER_TYPE_SUSPECT, "SUSPECTED_FRAUD")
    alerts = await alerts_of(a, wait_for=3)
    assert [x.kind for x in alerts] == [
        consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION,
        consortium_pb2.ALERT_KIND_CO_DEBT_FUNDED,
        consortium_pb2.ALERT_KIND_MARKER_FILED,
    ]
    assert alerts[0] == first  # redelivered until acknowledged, identical
    assert all(x.HasField("occurred_at") for x in alerts)
    assert await alerts_of(a, after=alerts[1].cursor) == alerts[2:]  # a resume cursor

    assert await a.ack_alerts(alerts[0].cursor) == alerts[0].cursor
    assert await alerts_of(a) == alerts[1:]
    await pair.restart_hub()  # acks and alerts come back from the consortium log
    assert await alerts_of(a) == alerts[1:]
    await a.ack_alerts(alerts[2].cursor)
    await a.ack_alerts(alerts[0].cursor)  # an older ack changes nothing
    assert await alerts_of(a) == []
    await pair.restart_hub()
    assert await alerts_of(a) == []

    assert await a.unregister_watch("loan-1") is True
    await b.check_request(check_request("b-app-2", rid(1)))
    assert await alerts_of(a) == []
    assert await a.unregister_watch("loan-1") is False


async def test_the_stream_reports_alerts_the_hub_discarded_beyond_its_cap(
    pair: LocalConsortium, tmp_path: Path
) -> None:
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    assert pair.hub.watches is not None
    pair.hub.watches.max_pending = 2  # as if lender-a had been away for 10,000 alerts
    await a.check_request(check_request("capped-loan", rid(31), phone(31)))
    await a.register_watch("capped-loan")
    first = await anext(aiter(a.watch()))
    assert first.caught_up and not first.alerts and first.alerts_dropped == 0
    for n in range(4):  # four co-debt alerts, none acknowledged
        await b.check_request(check_request(f"capped-b-{n}", rid(31), phone(40 + n)))

    async def backlog() -> consortium_pb2.WatchResponse:
        async for response in a.watch():
            return response
        raise AssertionError("the stream ended")

    response = await asyncio.wait_for(backlog(), timeout=1.0)
    assert len(response.alerts) == 2 and response.alerts_dropped == 2  # the two oldest went

    def at(cursor: str) -> tuple[int, ...]:
        return tuple(int(part) for part in cursor.split("-"))

    assert response.last_dropped and at(response.last_dropped) < at(response.alerts[0].cursor)  # older than kept

    # A node's consumer takes the backlog and counts the two as lost: it never stored them.
    store = NodeStore(str(tmp_path / "node.db"))
    alerts = ConsortiumAlerts(PostLoanActions(store, PostLoanRecords(store), load_field_team()), time.time)
    consumer = asyncio.create_task(AlertConsumer(a, alerts).run())
    try:
        deadline = time.monotonic() + 5
        while alerts.cursor != response.alerts[-1].cursor:  # stored, then acknowledged
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        consumer.cancel()
    assert (alerts.dropped, alerts.lost) == (2, 2)
    after = await asyncio.wait_for(backlog(), timeout=1.0)
    assert not after.alerts and after.alerts_dropped == 2  # a total: it does not reset on acknowledging


async def test_only_the_borrower_of_ones_own_application_can_be_watched(pair: LocalConsortium) -> None:
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    await b.check_request(check_request("b-only", rid(5)))
    with pytest.raises(LianfangRpcError) as err:
        await a.register_watch("b-only")
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    await a.check_request(check_request("a-device", token(common_pb2.TOKEN_TYPE_DEVICE_ID, "dev-1")))
    with pytest.raises(LianfangRpcError) as err:
        await a.register_watch("a-device")  # no identity token to watch
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(LianfangRpcError) as err:
        await a.register_watch("")
    assert [v.field for v in err.value.violations] == ["application_ref"]


async def test_bad_cursors_are_invalid_arguments(pair: LocalConsortium) -> None:
    a = pair.members["lender-a"].hub_client
    for bad in ("x", "1-", "-1", "1-2-3", "\u00b2-1", "1-\u0663", "\uff11-1", "1" * 21 + "-1"):
        with pytest.raises(LianfangRpcError) as err:
            await a.ack_alerts(bad)
        assert [v.field for v in err.value.violations] == ["up_to"], bad
        with pytest.raises(LianfangRpcError) as err:
            await alerts_of(a, after=bad)
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in err.value.violations] == ["after"], bad
    with pytest.raises(LianfangRpcError) as err:
        await a.ack_alerts("")
    assert [v.field for v in err.value.violations] == ["up_to"]
    with pytest.raises(LianfangRpcError) as err:
        await a.ack_alerts("999999999-0")  # beyond the log: would silently drop future alerts
    assert [v.field for v in err.value.violations] == ["up_to"]


async def test_a_stream_is_logged_once_when_it_ends(pair: LocalConsortium) -> None:
    import logging

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    logger, handler = logging.getLogger("lianfang.rpc"), Collect()
    level = logger.level
    logger.addHandler(handler)  # directly: other tests may have configured propagation
    logger.setLevel(logging.INFO)
    try:
        assert await alerts_of(pair.members["lender-a"].hub_client) == []
        lines: list[logging.LogRecord] = []
        for _ in range(50):  # the server notices the cancelled stream a moment later
            lines = [r for r in handler.records if getattr(r, "fields", {}).get("method", "").endswith("/Watch")]
            if lines:
                break
            await asyncio.sleep(0.02)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    (line,) = lines
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["member"] == "lender-a" and fields["messages"] == 1
    assert fields["code"] in ("OK", "CANCELLED")


async def open_stream(hub: HubClient) -> tuple[asyncio.Task[None], asyncio.Event]:
    """A Watch stream read in the background until it ends (its error is the task's)."""
    caught_up = asyncio.Event()

    async def read() -> None:
        async for response in hub.watch():
            if response.caught_up:
                caught_up.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(caught_up.wait(), timeout=2.0)
    return task, caught_up


async def ended_with(task: asyncio.Task[None], seconds: float = 2.0) -> LianfangRpcError:
    with pytest.raises(LianfangRpcError) as err:
        await asyncio.wait_for(task, timeout=seconds)
    return err.value


async def test_a_stream_ends_when_its_member_is_suspended_or_revoked(pair: LocalConsortium) -> None:
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    stream, _ = await open_stream(a)
    await pair.admin.change_member("suspend", "lender-a", "investigation")
    error = await ended_with(stream)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and "suspended" in error.message

    # A change made on another replica (straight in the shared store here) bites through the member cache.
    stream, _ = await open_stream(b)
    await pair.hub.store.set_member_status(
        "lender-b", frozenset({members.ACTIVE}), members.REVOKED, "elsewhere", pair.clock()
    )
    error = await ended_with(stream)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and "revoked" in error.message


async def test_a_stream_opened_with_a_key_since_replaced_ends(pair: LocalConsortium, tmp_path: Path) -> None:
    """A leaked key's holder must not keep a member's alerts: once the key is replaced, a stream
    its token opened ends UNAUTHENTICATED, here and on another replica (straight in the store)."""
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    stream, _ = await open_stream(a)
    await pair.admin.rotate_member_key("lender-a", generate_key_file(tmp_path / "a-new.pem"))
    error = await ended_with(stream)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and "key was replaced" in error.message

    stream, _ = await open_stream(b)
    member = await pair.hub.store.get_member("lender-b")
    assert member is not None
    await pair.hub.store.set_member_status(
        "lender-b",
        frozenset({members.ACTIVE}),
        members.ACTIVE,
        member.status_reason,
        pair.clock(),
        public_key=generate_key_file(tmp_path / "b-new.pem"),
    )
    error = await ended_with(stream)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_stream_ends_unavailable_when_its_token_expires(pair: LocalConsortium) -> None:
    a = pair.members["lender-a"].hub_client
    authenticator = pair.hub.authenticator
    assert authenticator is not None
    stream, _ = await open_stream(a)
    authenticator.wall_clock = lambda: time.time() + 3_600  # the stream's token is long expired
    try:
        error = await ended_with(stream)
    finally:
        authenticator.wall_clock = time.time
    assert error.code == grpc.StatusCode.UNAVAILABLE and "token expired" in error.message
    stream, _ = await open_stream(a)  # the client reconnects with a fresh token
    stream.cancel()


async def test_stopping_the_hub_ends_open_streams_at_once(pair: LocalConsortium) -> None:
    assert pair.hub_config is not None
    stream, _ = await open_stream(pair.members["lender-a"].hub_client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pair.hub.stop(30.0)  # a long grace: only calls that never end would use it up
    assert loop.time() - started < 5.0
    error = await ended_with(stream)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    config = dataclasses.replace(pair.hub_config, listen=f"127.0.0.1:{pair.hub.port}")
    pair.hub = await start_hub(config, clock=pair.clock)  # for the fixture's teardown


async def log_kinds(pair: LocalConsortium) -> list[str]:
    return [json.loads(e)[0] for _, e in await pair.hub.store.log_events(LOG_START, 100_000)]


async def last_cursor(pair: LocalConsortium) -> str:
    (a, b), _ = (await pair.hub.store.log_events(LOG_START, 100_000))[-1]
    return f"{a}-{b}"


async def test_repeated_register_and_empty_acks_do_not_grow_the_log(pair: LocalConsortium) -> None:
    a, b = pair.members["lender-a"].hub_client, pair.members["lender-b"].hub_client
    await a.check_request(check_request("loan-1", rid(1), phone(1)))
    await a.register_watch("loan-1")
    before = await log_kinds(pair)
    for _ in range(3):
        assert await a.register_watch("loan-1")  # a retried or repeated RegisterWatch: nothing new
    await b.check_request(check_request("unrelated", rid(2)))
    no_alert = await last_cursor(pair)  # a cursor of the log that is no alert of lender-a's
    for _ in range(3):
        assert await a.ack_alerts(no_alert) == "0-0"  # nothing pending to acknowledge
    assert (await log_kinds(pair))[len(before) :] == ["a"]

    await b.check_request(check_request("b-app", rid(1)))
    (alert,) = await alerts_of(a)
    await b.check_request(check_request("unrelated-2", rid(3)))
    past = await last_cursor(pair)
    assert await a.ack_alerts(past) == alert.cursor  # acknowledges the alert it had, no further
    assert await a.ack_alerts(past) == alert.cursor
    assert (await log_kinds(pair)).count("wk") == 1


async def test_open_streams_share_their_reads_of_the_log(pair: LocalConsortium) -> None:
    store = pair.hub.store
    reads = 0
    original = store.log_events

    async def counting(after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        nonlocal reads
        reads += 1
        return await original(after, limit)

    streams = [await open_stream(pair.members[m].hub_client) for m in ("lender-a", "lender-b") for _ in range(4)]
    store.log_events = counting  # type: ignore[method-assign]
    try:
        await asyncio.sleep(1.6)  # three poll rounds of 0.5 s
    finally:
        store.log_events = original  # type: ignore[method-assign]
        for task, _ in streams:
            task.cancel()
    assert 2 <= reads <= 5, reads  # a read per round, not one per stream and round (8 streams: ~24)


async def test_a_nodes_consumer_reconnects_after_its_stream_ends_unavailable(tmp_path: Path) -> None:
    import logging

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    c = await start_local_consortium(tmp_path, ["lender-a"], clock=ManualClock())
    logger, handler = logging.getLogger("lianfang.node.alerts"), Collect()
    logger.addHandler(handler)
    authenticator = c.hub.authenticator
    try:
        post_loan = c.members["lender-a"].node.post_loan
        assert post_loan is not None and authenticator is not None
        connected = post_loan.consumer.connected
        await asyncio.wait_for(connected.wait(), timeout=5.0)
        authenticator.wall_clock = lambda: time.time() + 3_600  # its token expires
        for _ in range(200):
            if handler.records:
                break
            await asyncio.sleep(0.02)
        authenticator.wall_clock = time.time
        await asyncio.wait_for(connected.wait(), timeout=5.0)  # reconnected (backoff 0.2 s)
        first = handler.records[0]
        assert first.levelno == logging.WARNING and first.exc_info is None
        assert first.fields == {"code": "UNAVAILABLE"}  # type: ignore[attr-defined]
    finally:
        logger.removeHandler(handler)
        await c.stop()
