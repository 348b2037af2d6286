"""How admin actions reach the consortium (audit) log where the store cannot write a member
change and its log entry in one step (Redis: the member's hash and the log's stream sit in
different Cluster slots). Such a store keeps each change's entries beside it until they are
logged (``Store.unlogged_member_events``); every hub logs what a crash or a failed append left
behind when it starts and on each retention pass. A hub claims an entry before appending it, so
replicas running a pass together log it once; one that stops after claiming leaves a claim that
goes stale after the grace and is taken over. An entry logged late lands after newer ones: its
``at`` says when the action happened.
"""

from __future__ import annotations

import logging

from consortium.rings import RingTracker
from consortium.store.base import Store, UnloggedEvents

log = logging.getLogger("lianfang.hub.admin")

UNLOGGED_GRACE_SECONDS = 60.0
"""Entries younger than this may belong to an admin call still in flight (and claims younger
than this to a pass still running) on another hub: they are left for the next pass."""


def _due(unlogged: UnloggedEvents, now: float, grace: float) -> bool:
    since = unlogged.at if unlogged.claimed_at is None else unlogged.claimed_at
    return since <= now - grace


async def log_unlogged_admin_actions(
    store: Store, rings: RingTracker, now: float, grace: float = UNLOGGED_GRACE_SECONDS
) -> int:
    """Logs the member changes' entries that have waited longer than ``grace``; returns how many
    changes this hub logged. One member's failure is logged and the pass goes on."""
    logged = 0
    for unlogged in await store.unlogged_member_events():
        if not _due(unlogged, now, grace):
            continue
        try:
            entries = await store.log_member_events(unlogged, now, rings.cursor)
        except Exception:  # the next pass tries again; the others need not wait for it
            log.exception(
                "an admin action's audit entry could not be logged", extra={"fields": {"member": unlogged.member_id}}
            )
            continue
        if entries is not None:
            rings.apply(entries)
            logged += 1
    if logged:
        log.warning(
            "admin actions logged late: their audit entries had not reached the log "
            "(a hub stopped, or the append failed, after the member change)",
            extra={"fields": {"changes": logged}},
        )
    return logged
