"""How marker state reaches the consortium log: whether a token carries an *effective* negative
marker (in force and not suspended by an open dispute) is what the rings and the post-loan watches fold from
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
    """Which markers an open dispute suspends (``consortium.disputes.DisputeBook``)."""

    def is_suspended(self, marker_id: str) -> bool: ...


def effective(markers: Iterable[Marker], disputes: Disputes, now: float) -> bool:
    """Any negative marker in force and not suspended by a dispute."""
    return any(
        m.marker_type in NEGATIVE and m.is_active(now) and not disputes.is_suspended(m.marker_id) for m in markers
    )


async def publish_marker_state(
    rings: RingTracker, store: Store, disputes: Disputes, tokens: Sequence[str], now: float, also: Sequence[str] = ()
) -> None:
    """Tells every fold whether each token still carries an effective negative marker (after
    the events ``also``, logged in the same append)."""
    if not tokens:
        await rings.publish(also)
        return
    markers = await store.markers_for_tokens(list(tokens))
    states = [marker_event(t, effective(markers.get(t, ()), disputes, now)) for t in dict.fromkeys(tokens)]
    await rings.publish([*also, *states])


async def reconcile_marker_state(store: Store, rings: RingTracker, disputes: Disputes, now: float) -> int:
    """Publishes the state of every token on which the log and the store disagree; returns how
    many tokens it corrected.

    Every member's markers are listed (the filer indexes) against the log's view; the tokens
    that differ are then read again the way a Check reads them (``markers_for_tokens``) after
    catching up with the log, and only those still differing are published — so a filing or a
    withdrawal racing the pass is seen by both sides or left to its own event, and an entry
    missing from a filer index alone changes nothing. A token found flagged is published with
    its effective markers' filers and filing times, as FileMarker logs them: post-loan watches
    raise the alert they missed, and give-to-get counts a filing once."""
    await rings.catch_up()
    flagged = rings.negative_tokens
    live: set[str] = set()
    for member in await store.list_members():  # one member's markers in memory at a time
        live.update(
            m.token_key for m in await store.markers_by_filer(member.member_id) if effective((m,), disputes, now)
        )
    differing = sorted(live ^ flagged)
    if not differing:
        return 0
    await rings.catch_up()  # what was logged meanwhile, e.g. by another replica
    flagged = rings.negative_tokens
    current = await store.markers_for_tokens(differing)
    events: list[str] = []
    corrected = 0
    for token in differing:
        markers = [m for m in current.get(token, ()) if effective((m,), disputes, now)]
        if bool(markers) == (token in flagged):
            continue  # settled meanwhile
        corrected += 1
        if not markers:
            events.append(marker_event(token, False))
        for m in markers:  # as FileMarker logs a filing
            events.append(marker_event(token, True, m.filer_member_id, m.filed_at, from_application=""))
    if events:
        await rings.publish(events)
        log.warning("marker state reconciled with the store", extra={"fields": {"tokens": corrected}})
    return corrected
