"""Every token's application history, folded from the consortium log: what stacking is counted from.

Why a fold and not the store: every Check already appends its application to the consortium log
and, in the same round trip, reads back everything appended since this hub last looked (the
ring index is built that way, ``consortium.rings``). The log's application events carry every
token key, so each hub process can keep, per token, which member applied when, and answer a
Check's stacking from memory right after folding its own event: no per-token reads or writes in
the store, and a BatchCheck is answered exactly as sequential Checks would be. Replicas fold the
same log in the same order, so they count alike; a restarted hub replays the log and counts as
before.

Per token the history is ``member -> ascending application times`` (a single application as a
plain ``(member, time)`` pair). A Check's counts for the
caller at ``now`` are, per window, the other members' applications received in
``[now - window, now]``, and each member's latest time in the longest window: a few bisections
per member of the token, whatever the token's traffic.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import MappingProxyType

from consortium.records import LONGEST_WINDOW, WINDOWS, TokenActivity

_SECONDS = tuple(w.seconds for w in WINDOWS)


TypeCounts = tuple[int, Sequence[int], Sequence[int]]
"""One token type's stacking: (token type, other members per window, their applications per
window), windows shortest first (``StackingIndex.window_counts``)."""

_NONE = (0,) * len(WINDOWS)
_EMPTY = TokenActivity((0,) * len(WINDOWS), MappingProxyType({}))
"""A token with no application in the window: one shared, read-only instance."""


def count_activity(rows: Sequence[tuple[str, float]], caller: str, now: float) -> TokenActivity:
    """TokenActivity of one token from its (member_id, received_at) application rows: the
    reference definition :class:`StackingIndex` is held to (tests)."""
    cutoffs = [now - w.seconds for w in WINDOWS]
    counts = [0] * len(WINDOWS)
    last_seen: dict[str, float] = {}
    oldest = now - LONGEST_WINDOW
    for member_id, at in rows:
        if at < oldest or at > now:
            continue
        if last_seen.get(member_id, -1.0) < at:
            last_seen[member_id] = at
        if member_id != caller:
            for i, cutoff in enumerate(cutoffs):
                if at >= cutoff:
                    counts[i] += 1
    return TokenActivity(tuple(counts), last_seen)


def counts_from_activity(
    token_keys: Sequence[str], activity: Mapping[str, TokenActivity], caller: str, now: float
) -> list[TypeCounts]:
    """Per token type (ascending), the stacking of its tokens' activities: other members who
    applied within each window (the union across the type's tokens) and the busiest token's
    other applications. The reference :meth:`StackingIndex.window_counts` is held to."""
    by_type: dict[int, list[TokenActivity]] = {}
    for k in token_keys:
        by_type.setdefault(int(k.split(".", 2)[1]), []).append(activity[k])
    cutoffs = [now - seconds for seconds in _SECONDS]
    out: list[TypeCounts] = []
    for token_type in sorted(by_type):
        acts = by_type[token_type]
        last_seen: dict[str, float] = {}
        for act in acts:
            for member, at in act.member_last_seen.items():
                if member != caller and last_seen.get(member, -1.0) < at:
                    last_seen[member] = at
        apps = tuple(max(counts) for counts in zip(*(act.other_applications for act in acts), strict=True))
        members = tuple(sum(1 for at in last_seen.values() if at >= cutoff) for cutoff in cutoffs)
        out.append((token_type, members, apps))
    return out


_One = tuple[str, float]
"""A token with a single application so far: (member, time). Most tokens (a resident ID, a
phone) are seen once or twice, so the first application is kept in a tuple (a quarter of the
memory of a member dict of lists) and the dict is made on the second."""


class StackingIndex:
    """Per token: the members that applied with it and when (the whole application retention)."""

    def __init__(self) -> None:
        self._tokens: dict[str, _One | dict[str, list[float]]] = {}

    def __len__(self) -> int:
        """How many tokens have a history."""
        return len(self._tokens)

    def add(self, token_keys: Iterable[str], member: str, at: float) -> None:
        """One application (the caller folds each application once; ``token_keys`` distinct)."""
        tokens = self._tokens
        for key in token_keys:
            history = tokens.get(key)
            if history is None:
                tokens[key] = (member, at)
                continue
            if isinstance(history, tuple):
                history = tokens[key] = {history[0]: [history[1]]}
            times = history.get(member)
            if times is None:
                history[member] = [at]
            elif times[-1] <= at:  # the log is (nearly) in time order
                times.append(at)
            else:
                insort(times, at)

    def members_of(self, token_key: str) -> Collection[str]:
        """The members that applied with the token (within the retention period)."""
        history = self._tokens.get(token_key)
        if history is None:
            return ()
        return (history[0],) if isinstance(history, tuple) else history.keys()

    def times_of(self, token_key: str) -> list[float]:
        """When the token's applications were received (within the retention period), by any member."""
        history = self._tokens.get(token_key)
        if history is None:
            return []
        return [history[1]] if isinstance(history, tuple) else [at for times in history.values() for at in times]

    def activities(self, token_keys: Iterable[str], caller: str, now: float) -> dict[str, TokenActivity]:
        """``count_activity`` of each token's history, for ``caller`` at ``now``."""
        cutoffs = [now - seconds for seconds in _SECONDS]
        oldest = now - LONGEST_WINDOW
        tokens = self._tokens
        out: dict[str, TokenActivity] = {}
        for key in token_keys:
            history = tokens.get(key)
            if history is None:
                out[key] = _EMPTY
                continue
            if isinstance(history, tuple):
                member, at = history
                if not oldest <= at <= now:
                    out[key] = _EMPTY
                elif member == caller:
                    out[key] = TokenActivity((0,) * len(cutoffs), {member: at})
                else:
                    out[key] = TokenActivity(tuple(int(at >= cutoff) for cutoff in cutoffs), {member: at})
                continue
            counts = [0] * len(cutoffs)
            seen: dict[str, float] = {}
            for member, times in history.items():
                end = len(times) if times[-1] <= now else bisect_right(times, now)
                if not end or times[end - 1] < oldest:
                    continue
                seen[member] = times[end - 1]
                if member == caller:
                    continue
                if times[0] >= cutoffs[0]:  # all within the shortest window, so within every one
                    for i in range(len(counts)):
                        counts[i] += end
                    continue
                for i, cutoff in enumerate(cutoffs):
                    counts[i] += end - bisect_left(times, cutoff, 0, end)
            out[key] = TokenActivity(tuple(counts), seen)
        return out

    def window_counts(self, token_keys: Sequence[str], caller: str, now: float) -> list[TypeCounts]:
        """``counts_from_activity(token_keys, self.activities(...))`` without building the
        activities: a Check's stacking straight from the histories. A type given once (the
        usual case) is counted here; one given several times goes through the activities."""
        by_type: dict[int, list[str]] = {}
        for key in token_keys:
            by_type.setdefault(int(key.split(".", 2)[1]), []).append(key)
        cutoffs = [now - seconds for seconds in _SECONDS]
        oldest = now - LONGEST_WINDOW
        windows = range(len(cutoffs))
        tokens = self._tokens
        out: list[TypeCounts] = []
        for token_type in sorted(by_type):
            keys = by_type[token_type]
            if len(keys) > 1:
                out.extend(counts_from_activity(keys, self.activities(keys, caller, now), caller, now))
                continue
            history = tokens.get(keys[0])
            if history is None:
                out.append((token_type, _NONE, _NONE))
                continue
            if isinstance(history, tuple):
                member, at = history
                if member == caller or not oldest <= at <= now:
                    out.append((token_type, _NONE, _NONE))
                else:
                    hit = tuple(int(at >= cutoff) for cutoff in cutoffs)
                    out.append((token_type, hit, hit))
                continue
            members = [0] * len(cutoffs)
            apps = [0] * len(cutoffs)
            recent_members = recent_apps = 0  # members all of whose applications are in every window
            for member, times in history.items():
                if member == caller:
                    continue
                end = len(times) if times[-1] <= now else bisect_right(times, now)
                if not end:
                    continue
                last = times[end - 1]
                if last < oldest:
                    continue
                if times[0] >= cutoffs[0]:  # all within the shortest window, so within every one
                    recent_members += 1
                    recent_apps += end
                    continue
                for i in windows:
                    apps[i] += end - bisect_left(times, cutoffs[i], 0, end)
                    if last >= cutoffs[i]:
                        members[i] += 1
            if recent_members:
                members = [n + recent_members for n in members]
                apps = [n + recent_apps for n in apps]
            out.append((token_type, members, apps))
        return out

    def forget_before(self, before: float) -> None:
        """Drops applications received before ``before`` (retention, as the store purges them)."""
        tokens = self._tokens
        for key in list(tokens):
            history = tokens[key]
            if isinstance(history, tuple):
                if history[1] < before:
                    del tokens[key]
                continue
            for member in list(history):
                times = history[member]
                cut = bisect_left(times, before)
                if cut == len(times):
                    del history[member]
                elif cut:
                    del times[:cut]
            if not history:
                del tokens[key]
