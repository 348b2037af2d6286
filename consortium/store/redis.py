"""Redis store: the production backend, for standalone Redis and (unchanged layout) Redis Cluster.

This module holds members, applications and the Check path; the marker role is
``redis_markers.py``, the consortium log ``redis_log.py``, keys and script pipelines
``redis_plumbing.py``, record encodings and error mapping ``redis_records.py``.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

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
from consortium.store.redis_log import RedisConsortiumLog
from consortium.store.redis_markers import RedisMarkers
from consortium.store.redis_plumbing import Call
from consortium.store.redis_records import application_record, guarded, member_record, num, sorted_markers, tag, text
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound

_READ, _TENTATIVE, _AUTHORITATIVE, _TRIM, _BATCH = 0, 1, 2, 3, 4
_TRIM_LIMIT = 1000  # entries one script call removes, so a backlog never blocks Redis for long
_SMALL_TOKEN = 32  # at most this many entries in 90 days: one range read beats ten ZCOUNTs
_BATCH_CHUNK = 16  # applications per round trip of a batch, so single Checks interleave with it
_USE_LINK = True  # script pipelines over the lean multiplexed link when hiredis is installed
_APP_FIELDS = ("received_at", "token_keys", "kind", "category", "consent", "outcome", "outcome_at")


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


class RedisStore(RedisMarkers, RedisConsortiumLog, Store):
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

    # -- script calls ---------------------------------------------------------------------
    def _token_call(self, token_key: str, mode: int, member: str, ref: str, at: float, now: float | None) -> Call:
        bound = num(at - self.config.application_retention_seconds)
        return self._token_call_s(token_key, mode, member, ref, num(at), bound, None if now is None else num(now))

    def _token_call_s(
        self, token_key: str, mode: int, member: str, ref: str, at: str, bound: str, now: str | None
    ) -> Call:
        """The per-token script call, times already formatted (``_f``): a Check builds eight."""
        base = f"{self._p}:{{t:{tag(token_key)}}}:"
        keys = [base + "apps", base + "seen", base + "markers", f"{base}apps:{member}"]
        args: list[str | int | bytes] = [mode, member, ref, at, self._ttl_ms, bound, _TRIM_LIMIT, _SMALL_TOKEN]
        if now is not None:
            args.append(now)
        return self._token, keys, args

    def _app_call(self, app: ApplicationRecord) -> Call:
        values = (
            num(app.received_at),
            " ".join(app.token_keys),
            str(int(app.applicant_kind)),
            app.product_category,
            app.consent_ref,
            str(int(app.outcome)),
            num(app.outcome_at),
        )
        pairs = [x for pair in zip(_APP_FIELDS, values, strict=True) for x in pair]
        key = self._member_key(app.member_id, f"app:{app.application_ref}")
        return self._create, [key], [self._ttl_ms, *pairs]

    @staticmethod
    def _activity(result: list[Any]) -> tuple[TokenActivity, list[Marker]]:
        _, _, counts, last, markers = result  # replies are bytes (decode_responses=False), counts ints
        seen = {last[i].decode(): float(last[i + 1]) for i in range(0, len(last), 2)} if last else {}
        return TokenActivity(tuple(counts), seen), sorted_markers(markers) if markers else []

    # -- members ----------------------------------------------------------------------------
    @guarded
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
            num(member.created_at),
            "updated_at",
            num(member.updated_at),
        ]
        [(created, *_)] = await self._run([(self._create, [self._member_key(member.member_id, "member")], [0, *pairs])])
        if not created:
            raise AlreadyExists(f"member {member.member_id!r} already exists")

    @guarded
    async def get_member(self, member_id: str) -> Member | None:
        fields = await self._redis.hgetall(self._member_key(member_id, "member"))
        return member_record(member_id, fields) if fields else None

    @guarded
    async def set_member_status(
        self, member_id: str, expected: frozenset[int], status: int, reason: str, at: float
    ) -> Member:
        args: list[str | int | bytes] = ["status", len(expected), *(str(int(s)) for s in expected)]
        args += ["status", str(int(status)), "status_reason", reason, "updated_at", num(at)]
        [result] = await self._run([(self._update, [self._member_key(member_id, "member")], args)])
        if result[0] == 0:
            raise NotFound(f"member {member_id!r} not found")
        if result[0] == 1:
            raise FailedPrecondition(f"member {member_id!r} is in status {text(result[1])}")
        flat = result[1]
        return member_record(member_id, {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})

    @guarded
    async def list_members(self) -> list[Member]:
        ids = sorted(text(m) for m in await self._redis.smembers(f"{self._p}:members"))
        async with self._redis.pipeline(transaction=False) as pipe:
            for member_id in ids:
                pipe.hgetall(self._member_key(member_id, "member"))
            rows = await pipe.execute()
        return [member_record(m, f) for m, f in zip(ids, rows, strict=True) if f]

    # -- applications -----------------------------------------------------------------------
    @staticmethod
    def _stored(app: ApplicationRecord, result: list[Any]) -> tuple[ApplicationRecord, bool]:
        if result[0] == 1:
            return app, True
        return application_record(app.member_id, app.application_ref, result[1]), False

    @guarded
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

    @guarded
    async def check(self, app: ApplicationRecord, now: float) -> CheckSnapshot:
        return (await self.check_logged(app, now, (), None))[0]

    @guarded
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
        member, ref, at_s = app.member_id, app.application_ref, num(app.received_at)
        bound_s, now_s = num(app.received_at - self.config.application_retention_seconds), num(now)
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

    @guarded
    async def check_many(self, apps: Sequence[ApplicationRecord], now: float) -> list[CheckSnapshot]:
        return (await self.check_many_logged(apps, now, (), None))[0]

    @guarded
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
        retention, now_s = self.config.application_retention_seconds, num(now)
        snapshots: list[CheckSnapshot] = []
        entries: list[tuple[LogCursor, str]] = []
        for start in range(0, len(apps), _BATCH_CHUNK):
            chunk = range(start, min(start + _BATCH_CHUNK, len(apps)))
            last = start + _BATCH_CHUNK >= len(apps)
            tokens = [list(dict.fromkeys(apps[i].token_keys)) for i in chunk]
            calls: list[Call] = []
            for i, keys in zip(chunk, tokens, strict=True):
                app, at = apps[i], stored[i][0].received_at
                at_s, bound_s = num(app.received_at), num(app.received_at - retention)
                extra = (num(at), num(at - retention))
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

    def _snapshot(self, new: bool, at: float, tokens: Sequence[str], results: Sequence[Any]) -> CheckSnapshot:
        activity: dict[str, TokenActivity] = {}
        markers: dict[str, list[Marker]] = {}
        for k, r in zip(tokens, results, strict=True):
            activity[k], found = self._activity(r)
            if found:
                markers[k] = found
        return CheckSnapshot(new, at, activity, markers)

    @guarded
    async def token_activity(self, token_keys: Sequence[str], caller: str, now: float) -> dict[str, TokenActivity]:
        tokens = list(dict.fromkeys(token_keys))
        results = await self._run([self._token_call(k, _READ, caller, "", now, now) for k in tokens])
        return {k: self._activity(r)[0] for k, r in zip(tokens, results, strict=True)}

    @guarded
    async def get_application(self, member_id: str, application_ref: str) -> ApplicationRecord | None:
        key = self._member_key(member_id, f"app:{application_ref}")
        values = await self._redis.hmget(key, list(_APP_FIELDS))
        return None if values[0] is None else application_record(member_id, application_ref, values)

    @guarded
    async def set_outcome(self, member_id: str, application_ref: str, outcome: int, at: float) -> None:
        key = self._member_key(member_id, f"app:{application_ref}")
        [result] = await self._run(
            [(self._update, [key], ["", 0, "outcome", str(int(outcome)), "outcome_at", num(at)])]
        )
        if result[0] == 0:
            raise NotFound(f"application {application_ref!r} was never checked by this member")

    @guarded
    async def purge_applications(self, before: float) -> int:
        """One SCAN over the prefix: deletes old application records (counted) and trims every
        token's index below ``before``, each with per-key scripts (cluster-safe).

        On Redis Cluster the scan has to visit every primary."""
        apps_prefix, token_prefix = f"{self._p}:{{m:", f"{self._p}:{{t:"
        deletes: list[Call] = []
        trims: list[Call] = []

        async def flush() -> int:
            results = await self._run(deletes + trims) if deletes or trims else []
            count = sum(int(r) for r in results[: len(deletes)])
            # A token with more old entries than one call trims goes round again.
            trims[:] = [c for c, r in zip(trims, results[len(deletes) :], strict=True) if r == _TRIM_LIMIT]
            deletes.clear()
            return count

        deleted = 0
        async for raw in self._redis.scan_iter(match=f"{self._p}:{{*", count=1000):
            key = text(raw)
            if key.startswith(apps_prefix) and "}:app:" in key:
                deletes.append((self._delete_older, [key], [num(before)]))
            elif key.startswith(token_prefix) and key.endswith("}:apps"):
                base = key[: -len(":apps")]
                keys = [key, f"{base}:seen", f"{base}:markers", f"{base}:apps:"]
                trims.append((self._token, keys, [_TRIM, "", "", "0", 0, num(before), _TRIM_LIMIT, 0]))
            if len(deletes) + len(trims) >= 200:
                deleted += await flush()
        while deletes or trims:
            deleted += await flush()
        return deleted

    # -- token walk (re-keying) ----------------------------------------------------------------
    @guarded
    async def token_keys_page(self, prefix: str, after: str, limit: int) -> list[str]:
        """One SCAN over the token keys of ``prefix`` per page (``Store.token_keys_page``): a
        re-keying pass costs one scan of that keyspace per ``limit`` tokens."""
        start = f"{self._p}:{{t:"
        found: set[str] = set()
        async for raw in self._redis.scan_iter(match=f"{start}{tag(prefix)}*", count=1000):
            key = text(raw)
            token = key[len(start) : key.index("}", len(start))].replace("%7D", "}").replace("%25", "%")
            if token > after:
                found.add(token)
        return sorted(found)[:limit]

    # -- replay guard ------------------------------------------------------------------------
    @guarded
    async def claim_token_id(self, jti: str, expires_at: float, now: float) -> bool:
        ttl_ms = max(int((expires_at - now) * 1000), 1)
        return bool(await self._redis.set(f"{self._p}:{{j:{tag(jti)}}}", b"1", nx=True, px=ttl_ms))

    # -- lifecycle --------------------------------------------------------------------------
    @guarded
    async def ping(self) -> None:
        if self.config.cluster:  # every primary: a lost slot is a store that cannot answer
            await self._redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await self._redis.ping()

    async def close(self) -> None:
        if self._link is not None:
            self._link.close()
        await self._redis.aclose()
