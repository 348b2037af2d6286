"""The verifiable audit log end to end: signed heads, consistency across new entries, inclusion
proofs, admin-only entries, and a tampered store caught by a member holding an earlier head."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2

from clients.audit import AuditClient, AuditFailure, public_key_of, verify_log
from clients.canaries import CanaryClient
from clients.credentials import JwtSigner, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from runtime.merkle import leaf_hash, verify_inclusion
from runtime.tree_head import verify_tree_head
from tests.support.consortium import check_request, phone, rid, token

MEMBERS = ["lender-a", "lender-b"]


def audit_client(c: LocalConsortium, subject: str, key_file: str) -> AuditClient:
    return AuditClient(c.hub_channel(subject), JwtSigner(subject, load_private_key(key_file)))


async def some_traffic(c: LocalConsortium, prefix: str, n: int = 5) -> None:
    for i in range(n):
        await c.members[MEMBERS[i % 2]].hub_client.check_request(check_request(f"{prefix}-{i}", rid(i), phone(i)))


async def test_heads_extend_each_other_and_entries_rehash_to_the_root(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS)
    member = audit_client(c, "lender-a", c.members["lender-a"].key_file)
    admin = audit_client(c, "admin/demo", str(tmp_path / "keys" / "admin.pem"))
    key = public_key_of(c.audit_public_key)
    try:
        first = await verify_log(member, key, None, entries=False)
        # register + approve of each member are audited admin actions
        assert first.head.tree_size == 2 * len(MEMBERS)
        await some_traffic(c, "t1")
        marker = await c.members["lender-b"].hub_client.file_marker(
            common_pb2.Token(scheme=1, type=3, epoch=1, value=b"\x01" * 16), common_pb2.MARKER_TYPE_SUSPECT, "TEST"
        )
        assert marker.marker_id
        second = await verify_log(member, key, first.head, entries=False)
        assert second.checked_against == first.head.tree_size and second.head.tree_size == first.head.tree_size + 6
        full = await verify_log(admin, key, second.head, entries=True)
        assert full.entries_checked == full.head.tree_size
        entries = await admin.entries(0, 1000)
        kinds = [e.decode()[2] for e in entries]  # '["a",…' → a
        assert kinds.count("x") == 4 and kinds.count("a") == 5 and kinds.count("m") == 1
        # an inclusion proof of one Check's leaf, checked against a signed head
        proof = await member.inclusion(5)
        assert proof.leaf_hash == leaf_hash(entries[5])
        assert verify_tree_head(proof.tree_head, key)
        assert verify_inclusion(
            proof.leaf_hash, 5, proof.tree_head.tree_size, list(proof.proof), proof.tree_head.root_hash
        )
        # members see heads and proofs, not entries
        with pytest.raises(LianfangRpcError) as denied:
            await member.entries(0, 10)
        assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(LianfangRpcError) as bad:
            await member.consistency(10**6)
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        # a head does not verify under another key, nor once its size is changed
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        assert not verify_tree_head(full.head, Ed25519PrivateKey.generate().public_key())
        moved = type(full.head)()
        moved.CopyFrom(full.head)
        moved.tree_size -= 1
        assert not verify_tree_head(moved, key)
    finally:
        await member.close()
        await admin.close()
        await c.stop()


async def test_a_rewritten_entry_is_caught_by_an_earlier_head(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS)
    member = audit_client(c, "lender-a", c.members["lender-a"].key_file)
    try:
        await some_traffic(c, "before")
        saved = (await verify_log(member, public_key_of(c.audit_public_key), None, entries=False)).head
    finally:
        await member.close()
        await c.stop()
    # Someone with access to the hub's database edits one Check (a member's query) out of history.
    db = sqlite3.connect(tmp_path / "hub.db")
    (seq, event), *_ = db.execute("SELECT seq, event FROM consortium_log WHERE event LIKE '[\"a\"%' ORDER BY seq")
    db.execute("UPDATE consortium_log SET event = ? WHERE seq = ?", (event.replace("before-0", "forged-0"), seq))
    db.commit()
    db.close()
    again = await start_local_consortium(tmp_path, [], store_url=f"sqlite:///{tmp_path / 'hub.db'}")
    member = audit_client(again, "lender-a", str(tmp_path / "keys" / "lender-a.pem"))
    try:
        key = public_key_of(again.audit_public_key)
        assert again.audit_public_key == c.audit_public_key  # the same hub key signs
        with pytest.raises(AuditFailure, match="history was rewritten"):
            await verify_log(member, key, saved, entries=False)
        # The tampered head is still validly signed: only the earlier head exposes it.
        fresh = await verify_log(member, key, None, entries=False)
        assert fresh.head.tree_size == saved.tree_size and fresh.head.root_hash != saved.root_hash
    finally:
        await member.close()
        await again.stop()


async def test_without_an_audit_key_the_service_says_so(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, ["lender-a"], hub_options={"audit_key_file": ""})
    client = audit_client(c, "lender-a", c.members["lender-a"].key_file)
    try:
        with pytest.raises(LianfangRpcError) as err:
            await client.tree_head()
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "audit_key_file" in err.value.message
    finally:
        await client.close()
        await c.stop()


async def test_transparency_and_subject_access(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b", "lender-c"], member_category="microloan")
    # Categories come from the member records (all "microloan" here); members are never named.
    a = audit_client(c, "lender-a", c.members["lender-a"].key_file)
    key = public_key_of(c.audit_public_key)
    try:
        await c.members["lender-a"].hub_client.check_request(check_request("a-1", rid(1), phone(1)))
        await c.members["lender-b"].hub_client.check_request(check_request("b-1", rid(1)))  # queries a's data
        await c.members["lender-c"].hub_client.check_request(check_request("c-1", phone(1)))  # and again
        await c.members["lender-c"].hub_client.check_request(check_request("c-2", rid(2)))  # someone else
        mine = await a.queries_on_my_data()
        assert mine.total == 2 and [(x.member_category, x.checks) for x in mine.by_category] == [("microloan", 2)]
        b = audit_client(c, "lender-b", c.members["lender-b"].key_file)
        theirs = await b.queries_on_my_data()
        assert theirs.total == 0  # nobody else queried lender-b's applicant after it
        await b.close()

        export = await a.subject_access([rid(1)], request_ref="sar-1")
        assert [q.member_category for q in export.queries] == ["microloan", "microloan"]
        assert verify_tree_head(export.tree_head, key)
        for q in export.queries:
            assert verify_inclusion(
                q.leaf_hash,
                q.leaf_index,
                export.tree_head.tree_size,
                list(q.inclusion_proof),
                export.tree_head.root_hash,
            )
        # the three Checks, and the access request above: a lookup the subject sees like a Check
        assert len((await a.subject_access([rid(1), phone(1)], request_ref="sar-2")).queries) == 4
        assert (await a.subject_access([rid(99)], request_ref="sar-3")).queries == []
        subnet = token(common_pb2.TOKEN_TYPE_IP_SUBNET, "203.0.113.0/24")  # a type that never links
        await c.members["lender-b"].hub_client.check_request(check_request("b-2", rid(5), subnet))
        assert len((await a.subject_access([subnet], request_ref="sar-4")).queries) == 1
        with pytest.raises(LianfangRpcError) as bad:
            await a.subject_access([], request_ref="")
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert {v.field for v in bad.value.violations} == {"tokens", "request_ref"}  # no lookup without a request

        # A subject access request is a lookup like a Check: a planted canary catches one too
        admin_key = load_private_key(tmp_path / "keys" / "admin.pem")
        canaries = CanaryClient(c.hub_channel("admin/demo"), JwtSigner("admin/demo", admin_key))
        assert await canaries.plant([phone(77)], "synthetic-phones") == 1
        b = audit_client(c, "lender-b", c.members["lender-b"].key_file)
        await b.subject_access([rid(3), phone(77)], request_ref="sar-6")
        await b.close()
        [alert] = (await canaries.alerts()).alerts
        assert (alert.member_id, alert.application_ref, alert.label) == (
            "lender-b",
            "subject-access",
            "synthetic-phones",
        )
        await canaries.close()
    finally:
        await a.close()
        await c.stop()
