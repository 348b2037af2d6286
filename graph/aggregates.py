"""Ring summaries kept up to date as applications arrive, so answering a Check does not walk
the ring.

:func:`graph.summary.summarize` walks every member of a ring: fine for an analyst, too slow for
the hub's hot path once rings grow to hundreds of applications (dense sharing percolates into
large components). :class:`RingAggregates` wraps a :class:`RingIndex` and keeps, per ring, the
countable facts a :class:`RingSummary` is made of (member and person counters, first/last time,
flag counts, linking tokens per type, the 7-day persons-per-device maximum):

* a new application that only **merges** rings (the usual case) combines the merged rings'
  aggregates with its own contribution — work proportional to the application's tokens and the
  rings it touches, not to their size (counters merge smaller into larger);
* anything that can **split** a ring (a token crossing its degree cap, a removal) drops the
  affected aggregates; they are recomputed from the index on next use;
* outcome and marker changes adjust the counts in place.

The result is exactly ``summarize`` (a property test compares them after random workloads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from graph.model import EMPTY_META, AppMeta
from graph.policy import token_type_name, token_type_of
from graph.ring_index import RingIndex
from graph.summary import _PERSON_SHARING_TYPES, DAY_SECONDS, RingSummary, _persons_within_window, summarize


@dataclass(slots=True)
class RingAggregate:
    """The facts of one ring, in a form that merges (see the module docstring)."""

    size: int = 0
    members: Counter[str] = field(default_factory=Counter)
    persons: Counter[str] = field(default_factory=Counter)
    first: float = float("inf")
    last: float = float("-inf")
    blacklisted: int = 0
    defaults: int = 0
    fraud_confirmed: int = 0
    shared: Counter[str] = field(default_factory=Counter)  # type name -> linking tokens in the ring
    sharing: dict[str, int] = field(default_factory=dict)  # linking device/phone -> persons in 7 days
    sharing_counts: Counter[int] = field(default_factory=Counter)  # persons in 7 days -> tokens

    @property
    def max_persons_per_device_or_phone(self) -> int:
        return max((n for n, tokens in self.sharing_counts.items() if tokens), default=0)

    def set_sharing(self, token: str, persons: int | None) -> None:
        """Records (None: forgets) a linking device or phone's persons-in-7-days count."""
        old = self.sharing.pop(token, None)
        if old is not None:
            self.sharing_counts[old] -= 1
        if persons is not None:
            self.sharing[token] = persons
            self.sharing_counts[persons] += 1

    def add_app(self, app_id: str, meta: AppMeta) -> None:
        self.size += 1
        self.members[meta.member_id] += 1
        self.persons[meta.person or app_id] += 1
        self.first, self.last = min(self.first, meta.received_at), max(self.last, meta.received_at)
        self.blacklisted += meta.blacklisted
        self.defaults += meta.defaulted
        self.fraud_confirmed += meta.fraud_confirmed

    def absorb(self, other: RingAggregate) -> None:
        """Adds another ring's facts (``self`` should be the larger: its counters are updated)."""
        self.size += other.size
        self.members.update(other.members)
        self.persons.update(other.persons)
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        self.blacklisted += other.blacklisted
        self.defaults += other.defaults
        self.fraud_confirmed += other.fraud_confirmed
        self.shared.update(other.shared)
        self.sharing.update(other.sharing)  # disjoint: a linking token's carriers share one ring
        self.sharing_counts.update(other.sharing_counts)

    def summary(self, ring_id: str) -> RingSummary:
        span_days = (self.last - self.first) / DAY_SECONDS
        return RingSummary(
            ring_id=ring_id,
            size=self.size,
            lenders=len(self.members),
            persons=len(self.persons),
            max_persons_per_device_or_phone=self.max_persons_per_device_or_phone,
            apps_per_day=self.size / max(span_days, 1.0),
            span_days=span_days,
            blacklisted=self.blacklisted,
            defaults=self.defaults,
            fraud_confirmed=self.fraud_confirmed,
            shared_token_types=tuple(
                sorted(((name, n) for name, n in self.shared.items() if n), key=lambda item: (-item[1], item[0]))
            ),
            first_seen=self.first,
            last_seen=self.last,
        )


def aggregate(index: RingIndex, ring_id: str) -> RingAggregate | None:
    """The aggregate of a ring computed from the index (a walk of the ring, like summarize)."""
    members = index.members(ring_id)
    if not members:
        return None
    agg = RingAggregate()
    for app_id in members:
        agg.add_app(app_id, index.meta(app_id) or EMPTY_META)
    carriers: dict[str, list[str]] = {}
    for app_id in members:
        for token in index.tokens_of(app_id):
            carriers.setdefault(token, []).append(app_id)
    person = {app_id: (index.meta(app_id) or EMPTY_META).person or app_id for app_id in members}
    for token, apps in carriers.items():
        if len(apps) < 2 or not index.links(token):
            continue
        token_type = token_type_of(token)
        agg.shared[token_type_name(token_type)] += 1
        if token_type in _PERSON_SHARING_TYPES:
            agg.set_sharing(token, _persons_within_window(apps, person, index))
    return agg


class RingAggregates:
    """A RingIndex whose ring summaries are maintained incrementally. Mutate through this."""

    __slots__ = ("_aggs", "index")

    def __init__(self, index: RingIndex) -> None:
        self.index = index
        self._aggs: dict[str, RingAggregate] = {}  # ring id (anchor) -> aggregate

    def _get(self, ring_id: str) -> RingAggregate | None:
        agg = self._aggs.get(ring_id)
        if agg is None:
            agg = aggregate(self.index, ring_id)
            if agg is not None:
                self._aggs[ring_id] = agg
        return agg

    def summary(self, ring_id: str) -> RingSummary | None:
        """Exactly ``summarize(index, ring_id)``, without walking the ring when it is known."""
        if self.index.ring_size(ring_id) < 2:
            return summarize(self.index, ring_id)  # stale id or a lone application: trivial
        agg = self._get(ring_id)
        return None if agg is None else agg.summary(ring_id)

    def add_application(self, app_id: str, token_keys: Iterable[str], meta: AppMeta) -> str:
        """``RingIndex.add_application`` for a new application, keeping the aggregates exact.

        Rings the application merges are combined. A token crossing its cap stops linking: its
        ring is adjusted in place when it stayed whole (the usual case in a dense ring: other
        tokens still hold it together) and dropped, to be recomputed on use, when it split.
        """
        index = self.index
        if app_id in index:
            raise ValueError(f"{app_id} is already indexed")
        cap_of = index.policy.cap_of
        tokens = list(dict.fromkeys(token_keys))
        merging: set[str] = set()
        newly_linking: list[str] = []
        crossing: dict[str, list[str]] = {}  # token -> its carriers before this application
        for token in tokens:
            cap = cap_of(token)
            if cap < 0:
                continue
            degree = index.token_degree(token)
            if degree >= cap:
                if degree == cap:  # crosses its cap now: a hub token from here on
                    crossing[token] = list(index.apps_of(token))
                continue
            merging.update(r for other in index.apps_of(token) if (r := index.ring_of(other)) is not None)
            if degree == 1:
                newly_linking.append(token)
        before = {token: index.ring_of(carriers[0]) for token, carriers in crossing.items()}
        touched = merging | {r for r in before.values() if r is not None}
        parts = {ring_id: agg for ring_id in touched if (agg := self._get(ring_id)) is not None}
        ring = index.add_application(app_id, tokens, meta)
        for ring_id in touched:
            self._aggs.pop(ring_id, None)
        # Rings a crossing token held: whole → minus that token; split → recomputed on use.
        merge_ok = True
        whole: dict[str, str] = {}  # old ring id -> its id now, for rings that stayed whole
        for token, carriers in crossing.items():
            old_id = before[token]
            now = {index.ring_of(c) for c in carriers}
            if old_id is None or old_id not in parts or len(now) > 1:
                if old_id is not None:
                    parts.pop(old_id, None)
                    whole.pop(old_id, None)
                merge_ok = merge_ok and ring not in now
                continue
            if len(carriers) >= 2:  # it linked until now
                parts[old_id].shared[token_type_name(token_type_of(token))] -= 1
                parts[old_id].set_sharing(token, None)
            (current,) = now
            if current is not None:
                whole[old_id] = current
        for old_id, current in whole.items():
            if old_id in parts and current != ring and old_id not in merging:
                self._aggs[current] = parts.pop(old_id)  # whole, and not part of the new ring
        if not merge_ok:
            return ring
        pieces = sorted((parts[r] for r in merging if r in parts), key=lambda agg: -agg.size)
        if len(pieces) != len(merging):
            return ring  # a merged ring was unknown or split: recomputed on use
        if not pieces:
            return ring  # a lone application: nothing to keep
        merged = pieces[0]
        for piece in pieces[1:]:
            merged.absorb(piece)
        merged.add_app(app_id, meta)
        for token in newly_linking:
            merged.shared[token_type_name(token_type_of(token))] += 1
        # Only the new application's devices and phones gained a carrier.
        person: dict[str, str] = {}
        for token in tokens:
            if token_type_of(token) in _PERSON_SHARING_TYPES and index.links(token):
                apps = list(index.apps_of(token))
                for carrier in apps:
                    person[carrier] = (index.meta(carrier) or EMPTY_META).person or carrier
                merged.set_sharing(token, _persons_within_window(apps, person, index))
        self._aggs[ring] = merged
        return ring

    def update_meta(
        self,
        app_id: str,
        *,
        defaulted: bool | None = None,
        fraud_confirmed: bool | None = None,
        blacklisted: bool | None = None,
    ) -> AppMeta:
        """``RingIndex.update_meta``, adjusting the counts of the application's ring."""
        before = self.index.meta(app_id) or EMPTY_META
        after = self.index.update_meta(
            app_id, defaulted=defaulted, fraud_confirmed=fraud_confirmed, blacklisted=blacklisted
        )
        ring_id = self.index.ring_of(app_id)
        agg = self._aggs.get(ring_id) if ring_id is not None else None
        if agg is not None:
            agg.blacklisted += after.blacklisted - before.blacklisted
            agg.defaults += after.defaulted - before.defaulted
            agg.fraud_confirmed += after.fraud_confirmed - before.fraud_confirmed
        return after

    def forget(self) -> None:
        """Drops every aggregate (after changes made to the index directly, e.g. a removal)."""
        self._aggs.clear()
