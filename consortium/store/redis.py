"""Redis store: the production backend, for standalone Redis and (unchanged layout) Redis Cluster.

Every key carries a hash tag, so each operation touches one slot and nothing needs a cross-slot
command, transaction or script (``{p}`` is the key prefix)::

  {p}:members                    set of member ids (its own slot)
  {p}:{m:<member>}:member        hash: the member
  {p}:{m:<member>}:app:<ref>     hash: one application record (TTL: application retention)
  {p}:{m:<member>}:markers       zset marker_id -> filed_at, the markers the member filed
  {p}:{t:<token>}:apps           zset "<member>\\x1f<ref>" -> received_at          (TTL: retention,
  {p}:{t:<token>}:apps:<member>  zset ref -> received_at, that member's own apps   refreshed on
  {p}:{t:<token>}:seen           zset member -> its latest received_at             every write)
  {p}:{t:<token>}:markers        hash marker_id -> marker JSON (no TTL: markers outlive apps)
  {p}:{k:<marker>}               string: the token key the marker sits on
  {p}:{log}:events               stream: the consortium log (``ConsortiumLog``), one entry per event
  {p}:{j:<jti>}                  string: a claimed single-use token id (expires with the token)

Invariants kept by the per-token script: ``apps:<m>`` mirrors m's entries of ``apps`` and
``seen[m]`` is their maximum. A quiet token (the usual case) is counted from one range read of
its 90 days; a busy one with ZCOUNT(apps) - ZCOUNT(apps:<caller>) per window and ``seen``, so a
Check stays logarithmic in a token's traffic. Every write is idempotent (create-if-absent, ZADD of
an existing entry is a no-op), which makes pipeline retries after a dropped connection safe:
counts are never doubled. Member ids must not contain "\x1f" (validated upstream).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript

from consortium.records import (
    LONGEST_WINDOW,
    YEAR,
    ApplicationRecord,
    CheckSnapshot,
    Marker,
    Member,
    TokenActivity,
)
from consortium.store import redis_scripts as lua
from consortium.store.base import LogCursor, Store
from consortium.store.redis_cluster_link import ClusterLink, open_cluster_link
from consortium.store.redis_link import RedisLink, open_link
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable

_READ, _TENTATIVE, _AUTHORITATIVE, _TRIM, _BATCH = 0, 1, 2, 3, 4
_TRIM_LIMIT = 1000  # entries one script call removes, so a backlog never blocks Redis for long
_SMALL_TOKEN = 32  # at most this many entries in 90 days: one range read beats ten ZCOUNTs
_BATCH_CHUNK = 16  # applications per round trip of a batch, so single Checks interleave with it
_USE_LINK = True  # script pipelines over the lean multiplexed link when hiredis is installed
_APP_FIELDS = ("received_at", "token_keys", "kind", "category", "consent", "outcome", "outcome_at")
# Connection-level failures, and the transient ones of a failover (READONLY: a demoted primary).
_UNREACHABLE = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.ClusterDownError,
    rx.TryAgainError,
    rx.ReadOnlyError,
    OSError,
)

log = logging.getLogger("lianfang.store.redis")
_P = ParamSpec("_P")
_T = TypeVar("_T")
_Call = tuple[AsyncScript, list[str], list[str | int | bytes]]


@dataclass(frozen=True)
class RedisStoreConfig:
    """Configuration of the Redis store."""

    url: str = "redis://127.0.0.1:6379/0"
    """Redis URL (redis:// or rediss://, with the database number)."""

    key_prefix: str = "lf"
    """Prepended to every key, so several consortia or test runs can share one Redis."""

    application_retention_seconds: float = 2 * YEAR
    """Applications leave the index this long after they were written (TTL and trimming)."""

    socket_timeout: float = 2.0
    """Seconds a connect or a command may take; with the one retry, a dead or hung Redis is
    reported as Unavailable after at most about twice this."""

    cluster: bool = False
    """Redis Cluster: ``url`` names any one node (the others are discovered). Every key's hash
    tag keeps one token's (member's, marker's) keys in one slot, so nothing changes but routing:
    pipelines are split per node by redis-py, in order per node."""


def _f(x: float) -> str:
    """Floats travel as repr: Redis parses them with strtod, so they round-trip exactly."""
    return repr(float(x))


def _tag(value: str) -> str:
    """Escapes '}' (which would end the hash tag early) injectively."""
    return value.replace("%", "%25").replace("}", "%7D")


def _s(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _guarded(fn: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Turns every connection-level Redis failure into Unavailable, the one error callers retry."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await fn(*args, **kwargs)
        except _UNREACHABLE as exc:
            # operators get the cause in the log; callers only learn that the store is down
            log.warning("redis unreachable", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
            raise Unavailable("store unreachable") from exc

    return wrapper


def _member(member_id: str, fields: Mapping[Any, Any]) -> Member:
    return Member(
        member_id,
        _s(fields[b"display_name"]),
        _s(fields[b"category"]),
        bytes(fields[b"public_key"]),
        int(fields[b"status"]),
        _s(fields[b"status_reason"]),
        float(fields[b"created_at"]),
        float(fields[b"updated_at"]),
    )


def _application(member_id: str, ref: str, values: Sequence[Any]) -> ApplicationRecord:
    at, keys, kind, cat, consent, outcome, outcome_at = values
    return ApplicationRecord(
        member_id,
        ref,
        float(at),
        tuple(_s(keys).split()),
        int(kind),
        _s(cat),
        _s(consent),
        int(outcome),
        float(outcome_at),
    )


def _marker_json(marker: Marker) -> str:
    return json.dumps(dataclasses.asdict(marker), ensure_ascii=False, separators=(",", ":"))


def _marker(raw: Any) -> Marker:
    return Marker(**json.loads(raw))


def _sorted_markers(raws: Sequence[Any]) -> list[Marker]:
    return sorted((_marker(r) for r in raws), key=lambda m: (m.filed_at, m.marker_id))


class RedisStore(Store):
    """The hub store on Redis; several hub replicas may share one."""

    name = "redis"

    def __init__(self, config: RedisStoreConfig) -> None:
        if not config.key_prefix or any(c in config.key_prefix for c in "{}*?[]\\"):
            raise ValueError(f"key_prefix {config.key_prefix!r} must be non-empty without {{}}*?[]\\")
        if config.application_retention_seconds < LONGEST_WINDOW:
            raise ValueError("application_retention_seconds must cover the longest window (90 days)")
        self.config = config
        self._p = config.key_prefix
        self._ttl_ms = int(config.application_retention_seconds * 1000)
        # One quick retry rides out a dropped connection (every write is idempotent); more
        # would hold a Check far past its deadline while Redis is down (redis-py's default: 10).
        retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=1)
        self._redis: Any
        self._link: RedisLink | ClusterLink | None = None
        if config.cluster:
            self._redis = RedisCluster.from_url(
                config.url,
                socket_timeout=config.socket_timeout,
                socket_connect_timeout=config.socket_timeout,
                decode_responses=False,
                retry=retry,
            )
            self._link = open_cluster_link(config.url, config.socket_timeout) if _USE_LINK else None
        else:
            self._redis = aioredis.Redis.from_url(
                config.url,
                socket_timeout=config.socket_timeout,
                socket_connect_timeout=config.socket_timeout,
                decode_responses=False,
                retry=retry,
            )
            # The hot path (every script pipeline) bypasses redis-py's pipeline: see redis_link.py.
            self._link = open_link(config.url, config.socket_timeout) if _USE_LINK else None
        script = self._redis.register_script
        self._create, self._update, self._cas = script(lua.CREATE), script(lua.UPDATE), script(lua.CAS_FIELD)
        self._delete_older, self._token = script(lua.DELETE_OLDER), script(lua.TOKEN)

    # -- keys -------------------------------------------------------------------------------
    def _member_key(self, member_id: str, suffix: str) -> str:
        return f"{self._p}:{{m:{_tag(member_id)}}}:{suffix}"

    def _token_base(self, token_key: str) -> str:
        return f"{self._p}:{{t:{_tag(token_key)}}}"

    def _marker_key(self, marker_id: str) -> str:
        return f"{self._p}:{{k:{_tag(marker_id)}}}"

    # -- script plumbing --------------------------------------------------------------------
    async def _run(self, calls: Sequence[_Call], tail: Sequence[tuple[Any, ...]] = ()) -> list[Any]:
        """EVALSHAs in one non-transactional pipeline: one round trip. (redis-py's Script in a
        pipeline would add a SCRIPT EXISTS round trip each time.) On NOSCRIPT, e.g. after a
        restart or failover, loads the scripts and reruns just the calls that did not run.
        ``tail``: plain commands sent in the same round trip after the scripts (the consortium log);
        their replies follow the scripts' in the result."""
        results = await self._evalsha(calls, tail)
        for r in results[len(calls) :]:
            if isinstance(r, Exception):
                raise r
        tail_results, results = results[len(calls) :], results[: len(calls)]
        missing = [i for i, r in enumerate(results) if isinstance(r, rx.NoScriptError)]
        if missing:
            for s in {calls[i][0] for i in missing}:
                await self._redis.script_load(s.script)
            for i, r in zip(missing, await self._evalsha([calls[i] for i in missing]), strict=True):
                results[i] = r
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results + tail_results

    async def _evalsha(self, calls: Sequence[_Call], tail: Sequence[tuple[Any, ...]] = ()) -> list[Any]:
        if self._link is not None:
            commands = [("EVALSHA", s.sha, len(keys), *keys, *args) for s, keys, args in calls]
            return await self._link.execute([*commands, *tail])
        async with self._redis.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            for command in tail:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    def _token_call(self, token_key: str, mode: int, member: str, ref: str, at: float, now: float | None) -> _Call:
        bound = _f(at - self.config.application_retention_seconds)
        return self._token_call_s(token_key, mode, member, ref, _f(at), bound, None if now is None else _f(now))

    def _token_call_s(
        self, token_key: str, mode: int, member: str, ref: str, at: str, bound: str, now: str | None
    ) -> _Call:
        """The per-token script call, times already formatted (``_f``): a Check builds eight."""
        base = f"{self._p}:{{t:{_tag(token_key)}}}:"
        keys = [base + "apps", base + "seen", base + "markers", f"{base}apps:{member}"]
        args: list[str | int | bytes] = [mode, member, ref, at, self._ttl_ms, bound, _TRIM_LIMIT, _SMALL_TOKEN]
        if now is not None:
            args.append(now)
        return self._token, keys, args

    def _app_call(self, app: ApplicationRecord) -> _Call:
        values = (
            _f(app.received_at),
            " ".join(app.token_keys),
            str(int(app.applicant_kind)),
            app.product_category,
            app.consent_ref,
            str(int(app.outcome)),
            _f(app.outcome_at),
        )
        pairs = [x for pair in zip(_APP_FIELDS, values, strict=True) for x in pair]
        key = self._member_key(app.member_id, f"app:{app.application_ref}")
        return self._create, [key], [self._ttl_ms, *pairs]

    @staticmethod
    def _activity(result: list[Any]) -> tuple[TokenActivity, list[Marker]]:
        _, _, counts, last, markers = result  # replies are bytes (decode_responses=False), counts ints
        seen = {last[i].decode(): float(last[i + 1]) for i in range(0, len(last), 2)} if last else {}
        return TokenActivity(tuple(counts), seen), _sorted_markers(markers) if markers else []

    # -- members ----------------------------------------------------------------------------
    @_guarded
    async def add_member(self, member: Member) -> None:
        # Index first: a crash in between leaves a dangling id (skipped by list_members) that a
        # retried add completes, never a member missing from the list.
        await self._redis.sadd(f"{self._p}:members", member.member_id)
        pairs: list[str | int | bytes] = [
            "display_name",
            member.display_name,
            "category",
            member.category,
            "public_key",
            member.public_key,
            "status",
            str(int(member.status)),
            "status_reason",
            member.status_reason,
            "created_at",
            _f(member.created_at),
            "updated_at",
            _f(member.updated_at),
        ]
        [(created, *_)] = await self._run([(self._create, [self._member_key(member.member_id, "member")], [0, *pairs])])
        if not created:
            raise AlreadyExists(f"member {member.member_id!r} already exists")

    @_guarded
    async def get_member(self, member_id: str) -> Member | None:
        fields = await self._redis.hgetall(self._member_key(member_id, "member"))
        return _member(member_id, fields) if fields else None

    @_guarded
    async def set_member_status(
        self, member_id: str, expected: frozenset[int], status: int, reason: str, at: float
    ) -> Member:
        args: list[str | int | bytes] = ["status", len(expected), *(str(int(s)) for s in expected)]
        args += ["status", str(int(status)), "status_reason", reason, "updated_at", _f(at)]
        [result] = await self._run([(self._update, [self._member_key(member_id, "member")], args)])
        if result[0] == 0:
            raise NotFound(f"member {member_id!r} not found")
        if result[0] == 1:
            raise FailedPrecondition(f"member {member_id!r} is in status {_s(result[1])}")
        flat = result[1]
        return _member(member_id, {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})

    @_guarded
    async def list_members(self) -> list[Member]:
        ids = sorted(_s(m) for m in await self._redis.smembers(f"{self._p}:members"))
        async with self._redis.pipeline(transaction=False) as pipe:
            for member_id in ids:
                pipe.hgetall(self._member_key(member_id, "member"))
            rows = await pipe.execute()
        return [_member(m, f) for m, f in zip(ids, rows, strict=True) if f]

    # -- applications -----------------------------------------------------------------------
    @staticmethod
    def _stored(app: ApplicationRecord, result: list[Any]) -> tuple[ApplicationRecord, bool]:
        if result[0] == 1:
            return app, True
        return _application(app.member_id, app.application_ref, result[1]), False

    @_guarded
    async def record_application(self, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        [result] = await self._run([self._app_call(app)])
        stored, new = self._stored(app, result)
        await self._run(
            [
                self._token_call(k, _AUTHORITATIVE, app.member_id, app.application_ref, stored.received_at, None)
                for k in dict.fromkeys(app.token_keys)
            ]
        )
        return stored, new

    @_guarded
    async def check(self, app: ApplicationRecord, now: float) -> CheckSnapshot:
        return (await self.check_logged(app, now, (), None))[0]

    def _log_commands(self, events: Sequence[str], after: LogCursor | None) -> list[tuple[Any, ...]]:
        if after is None:
            return []
        key = self._log_key()
        return [*(("XADD", key, "*", "e", event) for event in events), ("XRANGE", key, f"({after[0]}-{after[1]}", "+")]

    @_guarded
    async def check_logged(
        self, app: ApplicationRecord, now: float, events: Sequence[str], after: LogCursor | None
    ) -> tuple[CheckSnapshot, list[tuple[LogCursor, str]]]:
        """One round trip: the record's create-if-absent and, per token, record + read.

        The token scripts run with the caller's received_at before the original one is known;
        an entry that already exists is left alone (a retry). Only a retry that follows a crash
        between record and indexing, or that brings tokens the original lacked, can index a
        differing time: a second round trip then re-indexes those tokens with the original one.
        """
        tokens = list(dict.fromkeys(app.token_keys))
        member, ref, at_s = app.member_id, app.application_ref, _f(app.received_at)
        bound_s, now_s = _f(app.received_at - self.config.application_retention_seconds), _f(now)
        calls = [self._app_call(app)]
        calls += [self._token_call_s(k, _TENTATIVE, member, ref, at_s, bound_s, now_s) for k in tokens]
        tail = self._log_commands(events, after)
        first, *per_token = await self._run(calls, tail)
        entries = self._entries(per_token[-1]) if tail else []
        per_token = per_token[: len(tokens)]
        stored, new = self._stored(app, first)
        at = stored.received_at
        wrong = [i for i, r in enumerate(per_token) if float(r[1]) != at]
        if wrong:
            fixed = await self._run(
                [
                    self._token_call(tokens[i], _AUTHORITATIVE, app.member_id, app.application_ref, at, now)
                    for i in wrong
                ]
            )
            for i, r in zip(wrong, fixed, strict=True):
                per_token[i] = r
        return self._snapshot(new, at, tokens, per_token), entries

    @_guarded
    async def check_many(self, apps: Sequence[ApplicationRecord], now: float) -> list[CheckSnapshot]:
        return (await self.check_many_logged(apps, now, (), None))[0]

    @_guarded
    async def check_many_logged(
        self, apps: Sequence[ApplicationRecord], now: float, events: Sequence[str], after: LogCursor | None
    ) -> tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]:
        """A batch in a few round trips, with the snapshots and state of sequential Checks.

        First every record's create-if-absent (they touch only record keys, so running them
        ahead of the token scripts changes nothing), which yields each application's
        authoritative received_at; then, in request order and chunks of ``_BATCH_CHUNK``
        applications, one script call per token in the batch mode: the tentative call a Check
        makes and, when the stored time then differs, its fix-up call, in one call. Redis runs a
        connection's commands in order, so each application sees the ones before it exactly as
        sequential Checks would.
        """
        if not apps:
            return [], await self._append_logged(events, after)
        created = await self._run([self._app_call(app) for app in apps])
        stored = [self._stored(app, r) for app, r in zip(apps, created, strict=True)]
        retention, now_s = self.config.application_retention_seconds, _f(now)
        snapshots: list[CheckSnapshot] = []
        entries: list[tuple[LogCursor, str]] = []
        for start in range(0, len(apps), _BATCH_CHUNK):
            chunk = range(start, min(start + _BATCH_CHUNK, len(apps)))
            last = start + _BATCH_CHUNK >= len(apps)
            tokens = [list(dict.fromkeys(apps[i].token_keys)) for i in chunk]
            calls: list[_Call] = []
            for i, keys in zip(chunk, tokens, strict=True):
                app, at = apps[i], stored[i][0].received_at
                at_s, bound_s = _f(app.received_at), _f(app.received_at - retention)
                extra = (_f(at), _f(at - retention))
                for k in keys:
                    call = self._token_call_s(k, _BATCH, app.member_id, app.application_ref, at_s, bound_s, now_s)
                    call[2].extend(extra)
                    calls.append(call)
            tail = self._log_commands(events, after) if last else []  # the log with the last chunk
            replies = await self._run(calls, tail)
            if tail:
                entries = self._entries(replies[-1])
            results = iter(replies)
            for i, keys in zip(chunk, tokens, strict=True):
                record, new = stored[i]
                snapshots.append(self._snapshot(new, record.received_at, keys, [next(results) for _ in keys]))
        return snapshots, entries

    async def _append_logged(self, events: Sequence[str], after: LogCursor | None) -> list[tuple[LogCursor, str]]:
        return [] if after is None else await self.append_log_events(events, after)

    def _snapshot(self, new: bool, at: float, tokens: Sequence[str], results: Sequence[Any]) -> CheckSnapshot:
        activity: dict[str, TokenActivity] = {}
        markers: dict[str, list[Marker]] = {}
        for k, r in zip(tokens, results, strict=True):
            activity[k], found = self._activity(r)
            if found:
                markers[k] = found
        return CheckSnapshot(new, at, activity, markers)

    @_guarded
    async def token_activity(self, token_keys: Sequence[str], caller: str, now: float) -> dict[str, TokenActivity]:
        tokens = list(dict.fromkeys(token_keys))
        results = await self._run([self._token_call(k, _READ, caller, "", now, now) for k in tokens])
        return {k: self._activity(r)[0] for k, r in zip(tokens, results, strict=True)}

    @_guarded
    async def get_application(self, member_id: str, application_ref: str) -> ApplicationRecord | None:
        key = self._member_key(member_id, f"app:{application_ref}")
        values = await self._redis.hmget(key, list(_APP_FIELDS))
        return None if values[0] is None else _application(member_id, application_ref, values)

    @_guarded
    async def set_outcome(self, member_id: str, application_ref: str, outcome: int, at: float) -> None:
        key = self._member_key(member_id, f"app:{application_ref}")
        [result] = await self._run([(self._update, [key], ["", 0, "outcome", str(int(outcome)), "outcome_at", _f(at)])])
        if result[0] == 0:
            raise NotFound(f"application {application_ref!r} was never checked by this member")

    @_guarded
    async def purge_applications(self, before: float) -> int:
        """One SCAN over the prefix: deletes old application records (counted) and trims every
        token's index below ``before``, each with per-key scripts (cluster-safe).

        On Redis Cluster the scan has to visit every primary."""
        apps_prefix, token_prefix = f"{self._p}:{{m:", f"{self._p}:{{t:"
        deletes: list[_Call] = []
        trims: list[_Call] = []

        async def flush() -> int:
            results = await self._run(deletes + trims) if deletes or trims else []
            count = sum(int(r) for r in results[: len(deletes)])
            # A token with more old entries than one call trims goes round again.
            trims[:] = [c for c, r in zip(trims, results[len(deletes) :], strict=True) if r == _TRIM_LIMIT]
            deletes.clear()
            return count

        deleted = 0
        async for raw in self._redis.scan_iter(match=f"{self._p}:{{*", count=1000):
            key = _s(raw)
            if key.startswith(apps_prefix) and "}:app:" in key:
                deletes.append((self._delete_older, [key], [_f(before)]))
            elif key.startswith(token_prefix) and key.endswith("}:apps"):
                base = key[: -len(":apps")]
                keys = [key, f"{base}:seen", f"{base}:markers", f"{base}:apps:"]
                trims.append((self._token, keys, [_TRIM, "", "", "0", 0, _f(before), _TRIM_LIMIT, 0]))
            if len(deletes) + len(trims) >= 200:
                deleted += await flush()
        while deletes or trims:
            deleted += await flush()
        return deleted

    # -- markers ----------------------------------------------------------------------------
    @_guarded
    async def add_marker(self, marker: Marker) -> None:
        pointer = self._marker_key(marker.marker_id)
        markers_key = f"{self._token_base(marker.token_key)}:markers"
        if not await self._redis.set(pointer, marker.token_key, nx=True):
            # Taken, unless an earlier add crashed after claiming the id: then complete it.
            owner = await self._redis.get(pointer)
            if (
                owner is None
                or _s(owner) != marker.token_key
                or await self._redis.hexists(markers_key, marker.marker_id)
            ):
                raise AlreadyExists(f"marker {marker.marker_id!r} already exists")
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(markers_key, marker.marker_id, _marker_json(marker))
            filer_key = self._member_key(marker.filer_member_id, "markers")
            pipe.zadd(filer_key, {marker.marker_id: marker.filed_at})
            await pipe.execute()

    async def _marker_raw(self, marker_id: str) -> tuple[str, Any] | None:
        token = await self._redis.get(self._marker_key(marker_id))
        if token is None:
            return None
        key = f"{self._token_base(_s(token))}:markers"
        raw = await self._redis.hget(key, marker_id)
        return None if raw is None else (key, raw)

    @_guarded
    async def get_marker(self, marker_id: str) -> Marker | None:
        found = await self._marker_raw(marker_id)
        return None if found is None else _marker(found[1])

    @_guarded
    async def withdraw_marker(self, marker_id: str, at: float, reason: str) -> Marker:
        for _ in range(16):  # optimistic: a concurrent withdraw of the same marker makes us retry
            found = await self._marker_raw(marker_id)
            if found is None:
                raise NotFound(f"marker {marker_id!r} not found")
            key, raw = found
            old = _marker(raw)
            new = dataclasses.replace(
                old,
                withdrawn_at=old.withdrawn_at if old.withdrawn_at is not None else at,
                withdraw_reason=reason,
            )
            if await self._run([(self._cas, [key], [marker_id, raw, _marker_json(new)])]) == [1]:
                return new
        raise Unavailable(f"marker {marker_id!r} is being changed concurrently; retry")

    @_guarded
    async def markers_for_tokens(self, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        """Markers per token, ordered by (filed_at, marker_id)."""
        tokens = list(dict.fromkeys(token_keys))
        async with self._redis.pipeline(transaction=False) as pipe:
            for k in tokens:
                pipe.hvals(f"{self._token_base(k)}:markers")
            rows = await pipe.execute()
        return {k: _sorted_markers(r) for k, r in zip(tokens, rows, strict=True) if r}

    @_guarded
    async def purge_markers(self, now: float) -> int:
        """Walks each filer's marker index (markers are few next to applications)."""
        purged = 0
        for member_id in [_s(m) for m in await self._redis.smembers(f"{self._p}:members")]:
            for marker in await self.markers_by_filer(member_id):
                if marker.expires_at is None or marker.expires_at > now:
                    continue
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hdel(f"{self._token_base(marker.token_key)}:markers", marker.marker_id)
                    pipe.delete(self._marker_key(marker.marker_id))
                    pipe.zrem(self._member_key(member_id, "markers"), marker.marker_id)
                    await pipe.execute()
                purged += 1
        return purged

    @_guarded
    async def markers_by_filer(self, member_id: str) -> list[Marker]:
        ids = [_s(i) for i in await self._redis.zrange(self._member_key(member_id, "markers"), 0, -1)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for marker_id in ids:
                pipe.get(self._marker_key(marker_id))
            tokens = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for marker_id, token in zip(ids, tokens, strict=True):
                if token is not None:
                    pipe.hget(f"{self._token_base(_s(token))}:markers", marker_id)
            raws = await pipe.execute()
        return _sorted_markers([r for r in raws if r is not None])

    # -- consortium log --------------------------------------------------------------------------
    # A stream: XADD ids are monotonic and an entry is visible to every reader once added, so a
    # reader's last id is its cursor. A connection retry may re-add an event; the fold of the
    # log (consortium.rings) is idempotent for repeated events.
    def _log_key(self) -> str:
        return f"{self._p}:{{log}}:events"

    @staticmethod
    def _entries(raw: Sequence[Any]) -> list[tuple[LogCursor, str]]:
        entries = []
        for entry_id, fields in raw:
            ms, _, seq = _s(entry_id).partition("-")
            # redis-py parses the fields into a dict; the raw link leaves the flat [name, value].
            value = next(iter(fields.values())) if isinstance(fields, dict) else fields[1]
            entries.append(((int(ms), int(seq)), _s(value)))
        return entries

    @_guarded
    async def append_log_events(self, events: Sequence[str], after: LogCursor) -> list[tuple[LogCursor, str]]:
        commands = self._log_commands(events, after)
        if self._link is not None:
            replies = await self._link.execute(commands)
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return self._entries(replies[-1])

    @_guarded
    async def log_events(self, after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        raw = await self._redis.xrange(self._log_key(), f"({after[0]}-{after[1]}", "+", count=limit)
        return self._entries(raw or [])

    # -- replay guard ------------------------------------------------------------------------
    @_guarded
    async def token_keys_page(self, prefix: str, after: str, limit: int) -> list[str]:
        """One SCAN over the token keys of ``prefix`` per page (``Store.token_keys_page``): a
        re-keying pass costs one scan of that keyspace per ``limit`` tokens."""
        start = f"{self._p}:{{t:"
        found: set[str] = set()
        async for raw in self._redis.scan_iter(match=f"{start}{_tag(prefix)}*", count=1000):
            key = _s(raw)
            token = key[len(start) : key.index("}", len(start))].replace("%7D", "}").replace("%25", "%")
            if token > after:
                found.add(token)
        return sorted(found)[:limit]

    @_guarded
    async def claim_token_id(self, jti: str, expires_at: float, now: float) -> bool:
        ttl_ms = max(int((expires_at - now) * 1000), 1)
        return bool(await self._redis.set(f"{self._p}:{{j:{_tag(jti)}}}", b"1", nx=True, px=ttl_ms))

    # -- lifecycle --------------------------------------------------------------------------
    @_guarded
    async def ping(self) -> None:
        if self.config.cluster:  # every primary: a lost slot is a store that cannot answer
            await self._redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await self._redis.ping()

    async def close(self) -> None:
        if self._link is not None:
            self._link.close()
        await self._redis.aclose()
