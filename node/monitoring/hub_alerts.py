"""The node's end of the hub's Watch stream: alerts on its borrowers become risk-check tasks.

``AlertConsumer`` keeps one stream open (reconnecting with backoff), resumes after the last
alert it stored, stores each alert and its task in one transaction (a redelivered alert is
recognised by its cursor and changes nothing), and only then acknowledges it at the hub: so
every alert is acted on exactly once, whether the node or the hub restarts in between. The hub
keeps at most 10,000 unacknowledged alerts per member; when it reports having discarded alerts
newer than the last one this node stored (a node away too long), the loss is logged at ERROR
and counted by the ``lianfang_node_hub_alerts_lost`` gauge.
"""

from __future__ import annotations

import asyncio
import logging

from lianfang.v1 import common_pb2, consortium_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.monitoring.actions import PostLoanActions, outstanding_loans
from node.monitoring.records import AlertRow
from runtime.clock import Clock

log = logging.getLogger("lianfang.node.alerts")

CURSOR = "hub_alert_cursor"
DROPPED = "hub_alerts_dropped"  # the hub's last reported total of this member's discarded alerts
LOST = "hub_alerts_lost"  # of those, how many this node may never have received (summed)
RULES = {
    consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION: ("consortium_co_debt", "applied for credit at another member"),
    consortium_pb2.ALERT_KIND_CO_DEBT_FUNDED: ("consortium_co_debt", "was funded by another member"),
    consortium_pb2.ALERT_KIND_MARKER_FILED: ("consortium_marker", "got a negative marker from another member"),
}


def describe(alert: consortium_pb2.Alert) -> str:
    """Counts and identifier types only: the hub never names the other lender, nor do we."""
    _, what = RULES.get(alert.kind, ("", "was seen elsewhere"))
    types = ", ".join(common_pb2.TokenType.Name(t).removeprefix("TOKEN_TYPE_") for t in alert.token_types)
    return (
        f"the borrower ({types}) {what}; since the loan began: {alert.other_members} other member(s), "
        f"{alert.other_applications} application(s)"
    )


class ConsortiumAlerts:
    def __init__(self, actions: PostLoanActions, clock: Clock) -> None:
        self.actions, self.clock = actions, clock
        self.records = actions.records

    @property
    def cursor(self) -> str:
        return self.records.state(CURSOR)

    @property
    def dropped(self) -> int:
        """Alerts the hub discarded unacknowledged, as it last reported (0 until it says so)."""
        return int(self.records.state(DROPPED) or 0)

    @property
    def lost(self) -> int:
        """Of those, how many this node may never have received (an upper bound)."""
        return int(self.records.state(LOST) or 0)

    def note_dropped(self, total: int, last_dropped: str) -> int:
        """Takes the hub's total of discarded alerts and the cursor of the newest; returns how
        many more may be lost to this node. A discard of alerts it already stored (up to its
        cursor: the hub drops the oldest unacknowledged first) is no loss. A total lower than
        before (the hub's log was restored or reset) becomes the new baseline."""
        before = self.dropped
        if total == before:
            return 0
        lost = total - before if total > before and _cursor(last_dropped) > _cursor(self.cursor) else 0
        with self.actions.store.transaction() as db:
            self.records.set_state_in(db, DROPPED, str(total))
            if lost:
                self.records.set_state_in(db, LOST, str(self.lost + lost))
        if total < before:
            log.warning(
                "the hub reports fewer discarded alerts than before (its log was restored or reset)",
                extra={"fields": {"total": total, "before": before}},
            )
        elif lost:
            log.error(
                "the hub discarded alerts on our borrowers that we may never have received (away too long)",
                extra={"fields": {"up_to": lost, "total": total}},
            )
        return lost

    def store(self, alert: consortium_pb2.Alert) -> list[AlertRow]:
        """Stores one hub alert (one row per loan it concerns) with its risk-check task."""
        rule, _ = RULES.get(alert.kind, ("consortium_co_debt", ""))
        loans = {loan["application_id"]: loan["loan_id"] for loan in outstanding_loans(self.actions.store)}
        now = self.clock()
        stored = []
        with self.actions.store.transaction() as db:
            for ref in alert.application_refs:
                if ref not in loans:
                    continue  # repaid meanwhile, or not a loan of ours
                row = AlertRow(f"hub:{alert.cursor}:{ref}", loans[ref], ref, rule, "red", describe(alert), now)
                done = self.actions.raise_in(db, row, task=True, at=now)
                if done is not None:
                    stored.append(done)
            self.records.set_state_in(db, CURSOR, alert.cursor)
        return stored


class AlertConsumer:
    """The background task of a node that keeps its hub Watch stream open."""

    def __init__(self, hub: HubClient, alerts: ConsortiumAlerts, *, backoff: tuple[float, float] = (0.2, 5.0)) -> None:
        self.hub, self.alerts, self.backoff = hub, alerts, backoff
        self.connected = asyncio.Event()  # set while a stream is open and caught up

    async def run(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                async for response in self.hub.watch(self.alerts.cursor):
                    self.alerts.note_dropped(response.alerts_dropped, response.last_dropped)
                    for alert in response.alerts:
                        self.alerts.store(alert)
                    if response.alerts:
                        await self.hub.ack_alerts(response.alerts[-1].cursor)
                    if response.caught_up:
                        self.connected.set()
                        delay = self.backoff[0]
            except LianfangRpcError as error:
                log.warning("hub watch stream ended", extra={"fields": {"code": error.code.name}})
            except Exception:  # keep watching whatever went wrong this time
                log.exception("hub watch consumer failed")
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])


def _cursor(text: str) -> tuple[int, int]:
    """A hub alert cursor "<a>-<b>" as a comparable pair; (0, 0) when empty."""
    if not text:
        return (0, 0)
    a, _, b = text.partition("-")
    return (int(a), int(b))
