"""Per-member daily evaluation quotas: what makes guessing identifiers through the service
metered. Each member may have so many elements evaluated per UTC day; the count starts from the
audit at start-up (a restart does not reset it) and a refused batch costs nothing."""

from __future__ import annotations

from collections.abc import Callable

from runtime.errors import ResourceExhausted

DAY = 86_400.0


class EvaluationQuota:
    def __init__(self, quota_of: Callable[[str], int], used_today: dict[str, int], now: float) -> None:
        self.quota_of = quota_of
        """Member id → elements per day (0: unlimited); replaced when the configuration is reloaded."""
        self._day = int(now // DAY)
        self.used: dict[str, int] = dict(used_today)

    @staticmethod
    def day_start(now: float) -> float:
        return (now // DAY) * DAY

    def admit(self, member: str, count: int, now: float) -> None:
        """Counts ``count`` elements for ``member`` or raises RESOURCE_EXHAUSTED (RetryInfo: the
        next UTC midnight)."""
        day = int(now // DAY)
        if day != self._day:
            self._day, self.used = day, {}
        quota = self.quota_of(member)
        used = self.used.get(member, 0)
        if quota and used + count > quota:
            raise ResourceExhausted(
                f"daily evaluation quota of {quota} elements reached ({used} used today)", (day + 1) * DAY - now
            )
        self.used[member] = used + count
