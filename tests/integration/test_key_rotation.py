"""A key rotation at a real hub: tokens of the old and the new epoch are linked during the
overlap, and stacking counts, markers and rings carry on after the old epoch is retired."""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc
import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from consortium.aliases import pairs_in
from node.identity.tokens import HmacTokeniser
from tests.support.consortium import by_type, check_request

E1, E2 = HmacTokeniser(os.urandom(32), 1), HmacTokeniser(os.urandom(32), 2)
RID, PHONE, DEVICE = common_pb2.TOKEN_TYPE_RESIDENT_ID, common_pb2.TOKEN_TYPE_PHONE, common_pb2.TOKEN_TYPE_DEVICE_ID


def tokens(person: int, *epochs: HmacTokeniser) -> list[common_pb2.Token]:
    """The person's identifiers under each epoch, oldest epoch first (the node's order)."""
    ids = [(RID, f"11010119900101{person:04d}"), (PHONE, f"+86138{person:08d}"), (DEVICE, f"dev-{person}")]
    return [e.token(t, v) for e in epochs for t, v in ids]


async def check(
    c: LocalConsortium, member: str, ref: str, toks: list[common_pb2.Token]
) -> consortium_pb2.CheckResponse:
    return await c.members[member].hub_client.check_request(check_request(ref, *toks))


def test_pairs_by_type_and_position() -> None:
    keys = [f"1.{t}.{e}.{h}" for e in (1, 2) for t, h in ((3, "aa"), (3, "bb"), (5, "cc"))]
    assert pairs_in(keys) == [("1.3.2.aa", "1.3.1.aa"), ("1.3.2.bb", "1.3.1.bb"), ("1.5.2.cc", "1.5.1.cc")]
    assert pairs_in(keys[:3]) == []  # one epoch: nothing to link
    assert pairs_in(["1.3.1.aa", "1.3.2.x", "1.3.2.y"]) == []  # counts differ: no guessing


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_history_carries_over_the_rotation(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_url") if store == "redis" else ""
    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b", "lender-c"], store_url=url, key_source="hub")
    try:
        # Epoch 1 only. (The hub knows epochs by number only; these tests tokenise with their own keys.)
        await check(c, "lender-a", "a-1", tokens(1, E1))
        q_rid = [E1.token(RID, "110101199001010002"), E2.token(RID, "110101199001010002")]
        await c.members["lender-a"].hub_client.file_marker(q_rid[0], common_pb2.MARKER_TYPE_SUSPECT, "OLD_CASE")
        # Outside an overlap nothing is linked: epoch 2 does not exist yet, its tokens are refused.
        with pytest.raises(LianfangRpcError) as early:
            await check(c, "lender-b", "b-0", tokens(9, E1, E2))
        assert [v.field for v in early.value.violations] == [f"tokens[{i}].epoch" for i in (3, 4, 5)]
        await c.admin.create_key_epoch(2, os.urandom(32))  # the overlap begins
        # A Check resent after its node re-tokenised it under the new key is a retry: answered
        # for the tokens first recorded, not called a reused reference.
        resent = await check(c, "lender-a", "a-1", tokens(1, E2))
        assert not resent.newly_recorded and not [r for r in resent.reasons if r.code == "REUSED_REFERENCE"]
        # Overlap: both epochs, oldest first; the filer carries its marker's subject over.
        both = await check(c, "lender-b", "b-1", tokens(1, E1, E2))
        assert by_type(both, RID)["1H"] == (1, 1)
        with pytest.raises(LianfangRpcError) as foreign:  # only the filer may carry its marker over
            await c.members["lender-b"].hub_client.link_tokens([(q_rid[0], q_rid[1])])
        assert foreign.value.code == grpc.StatusCode.PERMISSION_DENIED
        linked = await c.members["lender-a"].hub_client.link_tokens([(q_rid[0], q_rid[1])])
        assert linked == 1
        # One-to-one: the same old token cannot also be claimed by another identifier's new token.
        hijack = E2.token(RID, "110101199001019999")
        assert await c.members["lender-a"].hub_client.link_tokens([(q_rid[0], hijack)]) == 0
        # A link rests on one member's word. lender-c pairs person 7's new token with person 8's
        # old one (first come, it links); lender-b's Check of person 7 under both epochs then
        # contradicts it: the hub logs the conflict for the admins, naming who found it.
        seven, eight = "110101199001010007", "110101199001010008"
        await check(c, "lender-c", "c-pin", [E1.token(RID, eight), E2.token(RID, seven)])
        await check(c, "lender-b", "b-7", [E1.token(RID, seven), E2.token(RID, seven)])
        conflicts = [json.loads(e) for _, e in await c.hub.store.log_events((0, 0), 10_000) if e.startswith('["alc"')]
        assert [(e[1], len(e[2])) for e in conflicts] == [("lender-a", 1), ("lender-b", 1)]  # the hijack, then b
        assert c.hub.metrics is not None
        assert c.hub.metrics.registry.get_sample_value("lianfang_hub_epoch_link_conflicts") == 2
        await c.admin.retire_key_epoch(1)  # the overlap ends
        # After retirement: the new epoch only.
        late = await check(c, "lender-c", "c-1", tokens(1, E2))
        assert by_type(late, RID)["1H"] == (2, 2) and by_type(late, DEVICE)["1H"] == (2, 2)
        assert late.ring.size == 3 and late.ring.lenders == 3
        marked = await check(c, "lender-c", "c-2", [q_rid[1]])
        assert [h.marker_type for h in marked.blacklist] == [common_pb2.MARKER_TYPE_SUSPECT]
        # A node that has not refreshed its keys yet still sends both epochs: answered as before.
        window = await check(c, "lender-a", "a-window", tokens(1, E1, E2))
        assert by_type(window, RID)["1H"] == (2, 2)  # lender-b's and lender-c's, across the rotation
        # Only retired-epoch tokens: the member's keys are out of date (its new identifiers would
        # match nobody's); a never-created epoch's tokens match nothing at all.
        with pytest.raises(LianfangRpcError) as refused:
            await check(c, "lender-c", "c-stale", tokens(1, E1))
        assert [(v.field, v.description) for v in refused.value.violations] == [
            ("tokens", "all of a retired key epoch: the member's keys need refreshing (in use: 2)")
        ]
        with pytest.raises(LianfangRpcError) as refused:
            await check(c, "lender-c", "c-99", [HmacTokeniser(os.urandom(32), 99).token(RID, "x"), *tokens(5, E2)])
        assert [(v.field, v.description) for v in refused.value.violations] == [
            ("tokens[0].epoch", "key epoch 99 does not exist (in use: 2)")
        ]
        with pytest.raises(LianfangRpcError) as refused:
            await c.members["lender-a"].hub_client.file_marker(
                HmacTokeniser(os.urandom(32), 7).token(RID, "x"), common_pb2.MARKER_TYPE_SUSPECT, "OLD_CASE"
            )
        assert [v.field for v in refused.value.violations] == ["token.epoch"]
        # Without a link, a new-epoch token is simply new.
        stranger = await check(c, "lender-c", "c-3", [E2.token(RID, "110101199001010099")])
        assert not stranger.blacklist and by_type(stranger, RID)["90D"] == (0, 0)
    finally:
        await c.stop()
