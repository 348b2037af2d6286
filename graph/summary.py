"""The facts about a ring that its score is made of, gathered from the index in one pass.

Kept apart from scoring so the hub can also build a :class:`RingSummary` from aggregates it
stores, and so a score can always be traced back to countable facts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from graph.model import EMPTY_META, AppMeta
from graph.policy import TokenType, raw_key, token_type_name, token_type_of
from graph.ring_index import RingIndex

DAY_SECONDS = 86_400.0
SHARING_WINDOW_SECONDS = 7 * DAY_SECONDS
"""Distinct applicants on one device or phone are counted within this window: ten people on one
phone in a week is a farm; twelve staff giving the switchboard number over two months is not."""
_PERSON_SHARING_TYPES = frozenset({TokenType.DEVICE_ID, TokenType.PHONE})


def applicant_of(app_id: str, meta: AppMeta, index: RingIndex) -> str:
    """Who an application is, when a ring counts distinct applicants: its resident ID or USCC,
    else ``unnamed_applicant``. (Callers on a ring walk write ``meta.person or
    unnamed_applicant(...)``: one call fewer per named application.)"""
    return meta.person or unnamed_applicant(app_id, index)


def unnamed_applicant(app_id: str, index: RingIndex) -> str:
    """An application without a person key (a phone- or device-only pre-check) counts by its
    phone: one borrower's pre-checks on one phone are one applicant, while a farm's on one
    device, each with its own phone, are many. Without a phone either, the application itself."""
    phones = [raw_key(t) for t in index.tokens_of(app_id) if token_type_of(t) == TokenType.PHONE]
    return min(phones) if phones else app_id  # the phone itself, not its key in one link window


@dataclass(frozen=True, slots=True)
class RingSummary:
    """Countable facts about one ring.

    ``persons`` counts distinct applicants (``applicant_of``: an application without a person
    key counts by its phone).
    ``max_persons_per_device_or_phone`` is the largest number of distinct applicants on one
    shared device or phone within any 7 days (``SHARING_WINDOW_SECONDS``): one person on five
    lenders is stacking, five people on one phone in a week is a ring. ``apps_per_day`` is
    ``size`` over the ring's time span, the span floored at one day so a burst in one hour does not
    divide by ~0. ``shared_token_types`` lists the linking tokens
    (carried by two or more members) by type, most frequent first.
    """

    ring_id: str
    size: int
    lenders: int = 1
    persons: int = 1
    max_persons_per_device_or_phone: int = 0
    apps_per_day: float = 1.0
    span_days: float = 0.0
    blacklisted: int = 0
    defaults: int = 0
    fraud_confirmed: int = 0
    shared_token_types: tuple[tuple[str, int], ...] = ()
    first_seen: float = 0.0
    last_seen: float = 0.0


def _persons_within_window(apps: list[str], person: dict[str, str], index: RingIndex) -> int:
    """Most distinct persons among ``apps`` received within any ``SHARING_WINDOW_SECONDS``."""
    timed = sorted(((index.meta(a) or EMPTY_META).received_at, person[a]) for a in apps)
    best, start = 0, 0
    inside: Counter[str] = Counter()
    for at, who in timed:
        inside[who] += 1
        while timed[start][0] < at - SHARING_WINDOW_SECONDS:
            gone = timed[start][1]
            inside[gone] -= 1
            if not inside[gone]:
                del inside[gone]
            start += 1
        best = max(best, len(inside))
    return best


def summarize(index: RingIndex, ring_id: str) -> RingSummary | None:
    """The summary of a ring by id (see :meth:`RingIndex.members`); None for a stale/unknown id."""
    members = index.members(ring_id)
    if not members:
        return None
    metas = [index.meta(app_id) or EMPTY_META for app_id in members]
    person = {
        app_id: meta.person or unnamed_applicant(app_id, index) for app_id, meta in zip(members, metas, strict=True)
    }
    carriers: dict[str, list[str]] = {}
    for app_id in members:
        for token in index.tokens_of(app_id):
            carriers.setdefault(token, []).append(app_id)
    shared_types: Counter[str] = Counter()
    max_persons = 0
    for token, apps in carriers.items():
        if len(apps) < 2 or not index.links(token):
            continue
        token_type = token_type_of(token)
        shared_types[token_type_name(token_type)] += 1
        if token_type in _PERSON_SHARING_TYPES:
            max_persons = max(max_persons, _persons_within_window(apps, person, index))
    times = [meta.received_at for meta in metas]
    first, last = min(times), max(times)
    span_days = (last - first) / DAY_SECONDS
    return RingSummary(
        ring_id=ring_id,
        size=len(members),
        lenders=len({meta.member_id for meta in metas}),
        persons=len(set(person.values())),
        max_persons_per_device_or_phone=max_persons,
        apps_per_day=len(members) / max(span_days, 1.0),
        span_days=span_days,
        blacklisted=sum(meta.blacklisted for meta in metas),
        defaults=sum(meta.defaulted for meta in metas),
        fraud_confirmed=sum(meta.fraud_confirmed for meta in metas),
        shared_token_types=tuple(sorted(shared_types.items(), key=lambda item: (-item[1], item[0]))),
        first_seen=first,
        last_seen=last,
    )
