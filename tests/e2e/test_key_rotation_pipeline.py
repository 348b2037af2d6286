"""A key rotation under the whole pipeline: nodes get their keys from the hub (wrapped to each
member), send both epochs during the overlap and the new one after retirement, and the hub's
answers about the same borrower carry on unchanged."""

from __future__ import annotations

from pathlib import Path

from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import start_local_consortium
from node.identity.applicant import epoch_links
from node.sources.personas import LAO_WANG
from runtime.clock import ManualClock
from tests.support.consortium import by_type
from tests.support.origination import application, staff_view

MEMBERS = ["lender-a", "lender-b", "lender-c"]


async def test_stacking_carries_over_a_rotation_through_the_nodes(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS, clock=ManualClock(), key_source="hub")
    try:

        async def apply(member: str, ref: str) -> node_pb2.ApplicationView:
            customer = c.members[member].as_role("customer", "front-end")
            return await staff_view(c.members[member], await customer.submit_application(application(LAO_WANG, ref)))

        assert c.members["lender-a"].tokeniser.epochs == [1]
        first = await apply("lender-a", "wang-a")
        assert by_type(first.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["1H"] == (0, 0)

        await c.rotate_keys(2)
        assert c.members["lender-b"].tokeniser.epochs == [1, 2]
        ids = node_pb2.Identifiers(uscc=LAO_WANG.uscc)
        ((older, newer),) = epoch_links(ids, c.members["lender-b"].tokeniser)
        assert (older.epoch, newer.epoch) == (1, 2) and older.value != newer.value
        second = await apply("lender-b", "wang-b")  # tokens under both epochs
        assert by_type(second.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["1H"] == (1, 1)

        await c.admin.retire_key_epoch(1)  # the nodes learn of it at their next key refresh
        assert c.members["lender-c"].tokeniser.epochs == [1, 2]
        meanwhile = await apply("lender-c", "wang-c0")  # both epochs still: answered, not refused
        assert meanwhile.state != "referred" or "HUB_REFUSED" not in meanwhile.decision.reasons
        assert by_type(meanwhile.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["1H"] == (2, 2)
        for m in c.members.values():
            await m.node.refresh_keys()
        assert c.members["lender-c"].tokeniser.epochs == [2]
        third = await apply("lender-c", "wang-c")  # the new epoch only
        assert by_type(third.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["1H"] == (2, 2)
        # honest nodes pair every identifier alike: no epoch-link conflict was logged
        assert c.hub.metrics is not None
        assert c.hub.metrics.registry.get_sample_value("lianfang_hub_epoch_link_conflicts") == 0
    finally:
        await c.stop()


async def test_a_node_that_missed_a_whole_overlap_refreshes_its_keys_and_is_answered(tmp_path: Path) -> None:
    """An admin creates epoch 2 and retires epoch 1 between two of a node's key refreshes: the
    node still tokenises under epoch 1 only, which the hub refuses (all retired). It used to refer
    the application with HUB_REFUSED and dead-letter its Check until the next refresh; it now
    re-reads its keys at the refusal and sends the Check again under the new epoch."""
    c = await start_local_consortium(tmp_path, MEMBERS[:2], clock=ManualClock(), key_source="hub")
    try:
        a, b = (c.members[m] for m in MEMBERS[:2])
        first = await staff_view(a, await a.as_role("customer").submit_application(application(LAO_WANG, "wang-a")))
        assert first.state != "referred" or "HUB_REFUSED" not in first.decision.reasons
        await c.rotate_keys(2)  # lender-a's node picks epoch 2 up; lender-b's misses the overlap:
        b.node.keyring.tokenisers = b.node.keyring.tokenisers[:1]  # as if its refresh had not run
        await a.as_role("customer").submit_application(application(LAO_WANG, "wang-a2"))  # links the epochs
        await c.admin.retire_key_epoch(1)
        assert b.tokeniser.epochs == [1]
        late = await staff_view(b, await b.as_role("customer").submit_application(application(LAO_WANG, "wang-b")))
        assert "HUB_REFUSED" not in late.decision.reasons and b.tokeniser.epochs == [2]
        assert by_type(late.decision.consortium, common_pb2.TOKEN_TYPE_USCC)["1H"] == (1, 2)  # lender-a's, carried over
        assert b.node.engine.outbox.dead() == 0
    finally:
        await c.stop()
