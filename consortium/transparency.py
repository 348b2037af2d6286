"""Who queried what a member contributed: counts per (contributor, querying member), a fold of
the consortium log over the ring and stacking indexes (``RingTracker`` observer, after its fold).

When member Q checks an application, every other member C that earlier sent an application
carrying one of its linking tokens had that contribution queried once by Q (once per Check, however
many tokens matched, and however often the log holds the Check: see ``usage.RecentChecks``).
Members see these counts grouped by the querying members' category, never their names (PIPL
transparency without exposing competitors). Hub tokens (a café's IP, above their degree cap) are
left out: they say nothing about a person. A token's contributors are its members in the
stacking index (which, like the ring index, holds every application of the retention period);
a windowed type's (an IP's: ``graph.policy``) are the members of its window's applications,
the ones the ring index links.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from consortium.stacking_index import StackingIndex
from consortium.usage import RecentChecks
from graph import RingIndex


class QueryCounts:
    def __init__(self, index: RingIndex, stacking: StackingIndex) -> None:
        """``stacking``: the same fold's token histories, whose members per token are the
        contributors (both folds keep every application of the retention period)."""
        self.index = index
        self.stacking = stacking
        self.by_contributor: dict[str, Counter[str]] = {}  # contributor -> querying member -> checks
        self._checked = RecentChecks()  # a Check recorded twice (retried on another replica) queried once

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded or decoded[0] != "a":
            return
        querying = str(decoded[1])
        if not self._checked.first(querying, str(decoded[2]), float(decoded[3])):
            return
        index, members_of = self.index, self.stacking.members_of
        link_of, window_token, at = index.policy.link_of, index.policy.window_token, float(decoded[3])
        contributors: set[str] = set()
        for token in decoded[4]:
            cap, window = link_of(token)  # the writer's linking tokens, as this process's policy sees them
            if cap < 0:
                continue
            linked = window_token(token, at, window)
            if index.token_degree(linked) > cap:
                continue  # a hub token
            if window is None:
                contributors.update(members_of(token))
            else:  # a window's applications: at most its cap
                contributors.update(meta.member_id for app in index.apps_of(linked) if (meta := index.meta(app)))
        contributors.discard(querying)
        for contributor in contributors:
            self.by_contributor.setdefault(contributor, Counter())[querying] += 1

    def of(self, contributor: str) -> Counter[str]:
        return self.by_contributor.get(contributor, Counter())
