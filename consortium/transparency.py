"""Who queried what a member contributed: counts per (contributor, querying member), a fold of
the consortium log over the ring index (``RingTracker`` observer, after the ring fold).

When member Q checks an application, every other member C that earlier sent an application
carrying one of its linking tokens had that contribution queried once by Q (once per Check, however
many tokens matched, and however often the log holds the Check: see ``usage.RecentChecks``).
Members see these counts grouped by the querying members' category, never their names (PIPL
transparency without exposing competitors). Hub tokens (a café's IP, above their degree cap) are
left out: they say nothing about a person and would cost a walk of thousands.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from consortium.usage import RecentChecks
from graph import RingIndex, app_id_of


class QueryCounts:
    def __init__(self, index: RingIndex) -> None:
        self.index = index
        self.by_contributor: dict[str, Counter[str]] = {}  # contributor -> querying member -> checks
        self._checked = RecentChecks()  # a Check recorded twice (retried on another replica) queried once

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded or decoded[0] != "a":
            return
        querying = str(decoded[1])
        if not self._checked.first(querying, str(decoded[2]), float(decoded[3])):
            return
        index = self.index
        this = app_id_of(querying, str(decoded[2]))
        contributors: set[str] = set()
        for token in decoded[4]:
            if index.is_hub_token(token):
                continue
            for other in index.apps_of(token):
                if other == this:
                    continue
                meta = index.meta(other)
                if meta is not None and meta.member_id != querying:
                    contributors.add(meta.member_id)
        for contributor in contributors:
            self.by_contributor.setdefault(contributor, Counter())[querying] += 1

    def of(self, contributor: str) -> Counter[str]:
        return self.by_contributor.get(contributor, Counter())
