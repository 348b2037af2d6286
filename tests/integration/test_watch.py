"""Hub Watch over real TLS: co-debt and marker alerts on a watched borrower, counts without the
other lender's identity, at-least-once delivery with resume cursors and durable acks across a
hub restart, and the guards (own applications only, bad cursors)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from clients.hub import HubClient
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
