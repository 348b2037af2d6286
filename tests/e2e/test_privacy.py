"""No raw identifier planted in a workload reaches the hub's stores or logs.

A workload runs through real nodes (raw identifiers in) to the hub (tokens only); then the
hub's SQLite files, a Redis dump (uncompressed RDB plus every key and value read back) and the
captured JSON logs are scanned for every identifier in raw and canonical spellings.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import redis

from clients.demo.run import run_demo
from clients.demo.workload import build_workload
from runtime.logs import configure_logging
from tests.support.redis_process import RedisProcess

APPLICANTS, LENDERS, SEED, WEEKS = 120, 3, 11, 4


def _needles() -> set[bytes]:
    work = build_workload(APPLICANTS, [f"lender-{c}" for c in "abc"], weeks=WEEKS, seed=SEED)
    people = {a.person for a in work.applications} | {f.person for f in work.filings}
    needles: set[str] = set()
    for p in people:
        needles |= {p.resident_id, p.phone, "+86" + p.phone, p.device_id, p.bank_account, p.address, p.ip}
        needles.add(p.resident_id[:6] + p.resident_id[8:17])  # 15-digit form of the ID
    assert len(needles) > 500
    return {n.encode() for n in needles}


def _leaks(blob: bytes, needles: set[bytes]) -> list[bytes]:
    return sorted(n for n in needles if n in blob)


async def _run(store_url: str, folder: Path) -> str:
    stream = io.StringIO()
    configure_logging("INFO", stream)  # every RPC of hub and nodes logs a line
    try:
        result = await run_demo(APPLICANTS, LENDERS, seed=SEED, weeks=WEEKS, store_url=store_url, folder=str(folder))
    finally:
        logging.getLogger("lianfang").handlers.clear()
    assert result.checks > APPLICANTS and result.blacklist.tp > 0 and result.stacking.tp > 0
    return stream.getvalue()


async def test_sqlite_files_and_logs_hold_no_raw_identifier(tmp_path: Path) -> None:
    needles = _needles()
    logs = await _run("", tmp_path)
    assert logs.count('"msg":"rpc"') > APPLICANTS
    files = [p for p in tmp_path.iterdir() if p.name.startswith("hub.db")]
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 10_000
    assert _leaks(blob, needles) == []
    assert _leaks(logs.encode(), needles) == []


async def test_redis_dump_and_logs_hold_no_raw_identifier(tmp_path: Path) -> None:
    needles = _needles()
    server = RedisProcess(tmp_path / "redis", extra_args=("--rdbcompression", "no")).start()
    try:
        logs = await _run(server.url, tmp_path / "run")
        client = redis.Redis.from_url(server.url)
        parts: list[bytes] = []
        for key in client.scan_iter(count=1000):
            parts.append(key)
            kind = client.type(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"hash":
                parts += [x for kv in client.hgetall(key).items() for x in kv]
            elif kind == b"zset":
                parts += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == b"set":
                parts += list(client.smembers(key))
        assert len(parts) > 1000
        client.save()
        client.close()
        rdb = (server.dir / "dump.rdb").read_bytes()
        assert len(rdb) > 10_000
        assert _leaks(b"\n".join(parts), needles) == []
        assert _leaks(rdb, needles) == []
        assert _leaks(logs.encode(), needles) == []
    finally:
        server.stop()


async def test_node_refuses_references_that_embed_identifiers(tmp_path: Path) -> None:
    import grpc
    import pytest
    from lianfang.v1 import common_pb2, node_pb2

    from clients.demo.consortium import start_local_consortium
    from clients.errors import LianfangRpcError

    c = await start_local_consortium(tmp_path, ["lender-a"])
    try:
        node = c.members["lender-a"].node_client
        request = node_pb2.ScreenRequest(
            application_ref="app-138-0013-8000",
            consent_ref="consent-1",
            applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
            product_category="consumer_instalment",
            identifiers=node_pb2.Identifiers(phones=["+86 138 0013 8000"]),
        )
        with pytest.raises(LianfangRpcError) as err:
            await node.screen(request)
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in err.value.violations] == ["application_ref"]
        assert await c.hub.store.get_application("lender-a", "app-138-0013-8000") is None
        request.identifiers.ips.append("203.0.113.77")
        request.identifiers.resident_id = "110101199003071233"
        for embedded in ("scr-203.0.113.77", "scr-110101900307123"):  # an IP; the ID's 15-digit form
            request.application_ref = embedded
            with pytest.raises(LianfangRpcError) as err:
                await node.screen(request)
            assert [v.field for v in err.value.violations] == ["application_ref"], embedded
        request.application_ref = "app-1"
        assert (await node.screen(request)).tokens_sent == 4  # phone, ID, IP and its /24
        stored = await c.hub.store.get_application("lender-a", "app-1")
        assert stored is not None and stored.consent_ref != "consent-1" and len(stored.consent_ref) == 32
    finally:
        await c.stop()


async def test_the_hub_holds_a_keyed_digest_of_the_consent_reference(tmp_path: Path) -> None:
    """A lender's authorisation reference may be a phone or ID number: the hub gets a digest
    keyed by the member (a plain hash of a phone number is reversed by trying them all), and two
    members' digests of one reference differ."""
    import hashlib

    from clients.demo.consortium import start_local_consortium
    from node.sources.personas import JINGCHENG_PARTS
    from tests.support.origination import application

    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b"])
    try:
        digests = []
        for member in ("lender-a", "lender-b"):
            request = application(JINGCHENG_PARTS, f"{member}-1")
            request.consent_ref = "13916052718"
            view = await c.members[member].as_role("customer").submit_application(request)
            stored = await c.hub.store.get_application(member, view.application_id)
            assert stored is not None
            digests.append(stored.consent_ref)
        assert len(set(digests)) == 2 and all(len(d) == 32 for d in digests)
        assert hashlib.sha256(b"13916052718").hexdigest()[:32] not in digests
    finally:
        await c.stop()


async def test_a_caller_who_signs_in_with_a_phone_number_is_logged_by_a_keyed_digest(tmp_path: Path) -> None:
    """A lender's identity provider may make a borrower's mobile number the token's subject: the
    node's log lines name that caller by a digest (the same one on every line, so a caller can be
    followed), never the number; staff subjects stay as they are."""
    from clients.demo.consortium import start_local_consortium
    from node.sources.personas import JINGCHENG_PARTS
    from tests.support.origination import application

    stream = io.StringIO()
    configure_logging("INFO", stream)
    c = await start_local_consortium(tmp_path, ["lender-a"])
    try:
        borrower = c.members["lender-a"].as_role("customer", "13916052718")
        view = await borrower.submit_application(application(JINGCHENG_PARTS, "jc-phone-login"))
        await borrower.get_application(view.application_id)
        await c.members["lender-a"].as_role("risk_manager", "risk-7").get_application(view.application_id)
    finally:
        await c.stop()
        logging.getLogger("lianfang").handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    callers = [line["member"] for line in lines if line.get("method", "").startswith("/lianfang.v1.LoanService/")]
    assert "13916052718" not in stream.getvalue()
    [masked] = {m for m in callers if m.startswith("subject~")}
    assert callers.count(masked) == 2 and "risk-7" in callers


def test_every_line_naming_a_caller_masks_an_identifier_shaped_subject() -> None:
    """The mask is applied as lines are written, to every field that names a caller: a node's
    own lines ("marker withdrawn", "outbox item discarded"… ``by``) as well as the per-RPC one."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        log = logging.getLogger("lianfang.node.markers")
        log.info("marker withdrawn", extra={"fields": {"marker": "mk_1", "by": "13916052718"}})
        log.info("marker withdrawn", extra={"fields": {"marker": "mk_2", "by": "risk-7"}})
        logging.getLogger("lianfang.rpc").info("rpc", extra={"fields": {"member": "320506197003080176"}})
    finally:
        logging.getLogger("lianfang").handlers.clear()
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["by"].startswith("subject~") and second["by"] == "risk-7"
    assert third["member"].startswith("subject~") and third["member"] != first["by"]
    assert "13916052718" not in stream.getvalue() and "320506197003080176" not in stream.getvalue()
