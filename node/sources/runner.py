"""Run all data sources of a pre-screen at once, each under its own deadline.

A pre-screen must take as long as its slowest source, not the sum of all, and one broken provider
must not sink the application: every failure becomes a ``SourceOutcome`` with a reason code that
the decision layer turns into a referral (never a crash, never a silent approve).

The hub Check runs alongside through ``run_stage1``, which takes it as one extra awaitable and
returns its result or exception next to the source outcomes, so the caller applies its
hub-unreachable policy with all source outcomes in hand.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from node.rules.features import CATALOGUE, fits
from node.sources.base import (
    DataSource,
    FeatureValue,
    SourceOutcome,
    SourceRequest,
    SourceStatus,
    failure_name,
    reason_code,
)

log = logging.getLogger("lianfang.node.sources")

T = TypeVar("T")


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _checked_features(raw: object) -> dict[str, FeatureValue] | None:
    """The features as a plain dict, or None when the provider returned something unusable:
    a value of the wrong type for a catalogued feature (``"3"`` for a count) would fail every
    rule reading it, so the source counts as failed (degraded, the application referred)."""
    if not isinstance(raw, Mapping):
        return None
    features: dict[str, FeatureValue] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, bool | int | float | str):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        declared = CATALOGUE.get(key)
        if declared is not None and not fits(declared, value):
            return None
        features[key] = value
    return features


def _degraded(source: DataSource, status: SourceStatus, start: float, detail: str) -> SourceOutcome:
    outcome = SourceOutcome(
        name=source.name,
        status=status,
        elapsed_ms=_elapsed_ms(start),
        reason_code=reason_code(status, source.name),
        detail=detail,
    )
    # Only the source name and codes: the request (raw identifiers) and exception messages stay out.
    log.warning(
        "source degraded",
        extra={
            "fields": {
                "source": outcome.name,
                "status": outcome.status,
                "reason_code": outcome.reason_code,
                "detail": detail,
                "elapsed_ms": outcome.elapsed_ms,
            }
        },
    )
    return outcome


async def _run_one(source: DataSource, request: SourceRequest, deadline: float) -> SourceOutcome:
    """One source under its deadline; every failure except cancellation becomes an outcome."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            raw = await source.fetch(request)
    except TimeoutError as exc:  # our deadline, or the provider client's own
        return _degraded(source, "timeout", start, failure_name(exc))
    except Exception as exc:  # a refusal (SourceError), or a bug in a source that must not sink the pre-screen
        return _degraded(source, "error", start, failure_name(exc))
    features = _checked_features(raw)
    if features is None:
        return _degraded(source, "error", start, "INVALID_FEATURES")
    return SourceOutcome(name=source.name, status="ok", features=features, elapsed_ms=_elapsed_ms(start))


def _deadlines_for(
    sources: Sequence[DataSource], deadlines: Mapping[str, float], default_deadline: float
) -> list[float]:
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError("source names must be unique")
    unknown = set(deadlines) - set(names)
    if unknown:  # a typo in the configuration would otherwise silently fall back to the default
        raise ValueError(f"deadlines given for unknown sources: {', '.join(sorted(unknown))}")
    result = [deadlines.get(name, default_deadline) for name in names]
    if any(d <= 0 for d in result):
        raise ValueError("deadlines must be positive")
    return result


async def run_sources(
    sources: Sequence[DataSource],
    request: SourceRequest,
    *,
    deadlines: Mapping[str, float],
    default_deadline: float,
) -> list[SourceOutcome]:
    """Fetch from all sources concurrently; one outcome per source, in the order given.

    ``deadlines`` (seconds, by source name) override ``default_deadline``. Never raises for a
    source failure; raises ``ValueError`` for a bad configuration (duplicate names, unknown or
    non-positive deadlines) and propagates cancellation of the caller to every source.
    """
    limits = _deadlines_for(sources, deadlines, default_deadline)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_run_one(s, request, d)) for s, d in zip(sources, limits, strict=True)]
    return [t.result() for t in tasks]


@dataclass(frozen=True)
class Stage1Result(Generic[T]):
    """Source outcomes of a pre-screen plus the extra call (the hub Check) run alongside them."""

    outcomes: list[SourceOutcome]
    extra: T | None
    """The extra awaitable's result; None when it failed."""
    extra_error: Exception | None
    """What the extra awaitable raised (``TimeoutError`` past ``extra_deadline``), else None."""

    def features(self) -> dict[str, FeatureValue]:
        """All features of the sources that answered, merged (names are source-prefixed)."""
        merged: dict[str, FeatureValue] = {}
        for outcome in self.outcomes:
            merged.update(outcome.features)
        return merged

    def degraded_reasons(self) -> list[str]:
        """Reason codes of the sources that timed out or failed, in source order."""
        return [o.reason_code for o in self.outcomes if not o.ok]


async def run_stage1(
    sources: Sequence[DataSource],
    request: SourceRequest,
    extra: Awaitable[T],
    *,
    deadlines: Mapping[str, float],
    default_deadline: float,
    extra_deadline: float | None = None,
    cap: float | None = None,
) -> Stage1Result[T]:
    """``run_sources`` with one more awaitable (the hub Check) running concurrently.

    The extra call's exception is captured, not raised, and never cancels the sources: the
    caller decides what a missing hub answer means (refer by default) knowing what the sources
    said. ``extra_deadline`` bounds it when the awaitable has no deadline of its own. ``cap``
    (seconds) bounds every deadline, the extra one too: what is left of the node's caller's.
    """

    async def guarded() -> tuple[T | None, Exception | None]:
        try:
            if extra_deadline is None:
                return await extra, None
            async with asyncio.timeout(extra_deadline):
                return await extra, None
        except Exception as exc:
            return None, exc

    try:
        limits = _deadlines_for(sources, deadlines, default_deadline)
        if cap is not None:
            if cap <= 0:
                raise ValueError("cap must be positive")
            limits = [min(limit, cap) for limit in limits]
            extra_deadline = cap if extra_deadline is None else min(extra_deadline, cap)
    except ValueError:
        if inspect.iscoroutine(extra):
            extra.close()  # never started: close it rather than leak a "never awaited" warning
        raise
    async with asyncio.TaskGroup() as group:
        extra_task = group.create_task(guarded())
        tasks = [group.create_task(_run_one(s, request, d)) for s, d in zip(sources, limits, strict=True)]
    value, error = extra_task.result()
    return Stage1Result(outcomes=[t.result() for t in tasks], extra=value, extra_error=error)
