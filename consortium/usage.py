"""What each member takes from and gives to the consortium, and the limits that follow from it.

Counts come from folding the consortium log (``RingTracker`` observer), so every hub replica
counts the same: Checks per member in total and per UTC day; contributions (reported outcomes,
markers filed from one of the filer's own applications: ``FileMarkerRequest.application_ref``).
Before a Check is recorded ``UsageGuard.admit`` enforces, per member:

* a **daily quota** of Checks → RESOURCE_EXHAUSTED, retry at the next UTC midnight: the hub's
  default, or the member's own that an admin set (``["q", …]`` entries, ``SetMemberQuota``);
* a **rate limit** (token bucket, per hub process) → RESOURCE_EXHAUSTED, retry when a token frees;
* **give-to-get**: past a grace number of Checks, contributions per Check must stay at or above
  the floor → FAILED_PRECONDITION saying how to regain query rights.

``report`` lists every member's figures and flags what looks like scraping (many Checks, no
outcomes ever) or enumeration (Checks of a bare identifier) for the admins
(``AdminService.ListUsage``).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consortium.records import Marker
from consortium.rings import application_tokens
from runtime.errors import FailedPrecondition, ResourceExhausted

DAY = 86_400.0
ENUMERATION_SHARE = 0.8
"""A member whose Checks mostly carry one identifier alone (a list of ID numbers walked through,
no phone, device or address of a real application) is flagged ENUMERATION_SUSPECTED."""


class DailyQuotaUsed(ResourceExhausted):
    """The member's daily Check quota is used: new Checks wait for the next UTC day."""


class BelowGiveToGet(FailedPrecondition):
    """The member takes more than the consortium's give-to-get floor lets it."""


EntitlementRefused = (DailyQuotaUsed, BelowGiveToGet)
"""What a retry is let through (it records and counts nothing); the rate limit is not."""


@dataclass(frozen=True)
class UsagePolicy:
    """Limits on members' queries (``[hub]`` settings ``daily_check_quota`` and the rest)."""

    daily_checks: int = 1_000_000
    """Checks one member may make per UTC day across the consortium; 0: unlimited."""

    checks_per_second: float = 0.0
    """Sustained Checks per second one member may send to one hub process; 0: unlimited."""

    burst: int = 200
    """Checks a member may send at once above ``checks_per_second``."""

    give_to_get_floor: float = 0.0
    """Contributions (outcomes + markers filed from the member's own applications) per Check a
    member must keep; 0: not enforced."""

    give_to_get_grace: int = 1_000
    """Checks before the floor applies (a new member must be able to start)."""

    scraping_checks: int = 1_000
    """A member with this many Checks and no reported outcome at all is flagged to admins."""


def _source(entry: list[Any], at: int) -> str | None:
    """A filing entry's ``from_application`` field: the application's reference ("" none); None
    for an entry from before filings named theirs (it counts on its own)."""
    return str(entry[at]) if len(entry) > at else None


class RecentChecks:
    """Which applications were checked in the last two UTC days (by the event's time), so that
    one Check recorded twice in the log counts once: a Check resent to another hub replica after
    the first one recorded it (client failover, idempotent retries) appends a second "a" entry.

    A Check of the same (member, ref) within a day of an earlier one is the same Check; memory
    is two days of Checks at 8 bytes of digest each (deterministic, so replicas agree)."""

    def __init__(self) -> None:
        self._days: dict[int, set[bytes]] = {}

    def first(self, member: str, ref: str, at: float) -> bool:
        """Whether this is the first recording of ``member``/``ref`` (and remembers it)."""
        key = hashlib.blake2b(f"{member}\x00{ref}".encode(), digest_size=8).digest()
        day = int(at // DAY)
        if key in self._days.get(day, ()) or key in self._days.get(day - 1, ()):
            return False
        self._days.setdefault(day, set()).add(key)
        while len(self._days) > 2:
            del self._days[min(self._days)]
        return True


@dataclass
class MemberFigures:
    checks: int = 0
    contributions: int = 0
    outcomes: int = 0
    markers: int = 0
    bare: int = 0  # Checks carrying a single identifier (an ID number alone: what a scraper sends)
    by_day: Counter[int] = field(default_factory=Counter)  # UTC day number -> checks


class _InFlight:
    """Checks admitted and not folded yet, released when the ``with`` block ends (a class, not
    a generator: this runs on every Check)."""

    __slots__ = ("checks", "in_flight", "member")

    def __init__(self, in_flight: Counter[str], member: str, checks: int) -> None:
        self.in_flight, self.member, self.checks = in_flight, member, checks

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        left = self.in_flight[self.member] - self.checks
        if left:
            self.in_flight[self.member] = left
        else:
            del self.in_flight[self.member]


class UsageGuard:
    """Counts from the log (``observe``) and the limits checked before each Check (``admit``)."""

    def __init__(self, policy: UsagePolicy | None = None) -> None:
        self.policy = policy or UsagePolicy()
        self.members: dict[str, MemberFigures] = {}
        self._reported: set[tuple[str, str]] = set()  # (member, ref): one outcome counts once
        self._buckets: dict[str, tuple[float, float]] = {}  # member -> (tokens, at)
        self._checked = RecentChecks()  # one Check recorded twice (a retry on another replica) counts once
        # (token, filer, filed at) of marker filings -> the filer's application they came from
        self._sources: dict[tuple[str, str, str], str | None] = {}
        self._withdrawn: set[tuple[str, str, str]] = set()  # the filings withdrawn since
        self._standing: dict[tuple[str, str], int] = {}  # (filer, application) -> its markers standing
        # member -> Checks admitted by this process and not yet folded: they count against the
        # limits meanwhile, or concurrent calls waiting on the store would all pass the same check
        self._in_flight: Counter[str] = Counter()
        self.quotas: dict[str, int] = {}  # member -> its own daily quota (``quota_event``), folded

    def daily_quota(self, member: str) -> int:
        """The daily Check quota in force for ``member`` (0: unlimited)."""
        return self.quotas.get(member, self.policy.daily_checks)

    def figures(self, member: str) -> MemberFigures:
        found = self.members.get(member)
        if found is None:
            found = self.members[member] = MemberFigures()
        return found

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded:
            return
        kind = decoded[0]
        if kind == "a":
            if self._checked.first(str(decoded[1]), str(decoded[2]), float(decoded[3])):
                self._count_check(str(decoded[1]), float(decoded[3]), len(application_tokens(decoded)))
        elif kind == "sa":  # a subject access request: ["sa", member, token count, at, token keys]
            self._count_check(str(decoded[1]), float(decoded[3]), int(decoded[2]))
        elif kind == "o":
            key = (str(decoded[1]), str(decoded[2]))
            if key in self._reported:  # re-reporting the same application gives nothing more
                return
            self._reported.add(key)
            f = self.figures(key[0])
            f.outcomes += 1
            f.contributions += 1
        elif kind == "m" and len(decoded) > 3 and decoded[2] and decoded[3]:
            # ["m", token, 1, filer, at, from_application]; a timed filing repeated (a retried
            # append) counts once
            filing = (str(decoded[1]), str(decoded[3]), str(decoded[4])) if len(decoded) > 4 else None
            if filing is None or filing not in self._sources:
                self._filing(filing, str(decoded[3]), _source(decoded, 5))
        elif kind == "q":  # ["q", admin, member, daily quota or null, at, reason]
            if decoded[3] is None:
                self.quotas.pop(str(decoded[2]), None)
            else:
                self.quotas[str(decoded[2])] = int(decoded[3])
        elif kind == "mk":  # ["mk", action, marker_id, token, filer, type, filed_at, at, from_application]
            filing = (str(decoded[3]), str(decoded[4]), str(decoded[6]))
            if decoded[1] == "file" and filing not in self._sources:  # a protective filing
                self._filing(filing, filing[1], _source(decoded, 8))
            elif decoded[1] == "withdraw" and filing in self._sources and filing not in self._withdrawn:
                self._withdrawn.add(filing)  # a filing withdrawn is no contribution (file, withdraw, repeat)
                self._filing_withdrawn(filing)

    def _filing(self, filing: tuple[str, str, str] | None, filer: str, source: str | None) -> None:
        """A marker filed from application ``source``: one contribution per application however
        many of its markers stand ("": from none, no contribution; None: an entry from before
        filings named theirs, a contribution of its own)."""
        if filing is not None:
            self._sources[filing] = source  # markers are few next to Checks: kept whole
        f = self.figures(filer)
        f.markers += 1
        if source is None:
            f.contributions += 1
        elif source:
            standing = self._standing[(filer, source)] = self._standing.get((filer, source), 0) + 1
            f.contributions += standing == 1

    def _filing_withdrawn(self, filing: tuple[str, str, str]) -> None:
        filer, source = filing[1], self._sources[filing]
        f = self.figures(filer)
        f.markers -= 1
        if source is None:
            f.contributions -= 1
        elif source:
            left = self._standing[(filer, source)] - 1
            if left:
                self._standing[(filer, source)] = left
            else:
                del self._standing[(filer, source)]
                f.contributions -= 1

    def _count_check(self, member: str, at: float, tokens: int) -> None:
        """One Check, or a subject access request, which looks tokens up as a Check does (and is
        counted like one: no free enumeration)."""
        f = self.figures(member)
        f.checks += 1
        f.bare += tokens <= 1
        f.by_day[int(at // DAY)] += 1
        if len(f.by_day) > 3:  # only today's (and yesterday's) counts are ever asked for
            del f.by_day[min(f.by_day)]

    def withdrawal_logged(self, marker: Marker) -> bool:
        """Whether the log already holds this marker's withdrawal (``"mk"``), as folded here."""
        return (marker.token_key, marker.filer_member_id, str(marker.filed_at)) in self._withdrawn

    def admitted(self, member: str, checks: int, now: float, *, new: int | None = None) -> _InFlight:
        """``admit``, then holds the new Checks as in flight until the ``with`` block ends: the
        caller records and folds them inside it (a Check's fold counts it for good)."""
        self.admit(member, checks, now, new=new)
        counted = checks if new is None else new
        in_flight = self._in_flight
        in_flight[member] = in_flight.get(member, 0) + counted
        return _InFlight(in_flight, member, counted)

    def admit(
        self, member: str, checks: int, now: float, *, monotonic: float | None = None, new: int | None = None
    ) -> None:
        """Raises when ``member`` may not make ``checks`` more Checks now (this process's Checks
        in flight included; other replicas' count once folded). ``new``: how many of them are
        not retries (default: all); a retry counts nothing against the daily quota or
        give-to-get (it records nothing), but every Check counts against the rate limit."""
        if new != 0:
            self._entitled(member, checks if new is None else new, now)
        if self.policy.checks_per_second:
            self._within_rate(member, checks, monotonic)

    def _entitled(self, member: str, checks: int, now: float) -> None:
        """The daily quota and give-to-get (``EntitlementRefused``)."""
        p, f = self.policy, self.figures(member)
        in_flight = self._in_flight.get(member, 0)
        daily = self.daily_quota(member)
        if daily:
            today = f.by_day.get(int(now // DAY), 0) + in_flight
            if today + checks > daily:
                midnight = (now // DAY + 1) * DAY
                raise DailyQuotaUsed(f"daily quota of {daily} Checks used ({today} today)", retry_after=midnight - now)
        if p.give_to_get_floor and f.checks + in_flight >= p.give_to_get_grace:
            ratio = f.contributions / max(f.checks + in_flight, 1)
            if ratio < p.give_to_get_floor:
                raise BelowGiveToGet(
                    f"give-to-get: {f.contributions} contributions for {f.checks + in_flight} Checks "
                    f"({ratio:.3f} per Check) is "
                    f"below the consortium's floor of {p.give_to_get_floor}; report outcomes (ReportOutcome) or "
                    "file markers to regain query rights"
                )

    def _within_rate(self, member: str, checks: int, monotonic: float | None) -> None:
        """The per-member token bucket (``checks_per_second``, ``burst``; the caller checks it is on)."""
        p = self.policy
        clock = time.monotonic() if monotonic is None else monotonic
        capacity = max(p.burst, checks, 1)
        tokens, at = self._buckets.get(member, (float(capacity), clock))
        tokens = min(capacity, tokens + (clock - at) * p.checks_per_second)
        if tokens < checks:
            raise ResourceExhausted(
                f"rate limit of {p.checks_per_second:g} Checks/s",
                retry_after=(checks - tokens) / p.checks_per_second,
            )
        self._buckets[member] = (tokens - checks, clock)

    def report(self, now: float, members: Iterable[str] = (), *, only: bool = False) -> list[dict[str, Any]]:
        """Per member: figures, contribution ratio, flags (SCRAPING_SUSPECTED, ENUMERATION_SUSPECTED,
        BELOW_GIVE_TO_GET) and the daily quota in force. ``members`` are listed even with nothing
        counted yet (all zeros): a member that never checks nor gives is worth seeing too;
        ``only``: just them."""
        p, rows = self.policy, []
        for member in sorted(set(members) if only else set(self.members).union(members)):
            f = self.members.get(member) or MemberFigures()
            ratio = f.contributions / f.checks if f.checks else 0.0
            flags = []
            if f.checks >= p.scraping_checks and f.outcomes == 0:
                flags.append("SCRAPING_SUSPECTED")
            if f.checks >= p.scraping_checks and f.bare >= ENUMERATION_SHARE * f.checks:
                flags.append("ENUMERATION_SUSPECTED")
            if p.give_to_get_floor and f.checks >= p.give_to_get_grace and ratio < p.give_to_get_floor:
                flags.append("BELOW_GIVE_TO_GET")
            rows.append(
                {
                    "member_id": member,
                    "checks": f.checks,
                    "checks_today": f.by_day.get(int(now // DAY), 0),
                    "outcomes": f.outcomes,
                    "markers": f.markers,
                    "contribution_ratio": ratio,
                    "flags": flags,
                    "daily_check_quota": self.daily_quota(member),
                    "own_quota": member in self.quotas,
                }
            )
        return rows
