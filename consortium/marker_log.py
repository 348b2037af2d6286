"""How marker state reaches the consortium log: whether a token carries an *effective* negative
marker (in force and not disputed) is what the rings and the post-loan watches fold from
``["m", token, live, …]`` events. Every change that can end or restore that state publishes it
(a withdrawal, a dispute opened or resolved, a correction), and ``reconcile_marker_state``
compares the log's view with the store's at start-up and with every retention pass: expired
markers end there, and so does any gap a crash between a store write and its log entry left
(a withdrawal the log never heard of, a filing by an earlier version).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from consortium.markers import NEGATIVE
from consortium.records import Marker
from consortium.rings import RingTracker, marker_event
from consortium.store.base import Store

log = logging.getLogger("lianfang.hub.markers")


class Disputes(Protocol):
    """Which markers are under an open dispute (``consortium.disputes.DisputeBook``)."""

    def is_disputed(self, marker_id: str) -> bool: ...


def effective(markers: Iterable[Marker], disputes: Disputes, now: float) -> bool:
    """Any negative marker in force and not disputed."""
    return any(
        m.marker_type in NEGATIVE and m.is_active(now) and not disputes.is_disputed(m.marker_id) for m in markers
    )


async def publish_marker_state(
    rings: RingTracker, store: Store, disputes: Disputes, tokens: Sequence[str], now: float
) -> None:
    """Tells every fold whether each token still carries an effective negative marker."""
    if not tokens:
        return
    markers = await store.markers_for_tokens(list(tokens))
    await rings.publish([marker_event(t, effective(markers.get(t, ()), disputes, now)) for t in dict.fromkeys(tokens)])


async def reconcile_marker_state(store: Store, rings: RingTracker, disputes: Disputes, now: float) -> int:
    """Publishes the state of every token on which the log and the store disagree; returns how
    many. The log's view is taken before the store is read, so a filing or withdrawal racing
    the pass is either seen by both or published by its own call; one that lands between the
    read and the publish is corrected by the next pass."""
    await rings.catch_up()
    flagged = rings.negative_tokens
    markers = [m for member in await store.list_members() for m in await store.markers_by_filer(member.member_id)]
    by_token: dict[str, list[Marker]] = {}
    for m in markers:
        by_token.setdefault(m.token_key, []).append(m)
    live = {t for t, ms in by_token.items() if effective(ms, disputes, now)}
    events = [marker_event(t, True) for t in sorted(live - flagged)]
    events += [marker_event(t, False) for t in sorted(flagged - live)]
    if events:
        await rings.publish(events)
        fields = {"flagged": len(live - flagged), "unflagged": len(flagged - live)}
        log.warning("marker state reconciled with the store", extra={"fields": fields})
    return len(events)
