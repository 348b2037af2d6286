"""How admin actions reach the consortium (audit) log where the store cannot write a member
change and its log entry in one step (Redis: the member's hash and the log's stream sit in
different Cluster slots). Such a store keeps the entries beside the change until they are logged
(``Store.unlogged_member_events``); every hub logs what a crash left behind when it starts and on
each retention pass, so an approval, suspension or revocation is never missing from the audit log.
"""

from __future__ import annotations

import logging

from consortium.rings import RingTracker
from consortium.store.base import Store

log = logging.getLogger("lianfang.hub.admin")

UNLOGGED_GRACE_SECONDS = 60.0
"""Entries younger than this may belong to an admin call still in flight on another hub: they
are left for the next pass rather than logged twice."""


async def log_unlogged_admin_actions(
    store: Store, rings: RingTracker, now: float, grace: float = UNLOGGED_GRACE_SECONDS
) -> int:
    """Logs the member changes' entries a crash left unlogged; returns how many changes."""
    logged = 0
    for unlogged in await store.unlogged_member_events():
        if unlogged.at > now - grace:
            continue
        rings.apply(await store.log_unlogged(unlogged, rings.cursor))
        logged += 1
    if logged:
        log.warning(
            "admin actions logged late: a hub stopped between a member change and its audit entry",
            extra={"fields": {"members": logged}},
        )
    return logged
