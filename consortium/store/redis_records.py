"""How the Redis store writes records into hashes and strings, and reports Redis failures.

Shared by the store's role modules (``redis.py``, ``redis_markers.py``, ``redis_log.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from redis import exceptions as rx

from consortium.records import ApplicationRecord, Marker, Member
from runtime.errors import Unavailable

# Connection-level failures, and the transient ones of a failover (READONLY: a demoted primary);
# a Cluster client's own when no node answers at all (a whole-cluster restart) or a slot has none.
UNREACHABLE = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.ClusterDownError,
    rx.TryAgainError,
    rx.ReadOnlyError,
    rx.RedisClusterUnreachableError,
    rx.SlotNotCoveredError,
    OSError,
)

# Error replies of a server that cannot serve writes now (maxmemory with noeviction, a failed
# RDB save with stop-writes-on-bgsave-error, min-replicas unmet, a master link down, a script
# running past its time limit): transient for callers, as an unreachable server is.
REFUSING = (rx.OutOfMemoryError, rx.MasterDownError)
_REFUSING_REPLIES = ("MISCONF ", "NOREPLICAS ", "BUSY ")

log = logging.getLogger("lianfang.store.redis")
_P = ParamSpec("_P")
_T = TypeVar("_T")


def num(x: float) -> str:
    """Floats travel as repr: Redis parses them with strtod, so they round-trip exactly."""
    return repr(float(x))


def tag(value: str) -> str:
    """Escapes '}' (which would end the hash tag early) injectively."""
    return value.replace("%", "%25").replace("}", "%7D")


def text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def guarded(fn: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Turns every connection-level Redis failure, and a server refusing writes for now, into
    Unavailable, the one error callers retry."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await fn(*args, **kwargs)
        except UNREACHABLE as exc:
            # operators get the cause in the log; callers only learn that the store is down
            log.warning("redis unreachable", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
            raise Unavailable("store unreachable") from exc
        except rx.ResponseError as exc:
            if not isinstance(exc, REFUSING) and not str(exc).startswith(_REFUSING_REPLIES):
                raise
            log.warning("redis refuses writes", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
            raise Unavailable("store unavailable") from exc

    return wrapper


def member_record(member_id: str, fields: Mapping[Any, Any]) -> Member:
    return Member(
        member_id,
        text(fields[b"display_name"]),
        text(fields[b"category"]),
        bytes(fields[b"public_key"]),
        int(fields[b"status"]),
        text(fields[b"status_reason"]),
        float(fields[b"created_at"]),
        float(fields[b"updated_at"]),
    )


def application_record(member_id: str, ref: str, values: Sequence[Any]) -> ApplicationRecord:
    at, keys, kind, cat, consent, outcome, outcome_at = values
    return ApplicationRecord(
        member_id,
        ref,
        float(at),
        tuple(text(keys).split()),
        int(kind),
        text(cat),
        text(consent),
        int(outcome),
        float(outcome_at),
    )


def marker_json(marker: Marker) -> str:
    return json.dumps(dataclasses.asdict(marker), ensure_ascii=False, separators=(",", ":"))


def marker_record(raw: Any) -> Marker:
    return Marker(**json.loads(raw))


def sorted_markers(raws: Sequence[Any]) -> list[Marker]:
    return sorted((marker_record(r) for r in raws), key=lambda m: (m.filed_at, m.marker_id))
