"""Giving a live key epoch to members who lack it: one enrolled, given an encryption key or
reinstated after the epoch was made. Without a grant such a member's node had no key, and the
admin could retire the only epoch an ACTIVE member held; the key check makes sure the key an
admin wraps later, and the key a node unwraps, is the epoch's own."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import consortium_pb2

from clients.demo.consortium import start_local_consortium
from clients.errors import LianfangRpcError
from clients.key_epochs import WrongEpochKey, key_check, wrap_key
from node.identity.tokens import HmacTokeniser

MEMBERS = ["lender-a", "lender-b", "lender-c"]


async def test_a_member_reinstated_after_an_epoch_is_granted_it_before_the_old_one_retires(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS, key_source="hub")
    try:
        admin, late = c.admin, c.members["lender-c"]
        await admin.change_member("suspend", "lender-c", "audit")
        key2 = os.urandom(32)
        made = await admin.create_key_epoch(2, key2)
        assert list(made.members) == ["lender-a", "lender-b"] and made.key_check == key_check(key2)
        await admin.change_member("reinstate", "lender-c", "audit closed")
        for m in MEMBERS:
            await c.members[m].node.refresh_keys()

        # retiring epoch 1 would leave lender-c's node with no key: refused, naming it
        with pytest.raises(LianfangRpcError) as err:
            await admin.retire_key_epoch(1)
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "lender-c" in err.value.message
        assert "lender-a" not in err.value.message

        # a key that is not epoch 2's is caught on the admin's side, before anything is sent
        with pytest.raises(WrongEpochKey):
            await admin.grant_key_epoch(2, os.urandom(32))
        # and by the node, were a wrong key wrapped to it anyway (a client without the check)
        public = {k.member_id: k.public_key for k in (await admin.list_key_epochs()).encryption_keys}
        bogus = consortium_pb2.GrantKeyEpochRequest(
            epoch=2, wrapped_keys={"lender-c": wrap_key(os.urandom(32), 2, "lender-c", public["lender-c"])}
        )
        await admin._call(admin._stub.GrantKeyEpoch, bogus, timeout=10, metadata=None)
        assert await late.node.refresh_keys() == [1]  # the epoch that fails its key check is not used

        granted = await admin.grant_key_epoch(2, key2, ["lender-c"])  # given again: replaces the bogus blob
        assert list(granted.members) == MEMBERS
        assert await late.node.refresh_keys() == [1, 2]
        assert late.node.keyring.tokenisers[1] == HmacTokeniser(key2, 2)
        assert c.members["lender-a"].node.keyring.tokenisers[1] == HmacTokeniser(key2, 2)

        await admin.retire_key_epoch(1)  # nobody is stranded now
        assert await late.node.refresh_keys() == [2]
        key1 = bytes.fromhex((tmp_path / "keys" / "consortium-epoch-1.hex").read_text())
        for epoch, key, code in (
            (1, key1, grpc.StatusCode.FAILED_PRECONDITION),  # retired
            (7, os.urandom(32), grpc.StatusCode.NOT_FOUND),
        ):
            with pytest.raises(LianfangRpcError) as err:
                await admin.grant_key_epoch(epoch, key, ["lender-c"])
            assert err.value.code == code
        await admin.change_member("suspend", "lender-b", "late fees")
        with pytest.raises(ValueError, match="ACTIVE member named lender-b"):  # keys go to ACTIVE members only
            await admin.grant_key_epoch(2, key2, ["lender-b"])
        to_suspended = consortium_pb2.GrantKeyEpochRequest(  # and the hub says so to a client that asks anyway
            epoch=2, wrapped_keys={"lender-b": wrap_key(key2, 2, "lender-b", public["lender-b"])}
        )
        with pytest.raises(LianfangRpcError) as err:
            await admin._call(admin._stub.GrantKeyEpoch, to_suspended, timeout=10, metadata=None)
        assert [v.field for v in err.value.violations] == ["wrapped_keys[lender-b]"]
        with pytest.raises(ValueError, match="holds key epoch 2 already"):
            await admin.grant_key_epoch(2, key2)
    finally:
        await c.stop()


async def test_old_epochs_without_a_key_check_still_grant_and_a_key_is_never_reused(tmp_path: Path) -> None:
    """An epoch made by a client from before the key check has none: a grant is not checked
    (nothing to check against) and the node uses what it unwraps, as before."""
    c = await start_local_consortium(tmp_path, MEMBERS[:2], key_source="hub")
    try:
        admin = c.admin
        key2 = os.urandom(32)
        public = {k.member_id: k.public_key for k in (await admin.list_key_epochs()).encryption_keys}
        old_style = consortium_pb2.CreateKeyEpochRequest(
            epoch=2, wrapped_keys={"lender-a": wrap_key(key2, 2, "lender-a", public["lender-a"])}
        )
        assert (await admin._call(admin._stub.CreateKeyEpoch, old_style, timeout=10, metadata=None)).key_check == b""
        assert list((await admin.grant_key_epoch(2, key2)).members) == ["lender-a", "lender-b"]
        assert await c.members["lender-b"].node.refresh_keys() == [1, 2]
        bad = consortium_pb2.CreateKeyEpochRequest(epoch=3, wrapped_keys={"lender-a": b"x" * 80}, key_check=b"abc")
        with pytest.raises(LianfangRpcError) as err:
            await admin._call(admin._stub.CreateKeyEpoch, bad, timeout=10, metadata=None)
        assert [v.field for v in err.value.violations] == ["key_check"]
        # epoch 1's key again under a new number would leave a leaked key live: refused by the
        # client, and by the hub for a client that sends it anyway
        key1 = bytes.fromhex((tmp_path / "keys" / "consortium-epoch-1.hex").read_text())
        with pytest.raises(ValueError, match="that is key epoch 1's key"):
            await admin.create_key_epoch(3, key1)
        again = consortium_pb2.CreateKeyEpochRequest(
            epoch=3,
            wrapped_keys={"lender-a": wrap_key(key1, 3, "lender-a", public["lender-a"])},
            key_check=key_check(key1),
        )
        with pytest.raises(LianfangRpcError) as err:
            await admin._call(admin._stub.CreateKeyEpoch, again, timeout=10, metadata=None)
        assert [v.description for v in err.value.violations] == ["is key epoch 1's: a new epoch needs a new key"]
    finally:
        await c.stop()


async def test_a_member_given_a_new_encryption_key_is_granted_the_live_epoch_again(tmp_path: Path) -> None:
    """Its blobs were wrapped to the old key pair and open no more: the hub forgets them, so the
    default grant gives it the epoch again and the retire guard counts it as holding none."""
    from clients.key_epochs import generate_encryption_key_file

    c = await start_local_consortium(tmp_path, MEMBERS[:2], key_source="hub")
    try:
        admin = c.admin
        key2 = os.urandom(32)
        await admin.create_key_epoch(2, key2)
        await admin.set_encryption_key("lender-b", generate_encryption_key_file(tmp_path / "b-new.pem"))
        listed = {e.epoch: list(e.members) for e in (await admin.list_key_epochs()).epochs}
        assert listed == {1: ["lender-a"], 2: ["lender-a"]}
        with pytest.raises(LianfangRpcError) as err:  # lender-b would hold no live epoch it can open
            await admin.retire_key_epoch(1)
        assert "lender-b" in err.value.message
        assert list((await admin.grant_key_epoch(2, key2)).members) == ["lender-a", "lender-b"]
        await admin.retire_key_epoch(1)
    finally:
        await c.stop()
