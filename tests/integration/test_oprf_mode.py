"""OPRF token mode through real parts: a key service, a hub and nodes over mutual TLS with scoped
JWTs, SQLite everywhere. Covers the key service's refusals and quotas, the node's proof check,
re-keying the hub with Δ (same stacking, markers and rings after the old epoch is retired),
canaries, and the node's degraded policy when the key service is down."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2, status_pb2
from lianfang.v1 import common_pb2, consortium_pb2, keys_pb2, keys_pb2_grpc, node_pb2

from clients.canaries import CanaryClient
from clients.credentials import KEYS_AUDIENCE, JwtSigner, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from clients.keys import KeyServiceClient
from consortium.rekey import Rekeyer, require_active_target
from node.identity.applicant import canonical_identifiers, tokenise
from node.identity.oprf_tokens import KeyServiceUnavailable, OprfTokeniser
from node.sources.personas import LAO_WANG
from runtime import oprf
from runtime.errors import FailedPrecondition
from tests.support.consortium import CONSENT_ENDS
from tests.support.origination import application, staff_view

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
OPRF = common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def c(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalConsortium]:
    consortium = await start_local_consortium(
        tmp_path_factory.mktemp("oprf"),
        ["lender-a", "lender-b", "lender-c"],
        token_mode="oprf",
        node_options={"metrics_listen": "127.0.0.1:0"},  # the dependency probes run with metrics
    )
    try:
        yield consortium
    finally:
        await consortium.stop()


def ids(n: int, *, device: str = "") -> node_pb2.Identifiers:
    return node_pb2.Identifiers(
        resident_id=["11010519491231002X", "360426199101010071", "440304198501010013"][n % 3],
        phones=[f"+86 139 0000 {1000 + n:04d}"],
        device_ids=[device] if device else [],
        ips=["203.0.113.7"],
    )


async def tokens_of(c: LocalConsortium, member: str, identifiers: node_pb2.Identifiers) -> list[common_pb2.Token]:
    return await tokenise(identifiers, c.members[member].tokeniser)


async def check(
    c: LocalConsortium, member: str, ref: str, tokens: list[common_pb2.Token]
) -> consortium_pb2.CheckResponse:
    return await c.members[member].hub_client.check(
        application_ref=ref,
        consent_ref=f"consent-{ref}",
        tokens=tokens,
        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
        product_category="consumer_instalment",
        consent_expires_at=CONSENT_ENDS,
    )


def member_client(c: LocalConsortium, member: str) -> KeyServiceClient:
    assert c.key_service is not None
    return c.key_service.client(member, c.members[member].key_file, "evaluate")


def comparable(answer: consortium_pb2.CheckResponse) -> tuple[object, ...]:
    stacking = sorted(
        (s.token_type, tuple((w.window, w.other_members, w.other_applications) for w in s.windows), s.shared)
        for s in answer.stacking
    )
    blacklist = sorted((b.token_type, b.marker_type, b.reason_code, b.filing_members) for b in answer.blacklist)
    reasons = sorted(r.code for r in answer.reasons)
    return stacking, blacklist, reasons


@MODULE_LOOP
async def test_tokens_are_unblinded_elements_tagged_with_the_epoch(c: LocalConsortium) -> None:
    a = await tokens_of(c, "lender-a", ids(0))
    b = await tokens_of(c, "lender-b", ids(0))
    assert [t.value for t in a] == [t.value for t in b]  # blinding is per request; the element is not
    assert all(t.scheme == OPRF and t.epoch == 1 and len(t.value) == 32 for t in a)
    for t in a:
        oprf.check_element(t.value)
    assert len({t.value for t in a}) == len(a)


@MODULE_LOOP
async def test_malformed_blinded_elements_are_refused_with_the_field(c: LocalConsortium) -> None:
    client = member_client(c, "lender-a")
    good = oprf.blind(b"phone|+8613900001000")[1]
    try:
        with pytest.raises(LianfangRpcError) as refused:
            await client.evaluate([good, bytes(32), b"\x01" * 5, b"\xff" * 32])
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in refused.value.violations] == [
            "blinded_elements[1]",
            "blinded_elements[2]",
            "blinded_elements[3]",
        ]
        with pytest.raises(LianfangRpcError) as empty:
            await client.evaluate([])
        assert [v.field for v in empty.value.violations] == ["blinded_elements"]
        answer = await client.evaluate([good])
        assert len(answer.evaluated_elements) == 1 and len(answer.proof) == 64
    finally:
        await client.close()


@MODULE_LOOP
async def test_a_proof_against_another_key_is_rejected_by_the_node(c: LocalConsortium) -> None:
    impostor = oprf.generate_key_pair().public
    tokeniser = OprfTokeniser(member_client(c, "lender-a"), pinned={1: impostor})
    try:
        with pytest.raises(KeyServiceUnavailable, match="proof does not verify"):
            await tokeniser.tokens(canonical_identifiers(ids(1)))
    finally:
        await tokeniser.client.close()
    published = (await member_client(c, "lender-a").public_keys())[0].public_key
    honest = OprfTokeniser(member_client(c, "lender-a"), pinned={1: published})
    try:
        assert len(await honest.tokens(canonical_identifiers(ids(1)))) == 4
    finally:
        await honest.client.close()
    unpinned = OprfTokeniser(member_client(c, "lender-a"), pinned={7: published})  # the epoch in use is not pinned
    try:
        with pytest.raises(KeyServiceUnavailable, match="epoch 1, whose public key this node has not pinned"):
            await unpinned.tokens(canonical_identifiers(ids(1)))
    finally:
        await unpinned.client.close()
    # a pin is taken as `lianfang keys admin` prints the key (hex) or in base64
    from node.config import pinned_public_keys

    for written in (published.hex(), base64.b64encode(published).decode()):
        assert pinned_public_keys({"1": written}) == {1: published}


@MODULE_LOOP
async def test_quotas_are_enforced_with_retry_info_and_audited(c: LocalConsortium) -> None:
    from consortium.key_service.config import KeyServiceConfig
    from consortium.key_service.server import start_key_service

    assert c.key_service is not None
    config = KeyServiceConfig(
        **{
            **c.key_service.config.__dict__,
            "listen": "127.0.0.1:0",
            "database": str(c.folder / "quota-keys.db"),
            "member_quotas": {"lender-a": "5"},
        }
    )
    service = await start_key_service(config)
    try:
        cert = c.ca.issue_client("lender-a")
        channel = grpc.aio.secure_channel(
            f"localhost:{service.port}",
            grpc.ssl_channel_credentials(
                Path(c.ca.ca_file).read_bytes(), Path(cert.key_file).read_bytes(), Path(cert.cert_file).read_bytes()
            ),
        )
        signer = JwtSigner(
            "lender-a", load_private_key(c.members["lender-a"].key_file), audience=KEYS_AUDIENCE, scopes=("evaluate",)
        )
        stub = keys_pb2_grpc.KeyServiceStub(channel)
        blinded = [oprf.blind(f"phone|+86139{i:08d}".encode())[1] for i in range(3)]
        ok = await stub.Evaluate(keys_pb2.EvaluateRequest(blinded_elements=blinded), metadata=signer.metadata())
        assert len(ok.evaluated_elements) == 3
        with pytest.raises(grpc.aio.AioRpcError) as exhausted:
            await stub.Evaluate(keys_pb2.EvaluateRequest(blinded_elements=blinded), metadata=signer.metadata())
        assert exhausted.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = dict(exhausted.value.trailing_metadata() or ())["grpc-status-details-bin"]
        status = status_pb2.Status.FromString(details)
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry) and retry.retry_delay.seconds > 0
        two = await stub.Evaluate(keys_pb2.EvaluateRequest(blinded_elements=blinded[:2]), metadata=signer.metadata())
        assert len(two.evaluated_elements) == 2  # exactly up to the quota of 5
        await channel.close()
        entries = service.vault.audit("lender-a")
        assert [(e.action, e.count, e.epoch) for e in entries] == [("evaluate", 2, 1), ("evaluate", 3, 1)]
    finally:
        await service.stop(0)


@MODULE_LOOP
async def test_rekeyed_hub_answers_the_same_and_canaries_alert(c: LocalConsortium) -> None:
    assert c.key_service is not None
    farm = "device-farm-0001"
    for i, member in enumerate(["lender-a", "lender-b", "lender-c", "lender-a"]):  # a ring on one device
        await check(c, member, f"farm-{i}", await tokens_of(c, member, ids(i, device=farm)))
    marked = await tokens_of(c, "lender-b", ids(1, device=farm))
    resident = next(t for t in marked if t.type == common_pb2.TOKEN_TYPE_RESIDENT_ID)
    await c.members["lender-b"].hub_client.file_marker(resident, common_pb2.MARKER_TYPE_SUSPECT, "SUSPECT_SYNTHETIC_ID")
    canary_ids = node_pb2.Identifiers(phones=["+86 139 9999 0001"])
    admin = CanaryClient(
        c.hub_channel("admin/demo"), JwtSigner("admin/demo", load_private_key(c.folder / "keys" / "admin.pem"))
    )
    assert await admin.plant(await tokens_of(c, "lender-a", canary_ids), "synthetic-phones") == 1

    before = await check(c, "lender-c", "probe-before", await tokens_of(c, "lender-c", ids(1, device=farm)))
    assert before.HasField("ring") and before.ring.size == 5 and before.blacklist
    report = await c.key_service.rotate(c.hub.store, c.hub.rings)
    assert report.linked > 0 and (report.from_epoch, report.to_epoch) == (1, 2)

    states = {e.epoch: e.state for e in (await c.key_service.admin().audit(limit=1)).epochs}
    assert states == {1: keys_pb2.KEY_EPOCH_STATE_RETIRED, 2: keys_pb2.KEY_EPOCH_STATE_ACTIVE}
    assert c.key_service.service.vault.secret(1) is None  # the old key is destroyed
    with pytest.raises(LianfangRpcError) as gone:
        await c.key_service.hub_operator().rekey_delta(1, 2)
    assert gone.value.code == grpc.StatusCode.FAILED_PRECONDITION

    # elements minted before the rotation and sent after it (a Check queued while the hub was
    # down) would be stored where nothing links to them: refused, as stale HMAC keys are
    with pytest.raises(LianfangRpcError) as stale:
        await check(c, "lender-c", "queued-before", marked)
    assert [(v.field, v.description.split(":")[0]) for v in stale.value.violations] == [
        ("tokens", "all of a retired key epoch")
    ]
    # and a node that meets the refusal asks the key service again and is answered
    request = consortium_pb2.CheckRequest(
        application_ref="app_requeued",
        consent_ref="c-requeued",
        tokens=marked,
        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
        product_category="consumer_instalment",
        purpose=common_pb2.PURPOSE_CREDIT_APPLICATION,
    )
    request.consent_expires_at.seconds = CONSENT_ENDS
    node_check = c.members["lender-c"].node.engine.consortium
    answered = await node_check.send(request, canonical_identifiers(ids(1, device=farm)), 5.0)
    assert answered.application_ref == "app_requeued" and {t.epoch for t in request.tokens} == {2}

    after_tokens = await tokens_of(c, "lender-c", ids(1, device=farm))
    assert {t.epoch for t in after_tokens} == {2}
    assert not {t.value for t in after_tokens} & {t.value for t in marked}
    after = await check(c, "lender-c", "probe-after", after_tokens)
    assert comparable(after) == comparable(before)
    assert after.ring.size == before.ring.size + 2  # the earlier probe and the requeued one are in the ring now
    assert after.ring.ring_id == before.ring.ring_id and after.ring.lenders == before.ring.lenders

    assert not (await admin.alerts()).alerts
    hit = await check(c, "lender-b", "scraper-1", await tokens_of(c, "lender-b", canary_ids))
    assert not any("CANARY" in r.code for r in hit.reasons)  # the caller cannot tell
    alerts = (await admin.alerts()).alerts
    assert [(a.member_id, a.application_ref, a.label, a.token_type) for a in alerts] == [
        ("lender-b", "scraper-1", "synthetic-phones", common_pb2.TOKEN_TYPE_PHONE)
    ]
    await admin.close()


@MODULE_LOOP
async def test_a_rekey_finished_by_hand_links_what_was_first_seen_between_the_passes(c: LocalConsortium) -> None:
    """Without --activate-key the first run stops after pass 1; an identifier first checked
    before the operator activates the new epoch must still carry over when the run is finished."""
    assert c.key_service is not None
    admin, operator = c.key_service.admin(), c.key_service.hub_operator()
    try:
        old = next(e.epoch for e in (await admin.audit(limit=1)).epochs if e.state == keys_pb2.KEY_EPOCH_STATE_ACTIVE)
        new = (await admin.rotate()).epoch
        pending = await operator.rekey_delta(old, new)
        delta = pending.delta
        first = await Rekeyer(c.hub.store, delta, old, new).run(finish=False)
        assert len(first.passes) == 1
        late = node_pb2.Identifiers(resident_id="440304198501010013", phones=["+86 139 7777 0001"])
        await check(c, "lender-a", "between-passes", await tokens_of(c, "lender-a", late))  # still epoch `old`
        # finishing now would leave `late` unlinked for good: `hub rekey --finish` refuses
        with pytest.raises(FailedPrecondition, match="not active at the key service"):
            require_active_target(pending, old, new)
        await admin.activate(new)
        require_active_target(await operator.rekey_delta(old, new), old, new)  # active: may finish
        done = await Rekeyer(c.hub.store, delta, old, new).run(finish=True)
        assert done.linked >= 1  # the identifier seen between the passes
        await c.hub.rings.catch_up()
    finally:
        await admin.close()
        await operator.close()
    again = await tokens_of(c, "lender-b", late)
    assert {t.epoch for t in again} == {new}
    answer = await check(c, "lender-b", "after-finish", again)
    phone_stacking = next(s for s in answer.stacking if s.token_type == common_pb2.TOKEN_TYPE_PHONE)
    assert phone_stacking.windows[-1].other_members == 1  # lender-a's application, across the switch


@MODULE_LOOP
async def test_hub_rekey_from_the_terminal_over_mutual_tls(c: LocalConsortium) -> None:
    """``lianfang hub rekey`` as an operator runs it against a key service with mutual TLS: a
    --finish before the new epoch is active is refused (finishing early lost what nodes sent
    meanwhile); with --activate-key and the admin's own certificate (the hub operator's cannot
    carry an admin token) the one-shot path activates it between the passes."""
    import sys

    assert c.key_service is not None
    ks = c.key_service
    admin = ks.admin()
    try:
        old = next(e.epoch for e in (await admin.audit(limit=1)).epochs if e.state == keys_pb2.KEY_EPOCH_STATE_ACTIVE)
        new = (await admin.rotate()).epoch
    finally:
        await admin.close()
    operator, admin_cert = ks.ca.issue_client("hub/main"), ks.ca.issue_client("admin/demo")
    store = c.hub_config.store if c.hub_config else ""
    rekey = [sys.executable, "-m", "clients.cli.main", "hub", "rekey", "--store", store]
    rekey += ["--from", str(old), "--to", str(new), "--key-service", ks.address, "--ks-ca", ks.ca.ca_file]
    rekey += ["--ks-cert", operator.cert_file, "--ks-key", operator.key_file]
    rekey += ["--signing-key", str(ks.folder / "keys" / "hub-rekey.pem"), "--name", "main"]

    async def run(*extra: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(*rekey, *extra, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, err.decode()

    code, said = await run("--finish")
    assert code == 1 and f"epoch {new} is not active at the key service yet" in said, said
    code, said = await run(
        *("--activate-key", str(ks.folder / "keys" / "admin.pem"), "--admin-name", "demo"),
        *("--activate-cert", admin_cert.cert_file, "--activate-cert-key", admin_cert.key_file),
    )
    assert code == 0, said
    admin = ks.admin()
    try:
        states = {e.epoch: e.state for e in (await admin.audit(limit=1)).epochs}
    finally:
        await admin.close()
    assert states[new] == keys_pb2.KEY_EPOCH_STATE_ACTIVE and states[old] == keys_pb2.KEY_EPOCH_STATE_SUPERSEDED
    code, said = await run("--finish")  # the one-shot run marked the switch complete
    assert code == 0 and "finished already" in said, said


@MODULE_LOOP
async def test_old_epoch_checks_are_refused_from_the_re_keying_s_last_pass_on(c: LocalConsortium) -> None:
    """``hub rekey`` runs in another process. Once its last pass begins (``rkc``, the new epoch
    active) a Check of old-epoch elements only is refused, so none is stored behind the pass's
    cursor unlinked; and a hub that has not read the log for a while reads it before judging a
    request's epochs, so the first stale Check after the re-keying is refused too (it was stored
    where nothing links to it)."""
    from consortium.services import consortium_service

    assert c.key_service is not None
    admin, operator = c.key_service.admin(), c.key_service.hub_operator()
    try:
        old = next(e.epoch for e in (await admin.audit(limit=1)).epochs if e.state == keys_pb2.KEY_EPOCH_STATE_ACTIVE)
        queued = node_pb2.Identifiers(resident_id="360426199101010071", phones=["+86 139 7777 0002"])
        old_tokens = await tokens_of(c, "lender-a", queued)  # minted under `old`, sent later
        new = (await admin.rotate()).epoch
        delta = (await operator.rekey_delta(old, new)).delta
        store = c.hub.store
        walk = store.token_keys_page
        refusals: list[str] = []
        last_pass = False

        async def activate() -> None:
            nonlocal last_pass
            await admin.activate(new)
            last_pass = True

        async def walking(prefix: str, cursor: str, n: int) -> Any:
            if last_pass and not refusals:  # while the last pass walks: a fresh Check, then a queued one
                await check(c, "lender-b", "fresh-during-last-pass", await tokens_of(c, "lender-b", queued))
                with pytest.raises(LianfangRpcError) as during:
                    await check(c, "lender-a", "during-last-pass", old_tokens)
                refusals.append(during.value.violations[0].description)
            return await walk(prefix, cursor, n)

        store.token_keys_page = walking  # type: ignore[method-assign]
        try:
            await Rekeyer(store, delta, old, new).run(between=activate)
        finally:
            del store.token_keys_page
        assert refusals and refusals[0].startswith("all of a retired key epoch")

        # the next rotation runs start to end while this hub answers nothing
        still_old = await tokens_of(c, "lender-a", queued)  # minted under `new`, sent after the next one
        newer = (await admin.rotate()).epoch
        delta = (await operator.rekey_delta(new, newer)).delta
        await Rekeyer(store, delta, new, newer).run(between=lambda: admin.activate(newer))
        c.hub.rings.read_at -= consortium_service.LOG_FRESH_SECONDS + 1  # and has been idle since
        with pytest.raises(LianfangRpcError) as after:
            await check(c, "lender-a", "after-re-keying", still_old)
        assert after.value.violations[0].description.startswith("all of a retired key epoch")
    finally:
        await admin.close()
        await operator.close()
    assert await c.hub.store.get_application("lender-a", "during-last-pass") is None
    assert await c.hub.store.get_application("lender-a", "after-re-keying") is None


async def dependency_up_becomes(c: LocalConsortium, dependency: str, value: float) -> None:
    """Waits for lender-a's ``lianfang_node_dependency_up{dependency}`` gauge to read ``value``
    (its probe asks every 5 s)."""
    registry = c.members["lender-a"].node.metrics.registry
    async with asyncio.timeout(30):
        while registry.get_sample_value("lianfang_node_dependency_up", {"dependency": dependency}) != value:
            await asyncio.sleep(0.1)


@MODULE_LOOP
async def test_unreachable_key_service_refers_like_an_unreachable_hub(c: LocalConsortium) -> None:
    assert c.key_service is not None
    customer = c.members["lender-a"].as_role("customer")
    await dependency_up_becomes(c, "key_service", 1.0)
    await c.key_service.service.stop(0)
    await dependency_up_becomes(c, "key_service", 0.0)  # operators see which dependency is down
    registry = c.members["lender-a"].node.metrics.registry
    assert registry.get_sample_value("lianfang_node_dependency_up", {"dependency": "hub"}) == 1.0  # only it
    down = await staff_view(
        c.members["lender-a"], await customer.submit_application(application(LAO_WANG, "keys-down-1"))
    )
    assert down.state == "referred" and "KEY_SERVICE_UNAVAILABLE" in down.decision.reasons
    with pytest.raises(LianfangRpcError) as screened:
        await c.members["lender-a"].node_client.screen(
            node_pb2.ScreenRequest(application_ref="s-1", consent_ref="c-1", identifiers=ids(2))
        )
    assert screened.value.code == grpc.StatusCode.UNAVAILABLE
