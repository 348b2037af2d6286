"""The ``lianfang`` command line: help everywhere, member administration against a real hub."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lianfang.v1 import common_pb2

from clients.credentials import generate_key_file
from clients.demo.consortium import start_local_consortium
from node.sources.personas import LAO_WANG
from runtime.tls import DevCertificateAuthority
from tests.support.origination import application, staff_view, texted_code

CLI = [sys.executable, "-m", "clients.cli.main"]
HELP_PATHS = [
    [],
    ["hub"],
    ["hub", "serve"],
    ["node"],
    ["node", "serve"],
    ["node", "products"],
    *[["node", *verb] for verb in (["monitor"], ["monitor", "run"], ["alerts"], ["dispose"], ["repay"], ["kpis"])],
    *[["node", "outbox", *verb] for verb in ([], ["list"], ["retry"], ["discard"])],
    *[["node", "markers", *verb] for verb in ([], ["list"], ["withdraw"], ["dispute"], ["disputes"], ["records"])],
    ["admin"],
    ["admin", "members"],
    ["admin", "members", "--admin-key", "x", "register"],
    ["admin", "members", "--admin-key", "x", "set-quota"],
    ["admin", "keys", "--admin-key", "x", "new-epoch"],
    *[["admin", "disputes", "--admin-key", "x", *verb] for verb in ([], ["list"], ["open"], ["resolve"])],
    ["admin", "usage"],
    ["keys", "new"],
    ["certs", "init"],
    ["analyst"],
    ["audit", "verify"],
    *[["analyst", verb] for verb in ("rings", "ring", "neighbours", "path", "export", "serve")],
    ["demo"],
]


@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda p: " ".join(p) or "lianfang")
def test_help_everywhere(path: list[str]) -> None:
    result = subprocess.run([*CLI, *path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: lianfang" in result.stdout


def test_connection_options_have_their_defaults_and_a_missing_key_names_the_command(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    generate_key_file(key)
    # no --hub: the default address (nothing listens there), not an AttributeError
    audit = _run("audit", "head", "--subject", "admin/x", "--signing-key", str(key), "--plaintext")
    assert audit.returncode == 1 and "Traceback" not in audit.stderr and ":7443" in audit.stderr
    for command, key_option in ((["admin", "members", "list"], "--admin-key"), (["analyst", "rings"], "--analyst-key")):
        missing = _run(*command, "--plaintext")
        assert missing.returncode == 2 and f"lianfang {' '.join(command)}: error: {key_option} is required" in (
            missing.stderr
        )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


async def _arun(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs the CLI without blocking the event loop that serves the in-process hub."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return subprocess.CompletedProcess(list(args), proc.returncode or 0, out.decode(), err.decode())


async def test_admin_members_commands(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    admin_cert = c.ca.issue_client("admin/demo")  # the hub runs mutual TLS
    try:
        common = [
            "admin",
            "members",
            "--hub",
            c.hub_address,
            "--ca",
            c.ca.ca_file,
            "--admin-key",
            str(tmp_path / "c" / "keys" / "admin.pem"),
            "--admin-name",
            "demo",
            *("--cert", admin_cert.cert_file, "--key", admin_cert.key_file),
        ]
        public = generate_key_file(tmp_path / "new.pem")
        out = await _arun(
            *common,
            "register",
            "lender-z",
            "--name",
            "Lender Z",
            "--category",
            "bank",
            "--public-key",
            base64.b64encode(public).decode(),
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["status"] == "MEMBER_STATUS_PENDING"
        out = await _arun(*common, "approve", "lender-z", "--reason", "checked")
        assert json.loads(out.stdout)["status"] == "MEMBER_STATUS_ACTIVE"
        out = await _arun(*common, "reinstate", "lender-z")
        assert out.returncode == 1 and "FAILED_PRECONDITION" in out.stderr
        rotated = generate_key_file(tmp_path / "rotated.pem")
        (tmp_path / "rotated.pub").write_text(base64.b64encode(rotated).decode())
        out = await _arun(*common, "rotate-key", "lender-z", "--public-key", str(tmp_path / "rotated.pub"))
        assert out.returncode == 0, out.stderr
        assert base64.b64decode(json.loads(out.stdout)["publicKey"]) == rotated
        out = await _arun(*common, "register", "BAD", "--name", "x", "--category", "bank", "--public-key", "AAAA")
        assert out.returncode == 1 and "--public-key: expected a raw 32-byte key" in out.stderr  # before any call
        good = base64.b64encode(generate_key_file(tmp_path / "bad-id.pem")).decode()
        out = await _arun(*common, "register", "BAD", "--name", "x", "--category", "bank", "--public-key", good)
        assert out.returncode == 1 and "member_id" in out.stderr
        out = await _arun(*common, "list")
        assert {json.loads(line)["memberId"] for line in out.stdout.splitlines()} == {"lender-a", "lender-z"}
        after = await _arun("admin", "members", "list", *common[2:])  # the options after the verb work too
        assert after.returncode == 0 and after.stdout == out.stdout, after.stderr
        split = await _arun("admin", "members", *common[2:6], "list", *common[6:])  # or some before, some after
        assert split.returncode == 0 and split.stdout == out.stdout, split.stderr
        missing = await _arun("admin", "members", "--hub", c.hub_address, "list")
        assert missing.returncode == 2 and "--admin-key is required" in missing.stderr
        nameless = await _arun(
            *common, "register", "lender-y", "--name", "Y", "--public-key", str(tmp_path / "new.pem")
        )
        assert nameless.returncode == 2 and "--category" in nameless.stderr  # no silent microloan
        out = await _arun(*common, "set-quota", "lender-a", "--daily", "50000", "--reason", "larger book")
        assert out.returncode == 0, out.stderr
        assert (json.loads(out.stdout)["dailyCheckQuota"], json.loads(out.stdout)["ownQuota"]) == ("50000", True)
        out = await _arun(*common, "set-quota", "lender-a", "--daily", "default")
        assert json.loads(out.stdout).get("ownQuota", False) is False
        out = await _arun(*common, "set-quota", "lender-a", "--daily", "-5")
        assert out.returncode == 2 and "'default'" in out.stderr
    finally:
        await c.stop()


def test_keys_and_certs(tmp_path: Path) -> None:
    assert _run("keys", "new", "consortium", str(tmp_path / "k.hex")).returncode == 0
    assert len(bytes.fromhex((tmp_path / "k.hex").read_text())) == 32
    out = _run("keys", "new", "signing", str(tmp_path / "s.pem"))
    assert out.returncode == 0 and len(out.stdout.strip()) == 44
    # An existing key is never replaced by accident: the consortium's token key, an admin's key
    kept = {name: (tmp_path / name).read_bytes() for name in ("k.hex", "s.pem")}
    for kind, name in (("consortium", "k.hex"), ("signing", "s.pem")):
        out = _run("keys", "new", kind, str(tmp_path / name))
        assert out.returncode == 2 and "--force" in out.stderr and "Traceback" not in out.stderr
        assert (tmp_path / name).read_bytes() == kept[name]
    assert _run("keys", "new", "consortium", str(tmp_path / "k.hex"), "--force").returncode == 0
    assert (tmp_path / "k.hex").read_bytes() != kept["k.hex"]
    assert _run("certs", "init", "--dir", str(tmp_path / "ca")).returncode == 0
    out = _run("certs", "issue", "hub", "--dir", str(tmp_path / "ca"), "--host", "hub.example")
    assert out.returncode == 0 and (tmp_path / "ca" / "hub.pem").exists()


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    f = tmp_path / "hub.toml"
    f.write_text("[hub]\nlisen = 1\n")
    out = _run("hub", "serve", "--config", str(f))
    assert out.returncode == 2 and "lisen" in out.stderr


async def test_node_pipeline_commands(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from node.sources.personas import JINGCHENG_PARTS as P
    from node.sources.simulators import SEED_PERSONAS_FILE

    c = await start_local_consortium(
        tmp_path / "c", ["lender-a"], source_latency_ms=1, scenario_file=SEED_PERSONAS_FILE
    )
    try:
        member = c.members["lender-a"]
        idp = tmp_path / "idp.pem"
        idp.write_bytes(
            member.identity_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        borrower = tmp_path / "borrower.pem"
        generate_key_file(borrower)
        common = ["--node", f"localhost:{member.node.port}", "--ca", c.ca.ca_file, "--identity-key", str(idp)]
        out = await _arun("node", "products", *common, "--kind", "company")
        assert out.returncode == 0, out.stderr
        offered = [json.loads(line) for line in out.stdout.splitlines()]
        assert [p["code"] for p in offered] == ["keji_liudong", "shebei_diya", "xiaowei_puhui"]
        assert offered[0]["collateralRatio"] == 0 and offered[1]["collateralRatio"] == 0.7
        out = await _arun(
            "node",
            "apply",
            *common,
            "--ref",
            "cli-1",
            "--product",
            "shebei_diya",
            "--kind",
            "company",
            "--name",
            P.name,
            "--uscc",
            P.uscc,
            "--legal-rep",
            P.legal_rep_resident_id,
            "--phone",
            P.phone,
            "--industry",
            P.industry,
            "--locality",
            P.locality,
            "--amount",
            "350000",
            "--term",
            "36",
            "--consent",
            "auth-cli-1",
            "--collateral-value",
            "500000",
        )
        assert out.returncode == 0, out.stderr
        app = json.loads(out.stdout)
        assert app["state"] == "approved" and app["collateralValueFen"] == "50000000"  # int64: a string in JSON
        app_id = app["applicationId"]
        out = await _arun("node", "sign-code", *common, app_id)
        assert json.loads(out.stdout)["sentTo"] == "+86 158****2306", out.stderr
        # what the borrower's phone shows: on a development node, the recording SMS channel's table
        texted = await _arun("node", "sms", "--database", member.config.database, "--last", "1")
        (message,) = [json.loads(line) for line in texted.stdout.splitlines()]
        (code,) = re.findall(r"\b\d{6}\b", message["text"])
        assert message["phone"] == P.phone and code == texted_code(member.node)
        out = await _arun(
            "node", "sign", *common, app_id, "--borrower-key", str(borrower), "--sms-code", code, "--face-verified"
        )
        assert json.loads(out.stdout)["signatureValid"] is True, out.stderr
        failed = await _arun("node", "drawdown", *common, app_id, "--amount", "1")  # below the minimum
        assert failed.returncode == 1 and "INVALID_ARGUMENT" in failed.stderr
        assert len(re.findall(r"--request-id [0-9a-f]{32}", failed.stderr)) == 1  # the id to run it again with
        out = await _arun("node", "drawdown", *common, app_id, "--amount", "350000", "--payee", "6222020200112233445")
        drawdown = json.loads(out.stdout)
        assert drawdown["paymentMode"] == "entrusted" and drawdown["state"] == "pending_review"
        out = await _arun("node", "disburse", *common, "--as", "customer", drawdown["drawdownId"], "--comment", "x")
        assert out.returncode == 1 and "PERMISSION_DENIED" in out.stderr  # a customer cannot disburse
        out = await _arun(
            "node",
            "disburse",
            *common,
            "--as",
            "disbursement_reviewer",
            drawdown["drawdownId"],
            "--comment",
            "vendor invoice verified",
        )
        loan_id = json.loads(out.stdout)["loanId"]
        out = await _arun("node", "show", *common, "--loan", loan_id)
        shown = json.loads(out.stdout)
        assert len(shown["schedule"]) == 36 and (shown["paidFen"], shown["daysPastDue"]) == ("0", 0)  # zeros shown
        officer = [*common, "--as", "post_loan_officer"]
        out = await _arun("node", "repay", *officer, loan_id, "--amount", "0.004", "--payment-id", "core-0")
        assert out.returncode != 0 and "--amount: a payment of at least 0.01 yuan" in out.stderr  # not "repaid"
        out = await _arun("node", "repay", *officer, loan_id, "--amount", "1000", "--payment-id", "core-1")
        assert (json.loads(out.stdout)["paidFen"], json.loads(out.stdout)["state"]) == ("100000", "active"), out.stderr
        out = await _arun("node", "show", *common, app_id)
        assert json.loads(out.stdout)["state"] == "funded"

        # The outbox: a dead letter (made dead through the node's own queue) listed and discarded.
        outbox = member.node.engine.outbox
        with outbox.store.transaction() as db:
            outbox.enqueue_in(db, "outcome", "outcome:cli:OUTCOME_REPAID", app_id, b"x", c.clock())
        [row] = [r for r in outbox.rows() if r.idempotency_key == "outcome:cli:OUTCOME_REPAID"]
        outbox.mark_dead(row.id, "NOT_FOUND: made dead for the CLI test")
        admin = [*common, "--as", "system_admin"]
        out = await _arun("node", "outbox", "list", *admin, "--state", "dead")
        summary, item = (json.loads(line) for line in out.stdout.splitlines())
        assert summary["dead"] == 1 and item["id"] == str(row.id)
        out = await _arun("node", "outbox", "discard", *admin, str(row.id + 1000), "--reason", "gone")
        assert out.returncode != 0 and "NOT_FOUND" in out.stderr
        out = await _arun("node", "outbox", "discard", *admin, str(row.id), "--reason", "repaid in branch")
        discarded = json.loads(out.stdout)
        assert discarded["state"] == "discarded" and discarded["lastError"].startswith("discarded by ")
        assert outbox.dead() == 0

        # Markers, through the node: filed by confirm-fraud, listed with their application, withdrawn, disputed.
        risk = [*common, "--as", "risk_manager", "--user", "risk-9"]
        fraud = ["node", "confirm-fraud", *risk, app_id, "--reason-code", "FORGED_DOCUMENTS"]
        out = await _arun(*fraud, "--evidence", "hearsay")
        assert out.returncode == 2 and "invalid choice" in out.stderr  # argparse names the levels
        out = await _arun(*fraud, "--evidence", "court_judgment", "--case-ref", f"报案 {P.phone}")
        assert out.returncode == 1 and "case_ref" in out.stderr and P.phone not in out.stderr
        out = await _arun(*fraud, "--evidence", "court_judgment", "--case-ref", "(2024)苏0506刑初88号")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["state"] == "fraud_confirmed"
        out = await _arun("node", "markers", "list", *risk)
        assert out.returncode == 0, out.stderr
        listed = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(listed) >= 2 and {m["applicationId"] for m in listed} == {app_id}  # one per identifier
        first = listed[0]["marker"]["markerId"]
        out = await _arun("node", "markers", "list", *common, "--as", "customer_manager")
        assert out.returncode == 1 and "PERMISSION_DENIED" in out.stderr
        out = await _arun("node", "markers", "withdraw", *risk, first, "--reason", "wrong applicant")
        assert out.returncode == 0, out.stderr
        withdrawn = json.loads(out.stdout)
        assert withdrawn["marker"]["status"] == "MARKER_STATUS_WITHDRAWN" and withdrawn["withdrawnBy"] == "risk-9"
        out = await _arun("node", "markers", "list", *risk)
        assert first not in out.stdout and len(out.stdout.splitlines()) == len(listed) - 1
        out = await _arun("node", "markers", "list", *risk, "--all")
        assert first in out.stdout and len(out.stdout.splitlines()) == len(listed)
        second = listed[1]["marker"]["markerId"]
        desk = [*common, "--as", "customer_manager"]
        out = await _arun("node", "markers", "dispute", *desk, second, "--statement", "电话 13800138000 是我的")
        assert out.returncode == 1 and "subject_statement" in out.stderr and "13800138000" not in out.stderr
        out = await _arun("node", "markers", "dispute", *desk, second, "--statement", "I never applied")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["markerId"] == second
        out = await _arun("node", "markers", "disputes", *desk)
        assert [json.loads(line)["markerId"] for line in out.stdout.splitlines()] == [second], out.stderr
        borrower = ["--uscc", P.uscc, "--legal-rep", P.legal_rep_resident_id, "--phone", P.phone]
        out = await _arun("node", "markers", "records", *desk, *borrower, "--request-ref", "SAR-2026-0007")
        assert out.returncode == 0, out.stderr
        standing = {m["markerId"]: m["status"] for m in json.loads(out.stdout)["markers"]}
        assert first not in standing and standing[second] == "MARKER_STATUS_DISPUTED"
    finally:
        await c.stop()


async def test_analyst_commands(tmp_path: Path) -> None:
    from clients.analyst_web.page import STATIC
    from graph.export import from_graphml, from_json
    from tests.integration.test_hub_rings import plant_device_ring

    c = await start_local_consortium(tmp_path / "c", ["lender-a", "lender-b", "lender-c"])
    try:
        ring_id = (await plant_device_ring(c))[-1].ring.ring_id
        common = ["--hub", c.hub_address, "--ca", c.ca.ca_file]
        common += ["--analyst-key", str(c.folder / "keys" / "analyst.pem"), "--analyst-name", "demo"]
        client = c.ca.issue_client("analyst/demo")
        common += ["--cert", client.cert_file, "--key", client.key_file]
        rings = await _arun("analyst", "rings", *common)
        assert rings.returncode == 0, rings.stderr
        listed = [json.loads(line) for line in rings.stdout.splitlines()]
        assert [(r["ring_id"], r["size"], r["lenders"]) for r in listed] == [(ring_id, 5, 3)]
        assert "1 ring(s) matched" in rings.stderr
        before = await _arun("analyst", *common, "rings")  # the options before the verb work too
        assert before.returncode == 0 and before.stdout == rings.stdout, before.stderr

        ring = await _arun("analyst", "ring", "lender-c/ring-2", *common)
        answer = json.loads(ring.stdout)
        assert answer["ring"]["ring_id"] == ring_id and len(answer["graph"]["nodes"]) == 7

        hood = json.loads((await _arun("analyst", "neighbours", "lender-a/ring-0", "--hops", "1", *common)).stdout)
        assert {n["id"] for n in hood["nodes"] if not n["is_token"]} == {"lender-a/ring-0"}

        path = json.loads((await _arun("analyst", "path", "lender-a/ring-0", "lender-b/ring-4", *common)).stdout)
        assert path["path"][0] == "lender-a/ring-0" and path["path"][-1] == "lender-b/ring-4"

        graphml = await _arun("analyst", "export", ring_id, "--format", "graphml", *common)
        assert from_graphml(graphml.stdout).number_of_nodes() == 7
        out = tmp_path / "ring.json"
        await _arun("analyst", "export", ring_id, "-o", str(out), *common)
        assert from_json(out.read_text()).number_of_nodes() == 7
        page = tmp_path / "ring.html"
        html = await _arun("analyst", "export", "lender-a/ring-0", "--format", "html", "-o", str(page), *common)
        assert html.returncode == 0, html.stderr
        text = page.read_text()
        assert ring_id in text and "window.LIANFANG_DATA" in text
        assert (STATIC / "graph.js").read_text()[:200] in text
        small = await _arun(
            "analyst", "export", ring_id, "--format", "html", "--max-nodes", "3", "-o", str(page), *common
        )
        assert small.returncode == 0 and "truncated" in small.stderr  # the page's graph obeys --max-nodes too
        assert '"truncated":true' in page.read_text().replace(" ", "")
        negative = await _arun("analyst", "neighbours", "lender-a/ring-0", "--max-nodes", "-1", *common)
        assert negative.returncode == 2 and "must be 0" in negative.stderr  # an argument error, not a traceback
        wildcard = await _arun("analyst", "serve", "--listen-host", "0.0.0.0", *common)
        assert wildcard.returncode == 1 and "--listen-host must be one address" in wildcard.stderr
        from clients.cli.analyst_commands import is_ring_id

        assert is_ring_id(ring_id) and not is_ring_id("ring-credit/app-1")  # a member id may begin "ring-"

        # `serve`: the page and its API, from a real process.
        from tests.support.redis_process import free_port

        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            *CLI, "analyst", "serve", "--port", str(port), *common, stderr=asyncio.subprocess.PIPE
        )
        try:
            api = await _http_get(f"http://127.0.0.1:{port}/api/rings")
            assert [r["ring_id"] for r in json.loads(api)["rings"]] == [ring_id]
            assert b"graph.js" in (await _http_get(f"http://127.0.0.1:{port}/")).encode()
            status, body = await _http_error(f"http://127.0.0.1:{port}/api/ring?application=lender-a/nope")
            assert status == 404 and json.loads(body)["error"] == "NOT_FOUND"
            for query in ("rings?limit=-5", "rings?limit=99999999999", "neighbours?entity=x&hops=-1"):
                status, body = await _http_error(f"http://127.0.0.1:{port}/api/{query}")
                assert status == 400 and json.loads(body)["error"] == "INVALID_ARGUMENT", query
        finally:
            proc.terminate()
            await proc.wait()

        missing = await _arun("analyst", "ring", "lender-a/nope", *common)
        assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
        bad = await _arun("analyst", "neighbours", "lender-a/ring-0", "--hops", "9", *common)
        assert bad.returncode == 1 and "hops: at most 6" in bad.stderr
    finally:
        await c.stop()


async def _http_get(url: str) -> str:
    """GET with retries while the server process starts."""
    import time
    import urllib.error
    import urllib.request

    def fetch() -> str:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return str(response.read().decode())
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    return await asyncio.to_thread(fetch)


async def _http_error(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    return await asyncio.to_thread(fetch)


async def test_audit_verify_command(tmp_path: Path) -> None:
    from tests.support.consortium import check_request, phone

    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    try:
        client = c.ca.issue_client("lender-a")
        common = ["--hub", c.hub_address, "--ca", c.ca.ca_file, "--cert", client.cert_file, "--key", client.key_file]
        common += ["--subject", "lender-a", "--signing-key", c.members["lender-a"].key_file]
        state = tmp_path / "head.json"
        verify = ["audit", "verify", *common, "--hub-audit-key", c.audit_public_key, "--state", str(state)]
        first = await _arun(*verify)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["tree_size"] == 2 and state.exists()
        await c.members["lender-a"].hub_client.check_request(check_request("cli-1", phone(1)))
        second = await _arun(*verify)
        assert second.returncode == 0 and "extends the saved head of 2" in second.stderr
        assert json.loads(second.stdout)["tree_size"] == 3
        # the hub's audit key file (`lianfang up` keeps it) gives its public half, as does `keys public`
        pem = str(tmp_path / "c" / "keys" / "hub-audit.pem")
        by_file = await _arun(*[pem if a == c.audit_public_key else a for a in verify])
        assert by_file.returncode == 0, by_file.stderr
        assert (await _arun("keys", "public", pem)).stdout.strip() == c.audit_public_key
        saved = json.loads(state.read_text())
        saved["treeSize"] = "2"  # a head whose signature no longer matches
        state.write_text(json.dumps(saved))
        forged = await _arun(*verify)
        assert forged.returncode == 1 and "AUDIT FAILED" in forged.stderr
    finally:
        await c.stop()


async def test_admin_key_epoch_commands(tmp_path: Path) -> None:
    from clients.key_epochs import load_encryption_key, unwrap_key

    c = await start_local_consortium(tmp_path / "c", ["lender-a"])
    admin_cert = c.ca.issue_client("admin/demo")
    try:
        common = ["admin", "keys", "--hub", c.hub_address, "--ca", c.ca.ca_file]
        common += ["--cert", admin_cert.cert_file, "--key", admin_cert.key_file]
        common += ["--admin-key", str(tmp_path / "c" / "keys" / "admin.pem"), "--admin-name", "demo"]
        made = await _arun("keys", "new", "encryption", str(tmp_path / "x.pem"))
        assert made.returncode == 0
        public = made.stdout.strip()
        assert (await _arun(*common, "set-encryption-key", "lender-a", "--public-key", public)).returncode == 0
        # the nodes tokenise with a key file (epoch 1): the hub adopts that key as its epoch 1, so
        # their Checks go on being answered (a fresh epoch 2 first used to refuse every one of them)
        file_key = tmp_path / "c" / "keys" / "consortium-epoch-1.hex"
        unadopted = await _arun(*common, "new-epoch", "1", "--key-file", str(tmp_path / "fresh.hex"))
        assert unadopted.returncode == 1 and "Adopt theirs" in unadopted.stderr
        assert not (tmp_path / "fresh.hex").exists()
        adopted = await _arun(*common, "new-epoch", "1", "--key-file", str(file_key))
        assert adopted.returncode == 0, adopted.stderr
        assert json.loads(adopted.stdout)["members"] == ["lender-a"] and "made a new" not in adopted.stderr
        (mine,) = await c.members["lender-a"].hub_client.my_key_epochs()
        private = load_encryption_key(tmp_path / "x.pem")
        assert unwrap_key(mine.wrapped_key, 1, "lender-a", private) == bytes.fromhex(file_key.read_text())
        view = await staff_view(
            c.members["lender-a"],
            await c.members["lender-a"].as_role("customer").submit_application(application(LAO_WANG, "after-adopt")),
        )
        assert "HUB_REFUSED" not in view.decision.reasons and view.decision.consortium.application_ref

        new_key = tmp_path / "epoch-2.hex"
        created = await _arun(*common, "new-epoch", "2", "--key-file", str(new_key))
        assert created.returncode == 0, created.stderr
        assert f"wrote it to {new_key}" in created.stderr and new_key.stat().st_mode & 0o777 == 0o600
        epochs = await c.members["lender-a"].hub_client.my_key_epochs()
        assert unwrap_key(epochs[1].wrapped_key, 2, "lender-a", private) == bytes.fromhex(new_key.read_text())
        reused = await _arun(*common, "new-epoch", "3", "--key-file", str(file_key))  # epoch 1's key again
        assert reused.returncode == 1 and "that is key epoch 1's key" in reused.stderr
        wrong = await _arun(*common, "grant", "2", "--key-file", str(file_key))
        assert wrong.returncode == 1 and "not key epoch 2's key" in wrong.stderr and "WrongEpochKey" not in wrong.stderr
        nobody = await _arun(*common, "grant", "2", "--key-file", str(new_key))
        assert nobody.returncode == 0 and "holds key epoch 2 already: nothing to do" in nobody.stderr  # a rerun
        missing = await _arun(*common, "grant", "2", "--key-file", str(tmp_path / "nowhere.hex"))
        assert missing.returncode == 1 and "nowhere.hex" in missing.stderr and not (tmp_path / "nowhere.hex").exists()
        listed = await _arun(*common, "list")
        assert [json.loads(line)["epoch"] for line in listed.stdout.splitlines()] == [1, 2]
        refused = await _arun(*common, "retire", "2")
        assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr
    finally:
        await c.stop()


async def test_admin_dispute_and_usage_commands(tmp_path: Path) -> None:
    """An admin opens a data subject's dispute, sees it listed, resolves it from the terminal;
    the marker's filer sees the outcome. ``admin usage`` shows who took and gave what."""

    from tests.support.consortium import check_request, rid

    # one Check without an outcome is enough to look like scraping here
    c = await start_local_consortium(tmp_path / "c", ["lender-a", "lender-b"], hub_options={"scraping_checks": 1})
    admin_cert = c.ca.issue_client("admin/demo")
    filer = c.members["lender-b"].hub_client
    try:
        conn = ["--hub", c.hub_address, "--ca", c.ca.ca_file, "--cert", admin_cert.cert_file]
        conn += ["--key", admin_cert.key_file, "--admin-key", str(tmp_path / "c" / "keys" / "admin.pem")]
        conn += ["--admin-name", "demo"]
        disputes = ["admin", "disputes", *conn]
        token = common_pb2.Token(scheme=1, type=3, epoch=1, value=b"\x01" * 16)
        wrong = await filer.file_marker(token, common_pb2.MARKER_TYPE_SUSPECT, "MULE_ACCOUNT")
        right = await filer.file_marker(token, common_pb2.MARKER_TYPE_COURT_DISHONEST, "COURT_LIST")

        out = await _arun(*disputes, "open", wrong.marker_id, "--statement", "I never applied there")
        assert out.returncode == 0, out.stderr
        first = json.loads(out.stdout)
        assert first["markerId"] == wrong.marker_id and first["raisedBy"] == "admin/demo" and first["deadline"]
        out = await _arun(*disputes, "open", right.marker_id, "--statement", "the court list is out of date")
        second = json.loads(out.stdout)
        listed = await _arun(*disputes, "list")
        assert [json.loads(line)["disputeId"] for line in listed.stdout.splitlines()] == [
            first["disputeId"],
            second["disputeId"],
        ]

        out = await _arun(*disputes, "resolve", first["disputeId"], "withdraw", "--note", "filed in error")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["resolution"] == "DISPUTE_RESOLUTION_WITHDRAW"
        # CORRECT needs the new marker's type and reason: the hub names both fields
        out = await _arun(*disputes, "resolve", second["disputeId"], "correct", "--note", "n")
        assert out.returncode == 1 and "corrected_marker_type" in out.stderr and "corrected_reason_code" in out.stderr
        out = await _arun(*disputes, "resolve", second["disputeId"], "uphold", "--note", "n", "--reason-code", "X_Y")
        assert out.returncode == 1 and "only go with a correct" in out.stderr and "Traceback" not in out.stderr
        out = await _arun(
            *disputes,
            *("resolve", second["disputeId"], "correct", "--note", "it was a suspicion, not a court listing"),
            *("--marker-type", "suspect", "--reason-code", "UNVERIFIED_LISTING"),
        )
        assert out.returncode == 0, out.stderr
        corrected = json.loads(out.stdout)["correctedMarkerId"]
        out = await _arun(*disputes, "resolve", first["disputeId"], "uphold", "--note", "again")
        assert out.returncode == 1 and "FAILED_PRECONDITION" in out.stderr

        assert (await _arun(*disputes, "list")).stdout == ""  # none open
        listed = await _arun(*disputes, "list", "--all")
        assert len(listed.stdout.splitlines()) == 2
        mine = {m.marker_id: m for m in await filer.list_my_markers(include_inactive=True)}
        assert mine[wrong.marker_id].status == common_pb2.MARKER_STATUS_WITHDRAWN
        assert mine[corrected].marker_type == common_pb2.MARKER_TYPE_SUSPECT
        assert mine[corrected].reason_code == "UNVERIFIED_LISTING"

        await c.members["lender-a"].hub_client.check_request(check_request("usage-1", rid(1)))
        usage = await _arun("admin", "usage", *conn)
        assert usage.returncode == 0, usage.stderr
        rows = {row["memberId"]: row for row in map(json.loads, usage.stdout.splitlines())}
        assert set(rows) == {"lender-a", "lender-b"}  # lender-b has not checked anyone: listed all the same
        assert {row["status"] for row in rows.values()} == {"MEMBER_STATUS_ACTIVE"}
        # markers count while they stand: the withdrawn one does not (give-to-get cannot be bought)
        assert rows["lender-b"].get("markersFiled", "0") == "1" and rows["lender-b"].get("checks", "0") == "0"
        assert rows["lender-a"]["checks"] == "1" and "SCRAPING_SUSPECTED" in rows["lender-a"]["flags"]
        flagged = await _arun("admin", "usage", *conn, "--flagged")
        assert [json.loads(line)["memberId"] for line in flagged.stdout.splitlines()] == ["lender-a"]
    finally:
        await c.stop()


def test_everyday_mistakes_get_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A missing key or CA file, a client certificate without its key, a malformed argument: a
    one-line message naming what is wrong and a non-zero exit, never a Python traceback."""
    ca = DevCertificateAuthority(tmp_path / "ca")
    client = ca.issue_client("admin_ops")
    hub = ["admin", "members", "--hub", "127.0.0.1:1", "--ca", ca.ca_file]
    cases = [
        ([*hub, "--admin-key", str(tmp_path / "missing.pem"), "list"], "missing.pem"),
        (["admin", "members", "--hub", "127.0.0.1:1", "--admin-key", str(tmp_path / "k.pem"), "list"], "CA file"),
        ([*hub, "--cert", client.cert_file, "--admin-key", str(tmp_path / "k.pem"), "list"], "without its key"),
        (["demo", "--lenders", "1"], "at least 2"),
        (["certs", "issue", "hub", "--dir", str(tmp_path / "no-ca")], "certs init"),
        # destroying a key epoch's secret is irreversible: only once the hub has re-keyed out of it
        (
            [
                "keys",
                "admin",
                "--key-service",
                "127.0.0.1:1",
                "--ks-plaintext",
                "--signing-key",
                str(tmp_path / "s.pem"),
                "retire",
                "1",
            ],
            "--rekeyed",
        ),
    ]
    assert _run("keys", "new", "signing", str(tmp_path / "s.pem")).returncode == 0
    for argv, said in cases:
        out = _run(*argv)
        assert out.returncode != 0 and said in out.stderr and "Traceback" not in out.stderr, (argv, out.stderr)


def test_keys_public_prints_what_register_and_set_encryption_key_take(tmp_path: Path) -> None:
    """A member hands the admin its public keys from its key files: they were printed once, by
    ``keys new``; ``keys public`` prints them again, and the commands take the PEM file too."""
    from clients.credentials import public_key_arg

    for kind in ("signing", "encryption"):
        made = _run("keys", "new", kind, str(tmp_path / f"{kind}.pem"))
        again = _run("keys", "public", str(tmp_path / f"{kind}.pem"))
        assert made.returncode == again.returncode == 0 and again.stdout == made.stdout
        raw = base64.b64decode(made.stdout)
        assert public_key_arg(str(tmp_path / f"{kind}.pem"), "--public-key") == raw
        assert public_key_arg(made.stdout.strip(), "--public-key") == raw
    (tmp_path / "junk.pem").write_text("not a key")
    for bad, said in (
        (str(tmp_path / "junk.pem"), "expected a raw 32-byte key"),
        ("abc", "expected a raw 32-byte key"),
        (str(tmp_path / "missing.pem"), "missing.pem: no such file"),
    ):
        refused = _run("keys", "public", bad)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr and "padding" not in refused.stderr
