"""The retention job: applications leave the index after their retention (default 2 years),
markers once past their expiry (negative 5 years after the event ends, protective 2; per type,
``consortium.markers.MarkerPolicy``). It runs in every hub on a timer (``purge_interval_seconds``;
running it on several replicas at once is harmless) or once from ``lianfang hub purge``.

Purging is an event of the consortium log too: the rings drop the expired applications in the
same order on every replica, and the audit log records when retention ran. Each pass then
reconciles the log's marker state with the store (``consortium.marker_log``): a negative marker
that expired ends in the log as a withdrawal does, so a ring stops counting its token as
blacklisted within one purge interval of the expiry (a Check's own blacklist answer follows
``expires_at`` to the second), and logs the admin actions' audit entries a crash left
unlogged (``consortium.admin_log``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from consortium.admin_log import log_unlogged_admin_actions
from consortium.disputes import DisputeBook
from consortium.log_format import encode_event
from consortium.marker_log import reconcile_marker_state
from consortium.rings import RingTracker
from consortium.store.base import Store
from runtime.clock import Clock
from runtime.errors import Unavailable

log = logging.getLogger("lianfang.hub.retention")

YEAR = 365 * 86_400.0


@dataclass(frozen=True)
class PurgeReport:
    applications: int
    markers: int
    before: float


def retention_event(before: float) -> str:
    return encode_event(["r", before])


async def purge(
    store: Store, rings: RingTracker, disputes: DisputeBook, now: float, application_retention: float
) -> PurgeReport:
    """One pass: applications received before ``now - application_retention``, expired markers.
    ``disputes``: folded from the same log as ``rings`` (a disputed marker counts for nothing)."""
    before = now - application_retention
    applications = await store.purge_applications(before)
    markers = await store.purge_markers(now)
    await rings.publish([retention_event(before)])
    await reconcile_marker_state(store, rings, disputes, now)
    await log_unlogged_admin_actions(store, rings, now)
    report = PurgeReport(applications, len(markers), before)
    log.info("retention purge", extra={"fields": {"applications": applications, "markers": len(markers)}})
    return report


async def purge_periodically(
    store: Store, rings: RingTracker, disputes: DisputeBook, clock: Clock, application_retention: float, interval: float
) -> None:
    """Runs ``purge`` every ``interval`` seconds (the first after one interval) until cancelled;
    a store outage skips a round."""
    while True:
        await asyncio.sleep(interval)
        try:
            await purge(store, rings, disputes, clock(), application_retention)
        except Unavailable:
            log.warning("retention purge skipped: store unavailable")
