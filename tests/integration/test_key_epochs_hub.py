"""Key epochs through a real hub: the admin wraps each epoch's key to every member, the hub
keeps only wrapped blobs (its database never holds the key), each member unwraps its own."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from cryptography.exceptions import InvalidTag

from clients.demo.consortium import start_local_consortium
from clients.errors import LianfangRpcError
from clients.key_epochs import generate_encryption_key_file, load_encryption_key, unwrap_key

MEMBERS = ["lender-a", "lender-b", "lender-c"]


async def test_epochs_are_wrapped_to_each_member_and_only_it_unwraps(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS)
    try:
        for m in MEMBERS[:2]:  # lender-c registers no encryption key
            await c.admin.set_encryption_key(m, generate_encryption_key_file(tmp_path / f"{m}-x25519.pem"))
        key2 = os.urandom(32)
        info = await c.admin.create_key_epoch(2, key2)
        assert list(info.members) == ["lender-a", "lender-b"]
        private = {m: load_encryption_key(tmp_path / f"{m}-x25519.pem") for m in MEMBERS[:2]}
        for m in MEMBERS[:2]:
            (mine,) = await c.members[m].hub_client.my_key_epochs()
            assert mine.epoch == 2 and unwrap_key(mine.wrapped_key, 2, m, private[m]) == key2
        (a_blob,) = await c.members["lender-a"].hub_client.my_key_epochs()
        with pytest.raises(InvalidTag):
            unwrap_key(a_blob.wrapped_key, 2, "lender-b", private["lender-b"])
        assert await c.members["lender-c"].hub_client.my_key_epochs() == []
        # the key itself never reaches the hub's store
        assert key2 not in (tmp_path / "hub.db").read_bytes() + (tmp_path / "hub.db-wal").read_bytes()

        with pytest.raises(LianfangRpcError) as newest:
            await c.admin.retire_key_epoch(2)
        assert newest.value.code == grpc.StatusCode.FAILED_PRECONDITION
        key3 = os.urandom(32)
        await c.admin.create_key_epoch(3, key3)
        retired = await c.admin.retire_key_epoch(2)
        assert retired.HasField("retired_at")
        epochs = await c.members["lender-b"].hub_client.my_key_epochs()
        assert [e.epoch for e in epochs] == [2, 3] and epochs[0].HasField("retired_at")
        assert unwrap_key(epochs[1].wrapped_key, 3, "lender-b", private["lender-b"]) == key3

        # A suspended member gets no new epoch.
        await c.admin.change_member("suspend", "lender-b", "late payments to the consortium")
        info4 = await c.admin.create_key_epoch(4, os.urandom(32))
        assert list(info4.members) == ["lender-a"]
        for call, code in (
            (c.admin.create_key_epoch(3, os.urandom(32)), grpc.StatusCode.INVALID_ARGUMENT),  # not newer
            (c.admin.retire_key_epoch(9), grpc.StatusCode.NOT_FOUND),
            (c.admin.set_encryption_key("lender-a", b"short"), grpc.StatusCode.INVALID_ARGUMENT),
            (c.admin.set_encryption_key("nobody", os.urandom(32)), grpc.StatusCode.NOT_FOUND),
        ):
            with pytest.raises(LianfangRpcError) as err:
                await call
            assert err.value.code == code
    finally:
        await c.stop()
