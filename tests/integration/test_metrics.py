"""Prometheus metrics of a real hub and real nodes (mutual TLS, SQLite), scraped over HTTP from
their own metrics ports after real calls: the standard gRPC counters and histogram with their
labels, the hub's stacking, marker and ring hits, the node's decisions and hub availability."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
import pytest_asyncio
from lianfang.v1 import common_pb2
from prometheus_client.parser import text_string_to_metric_families

from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from consortium.records import ApplicationRecord
from consortium.rings import application_event
from graph import LinkPolicy
from node.sources.personas import LAO_WANG
from tests.support.consortium import check_request, phone, rid
from tests.support.origination import application

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def growth(before: Samples, after: Samples) -> Callable[..., float]:
    """``moved(name, **labels)``: how much a sample grew from one scrape to the next."""

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    return moved


async def scrape_async(port: int) -> Samples:
    return await asyncio.to_thread(scrape, port)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def consortium(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalConsortium]:
    c = await start_local_consortium(
        tmp_path_factory.mktemp("metrics"),
        ["lender-a", "lender-b"],
        hub_options={"metrics_listen": "127.0.0.1:0"},
        node_options={"metrics_listen": "127.0.0.1:0"},
    )
    try:
        yield c
    finally:
        await c.stop()


def hub_port(c: LocalConsortium) -> int:
    assert c.hub.metrics_endpoint is not None
    return c.hub.metrics_endpoint.port


def node_port(c: LocalConsortium, member: str) -> int:
    endpoint = c.members[member].node.metrics_endpoint
    assert endpoint is not None
    return endpoint.port


@MODULE_LOOP
async def test_each_server_has_its_own_port_and_registry(consortium: LocalConsortium) -> None:
    ports = {hub_port(consortium), node_port(consortium, "lender-a"), node_port(consortium, "lender-b")}
    assert len(ports) == 3 and consortium.hub.port not in ports
    node = await scrape_async(node_port(consortium, "lender-a"))
    assert not [k for k in node if k[0].startswith("lianfang_hub_")]  # a node does not report the hub's


@MODULE_LOOP
async def test_grpc_server_metrics_count_calls_by_method_and_code(consortium: LocalConsortium) -> None:
    c = consortium
    before = await scrape_async(hub_port(c))
    await c.members["lender-a"].hub_client.check_request(check_request("m-ok-1", phone(100)))
    with pytest.raises(LianfangRpcError) as refused:
        await c.members["lender-a"].hub_client.check_request(check_request("", phone(101)))
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    after = await scrape_async(hub_port(c))
    method = {"grpc_type": "unary", "grpc_service": "lianfang.v1.ConsortiumService", "grpc_method": "Check"}
    started = "grpc_server_started_total"
    assert value(after, started, **method) - value(before, started, **method) == 2
    for code in ("OK", "INVALID_ARGUMENT"):
        key = {**method, "grpc_code": code}
        assert value(after, "grpc_server_handled_total", **key) - value(before, "grpc_server_handled_total", **key) == 1
    count = "grpc_server_handling_seconds_count"
    assert value(after, count, **method) - value(before, count, **method) == 2
    bucket = {**method, "le": "+Inf"}
    assert value(after, "grpc_server_handling_seconds_bucket", **bucket) == value(after, count, **method)


@MODULE_LOOP
async def test_hub_counts_stacking_marker_and_ring_hits(consortium: LocalConsortium) -> None:
    c = consortium
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    before = await scrape_async(hub_port(c))
    first = await a.check_request(check_request("m-a-1", rid(7), phone(7)))
    assert not first.HasField("ring")
    await a.file_marker(phone(7), common_pb2.MARKER_TYPE_SUSPECT, "METRICS_SUSPECT")
    second = await b.check_request(check_request("m-b-1", rid(7), phone(7)))  # same person, other lender
    assert {r.code for r in second.reasons} >= {"STACKING_PHONE_1H", "BLACKLIST_SUSPECT"}
    assert second.HasField("ring")
    resent = await b.check_request(check_request("m-b-1", rid(7), phone(7)))  # a client's retry: counted once
    assert not resent.newly_recorded and resent.reasons == second.reasons
    moved = growth(before, await scrape_async(hub_port(c)))

    assert moved("lianfang_hub_check_answers_total") == 2
    assert moved("lianfang_hub_stacking_hits_total", token_type="phone") == 1
    assert moved("lianfang_hub_stacking_hits_total", token_type="resident_id") == 1
    assert moved("lianfang_hub_marker_hits_total", marker_type="suspect", polarity="negative") == 1
    high = "true" if second.ring.score >= 0.7 else "false"
    assert moved("lianfang_hub_ring_hits_total", high_risk=high) == 1


@MODULE_LOOP
async def test_hub_histograms_the_ring_size_of_linked_answers(consortium: LocalConsortium) -> None:
    c = consortium
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    before = await scrape_async(hub_port(c))
    alone = await a.check_request(check_request("m-size-1", rid(21), phone(21)))
    pair = await b.check_request(check_request("m-size-2", rid(22), phone(21)))  # another person, same phone
    three = await b.check_request(check_request("m-size-3", rid(23), phone(21)))
    assert not alone.HasField("ring") and (pair.ring.size, three.ring.size) == (2, 3)
    assert (three.ring.lenders, three.ring.persons) == (2, 3)  # not what the histogram counts
    moved = growth(before, await scrape_async(hub_port(c)))

    size = "lianfang_hub_ring_answer_size"
    assert moved(f"{size}_count") == 2 and moved(f"{size}_sum") == 2 + 3  # the unlinked answer is not counted
    assert moved(f"{size}_bucket", le="2.0") == 1 and moved(f"{size}_bucket", le="3.0") == 2
    assert moved(f"{size}_bucket", le="+Inf") == 2


@MODULE_LOOP
async def test_hub_counts_applications_logged_under_other_ring_link_settings(consortium: LocalConsortium) -> None:
    c = consortium
    drift = "lianfang_hub_ring_link_drift_applications"
    assert value(await scrape_async(hub_port(c)), drift) == 0  # its own Checks carry its own settings
    await c.members["lender-a"].hub_client.check_request(check_request("m-drift-0", phone(300)))
    assert value(await scrape_async(hub_port(c)), drift) == 0
    other = LinkPolicy(windows={})  # a replica whose IPs link forever
    for n in range(2):
        record = ApplicationRecord("lender-b", f"m-drift-{n + 1}", 1_767_225_600.0, ())
        await c.hub.rings.publish([application_event(record, other)])
    assert value(await scrape_async(hub_port(c)), drift) == 2


@MODULE_LOOP
async def test_node_counts_decisions_and_sees_the_hub(consortium: LocalConsortium) -> None:
    c = consortium
    member = c.members["lender-a"]
    before = await scrape_async(node_port(c, "lender-a"))
    customer = member.as_role("customer", "lao-wang")
    view = await customer.submit_application(application(LAO_WANG, "m-lw-1"))
    assert view.decision.outcome  # approve, decline, refer or due_diligence
    again = await customer.submit_application(application(LAO_WANG, "m-lw-1"))  # a resend: no new decision
    assert again.application_id == view.application_id
    after = await scrape_async(node_port(c, "lender-a"))
    name = "lianfang_node_decisions_total"
    assert value(after, name, outcome=view.decision.outcome) - value(before, name, outcome=view.decision.outcome) == 1
    method = {"grpc_type": "unary", "grpc_service": "lianfang.v1.LoanService", "grpc_method": "SubmitApplication"}
    handled = "grpc_server_handled_total"
    assert value(after, handled, **method, grpc_code="OK") - value(before, handled, **method, grpc_code="OK") == 2
    for _ in range(100):  # the probe's first answer comes in shortly after the node starts
        if value(await scrape_async(node_port(c, "lender-a")), "lianfang_node_dependency_up", dependency="hub") == 1:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the hub probe never reported the hub up")
    assert ("lianfang_node_outbox_depth", frozenset()) in after


@MODULE_LOOP
async def test_the_outbox_gauge_reads_what_the_outbox_reports(consortium: LocalConsortium) -> None:
    node = consortium.members["lender-b"].node
    depth = [3]
    node.metrics.watch_outbox(lambda: depth[0])
    assert value(await scrape_async(node_port(consortium, "lender-b")), "lianfang_node_outbox_depth") == 3
    depth[0] = 0
    assert value(await scrape_async(node_port(consortium, "lender-b")), "lianfang_node_outbox_depth") == 0


@MODULE_LOOP
async def test_the_lost_alerts_gauge_reads_what_the_node_counted(consortium: LocalConsortium) -> None:
    node = consortium.members["lender-b"].node
    assert value(await scrape_async(node_port(consortium, "lender-b")), "lianfang_node_hub_alerts_lost") == 0
    assert node.post_loan is not None
    node.post_loan.alerts.note_dropped(5, "99-0")  # as a Watch response saying five were discarded does
    assert value(await scrape_async(node_port(consortium, "lender-b")), "lianfang_node_hub_alerts_lost") == 5
