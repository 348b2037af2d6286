"""Ring summaries kept up to date as applications arrive, so answering a Check does not walk
the ring.

:func:`graph.summary.summarize` walks every member of a ring: fine for an analyst, too slow for
the hub's hot path once rings grow to hundreds of applications (dense sharing percolates into
large components). :class:`RingAggregates` wraps a :class:`RingIndex` and keeps, per ring, the
countable facts a :class:`RingSummary` is made of (member and person counters, first/last time,
flag counts, linking tokens per type, the 7-day persons-per-device maximum):

* a new application's rings are combined by conservation (see ``add_application``): the rings it
  merges, or splits through a token crossing its cap, hold the same applications before and
  after; every resulting ring but the largest is walked and the largest is the total minus those
  pieces, so a big ring is never walked once known;
* outcome and marker changes adjust the counts in place;
* a removal (expiry) goes through the index directly and then ``forget()``.

The result is exactly ``summarize`` (a property test compares them after random workloads).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from graph.model import EMPTY_META, AppMeta
from graph.policy import token_type_name, token_type_of
from graph.ring_index import RingIndex
from graph.summary import (
    _PERSON_SHARING_TYPES,
    DAY_SECONDS,
    RingSummary,
    _persons_within_window,
    applicant_of,
    summarize,
    unnamed_applicant,
)


@dataclass(slots=True)
class RingAggregate:
    """The facts of one ring, in a form that adds and subtracts (see the module docstring)."""

    size: int = 0
    members: Counter[str] = field(default_factory=Counter)
    persons: Counter[str] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)  # received_at of every member, sorted
    blacklisted: int = 0
    defaults: int = 0
    fraud_confirmed: int = 0
    shared: Counter[str] = field(default_factory=Counter)  # type name -> linking tokens in the ring
    sharing: dict[str, int] = field(default_factory=dict)  # linking device/phone -> persons in 7 days
    sharing_counts: Counter[int] = field(default_factory=Counter)  # persons in 7 days -> tokens

    @property
    def max_persons_per_device_or_phone(self) -> int:
        return max((n for n, tokens in self.sharing_counts.items() if tokens > 0), default=0)

    def set_sharing(self, token: str, persons: int | None) -> None:
        """Records (None: forgets) a linking device or phone's persons-in-7-days count."""
        old = self.sharing.pop(token, None)
        if old is not None:
            self.sharing_counts[old] -= 1
        if persons is not None:
            self.sharing[token] = persons
            self.sharing_counts[persons] += 1

    def add_app(self, meta: AppMeta, applicant: str) -> None:
        """Counts one application (``applicant``: ``summary.applicant_of``)."""
        self.size += 1
        self.members[meta.member_id] += 1
        self.persons[applicant] += 1
        insort(self.times, meta.received_at)
        self.blacklisted += meta.blacklisted
        self.defaults += meta.defaulted
        self.fraud_confirmed += meta.fraud_confirmed

    def absorb(self, other: RingAggregate) -> None:
        """Adds another ring's facts; cheapest when ``other`` is the smaller."""
        self.size += other.size
        self.members.update(other.members)
        self.persons.update(other.persons)
        if len(other.times) < 64:
            for at in other.times:
                insort(self.times, at)
        else:
            self.times = sorted(self.times + other.times)
        self.blacklisted += other.blacklisted
        self.defaults += other.defaults
        self.fraud_confirmed += other.fraud_confirmed
        self.shared.update(other.shared)
        self.sharing.update(other.sharing)  # disjoint: a linking token's carriers share one ring
        self.sharing_counts.update(other.sharing_counts)

    def subtract(self, part: RingAggregate) -> None:
        """Takes out a part (a piece split off): ``part`` must be contained in ``self``."""
        self.size -= part.size
        _take(self.members, part.members)
        _take(self.persons, part.persons)
        times = self.times
        for at in part.times:
            del times[bisect_left(times, at)]
        self.blacklisted -= part.blacklisted
        self.defaults -= part.defaults
        self.fraud_confirmed -= part.fraud_confirmed
        _take(self.shared, part.shared)
        for token in part.sharing:
            self.set_sharing(token, None)

    def summary(self, ring_id: str) -> RingSummary:
        first, last = self.times[0], self.times[-1]
        span_days = (last - first) / DAY_SECONDS
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
                sorted(((name, n) for name, n in self.shared.items() if n > 0), key=lambda item: (-item[1], item[0]))
            ),
            first_seen=first,
            last_seen=last,
        )


def _take(counter: Counter[str], part: Counter[str]) -> None:
    """``counter -= part`` in time proportional to ``part`` (Counter's own ``-=`` scans both)."""
    for key, n in part.items():
        left = counter[key] - n
        if left > 0:
            counter[key] = left
        else:
            del counter[key]


def aggregate(index: RingIndex, ring_id: str) -> RingAggregate | None:
    """The aggregate of a ring computed from the index (a walk of the ring, like summarize)."""
    members = index.members(ring_id)
    if not members:
        return None
    agg = RingAggregate()
    for app_id in members:
        meta = index.meta(app_id) or EMPTY_META
        agg.add_app(meta, applicant_of(app_id, meta, index))
    carriers: dict[str, list[str]] = {}
    for app_id in members:
        for token in index.tokens_of(app_id):
            carriers.setdefault(token, []).append(app_id)
    person = {
        app_id: (index.meta(app_id) or EMPTY_META).person or unnamed_applicant(app_id, index) for app_id in members
    }
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
        """The ring's aggregate; computed (a walk) when unknown, kept for rings of two or more."""
        agg = self._aggs.get(ring_id)
        if agg is None:
            agg = aggregate(self.index, ring_id)
            if agg is not None and agg.size >= 2:
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

        Conservation does the work: the rings the application touches (merges, or splits
        through a token crossing its cap), plus the application, hold exactly the applications
        of the rings that cover them afterwards. Every resulting ring but the largest is walked
        (they are the small pieces), and the largest is the old total minus those pieces — so a
        big ring is never walked, whether it grows, merges or sheds a piece.
        """
        index = self.index
        if app_id in index:
            raise ValueError(f"{app_id} is already indexed")
        cap_of = index.policy.cap_of
        tokens = list(dict.fromkeys(token_keys))
        touched: set[str] = set()
        carriers: list[str] = []  # applications of tokens that cross their cap now
        newly_linking: list[str] = []
        unlinking: list[str] = []
        sharing: list[str] = []  # devices and phones that link once the application is in
        for token in tokens:
            cap = cap_of(token)
            if cap < 0:
                continue
            apps = index.apps_of(token)
            degree = len(apps)
            if degree > cap:
                continue  # a hub token already: links nothing, changes nothing
            if degree == cap:  # each carrier's ring (all one ring if it linked until now)
                carriers.extend(apps)
                touched.update(r for other in apps if (r := index.ring_of(other)) is not None)
                if degree >= 2:
                    unlinking.append(token)
            elif degree:  # it links its carriers: one ring
                if (r := index.ring_of(next(iter(apps)))) is not None:
                    touched.add(r)
                if degree == 1:
                    newly_linking.append(token)
                if token_type_of(token) in _PERSON_SHARING_TYPES:
                    sharing.append(token)
        old = sorted((agg for ring_id in touched if (agg := self._get(ring_id)) is not None), key=lambda agg: -agg.size)
        ring = index.add_application(app_id, tokens, meta)
        for ring_id in touched:
            self._aggs.pop(ring_id, None)
        covering = {ring} | {r for c in carriers if (r := index.ring_of(c)) is not None}
        largest = max(covering, key=lambda r: (index.ring_size(r), r))
        total = old[0] if old else RingAggregate()
        for agg in old[1:]:
            total.absorb(agg)
        total.add_app(meta, applicant_of(app_id, meta, index))
        for token in newly_linking:
            total.shared[token_type_name(token_type_of(token))] += 1
        for token in unlinking:
            total.shared[token_type_name(token_type_of(token))] -= 1
            total.set_sharing(token, None)
        person: dict[str, str] = {}  # only the new application's devices and phones gained a carrier
        for token in sharing:  # each links now: it had 1..cap-1 carriers and gained this one
            apps = list(index.apps_of(token))
            for carrier in apps:
                person[carrier] = (index.meta(carrier) or EMPTY_META).person or unnamed_applicant(carrier, index)
            total.set_sharing(token, _persons_within_window(apps, person, index))
        for ring_id in covering:
            if ring_id != largest and (piece := aggregate(index, ring_id)) is not None:
                total.subtract(piece)
                if piece.size >= 2:
                    self._aggs[ring_id] = piece
        if total.size >= 2:
            self._aggs[largest] = total
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
