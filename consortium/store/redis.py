"""Redis store: the production backend, for standalone Redis and (unchanged layout) Redis Cluster.

This module holds members, applications and the Check path (``record_logged``); the marker role is
``redis_markers.py``, the consortium log ``redis_log.py``, keys and script pipelines
``redis_plumbing.py``, record encodings and error mapping ``redis_records.py``.

Every key carries a hash tag, so each operation touches one slot and nothing needs a cross-slot
command, transaction or script (``{p}`` is the key prefix)::

  {p}:members                    set of member ids (its own slot)
  {p}:{m:<member>}:member        hash: the member (and ``log_pending:*``: changes' log entries until logged)
  {p}:{m:<member>}:app:<ref>     hash: one application record (TTL: application retention)
  {p}:{m:<member>}:markers       zset marker_id -> filed_at, the markers the member filed
  {p}:{t:<token>}:markers        hash marker_id -> marker JSON (no TTL: markers outlive apps)
  {p}:{k:<marker>}               string: the token key the marker sits on
  {p}:{log}:events               stream: the consortium log (``ConsortiumLog``), one entry per event
  {p}:{j:<jti>}                  string: a claimed single-use token id (expires with the token)
  {p}:{pk}:claims                hash sha256(public key) -> member id: signing keys claimed for good
  {p}:{probe:<n>}                string: the health probe's write (a minute's TTL)

Stacking is not kept here: it is counted from the consortium log, which every hub process folds
(``consortium.stacking_index``), so a Check is one round trip of the record's create-if-absent,
one HVALS per token (its markers) and the log's XADD + XRANGE. Every write is idempotent
(create-if-absent; a repeated log event folds to nothing), which makes pipeline retries after a
dropped connection safe: counts are never doubled.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from consortium.members import status_name
from consortium.records import LONGEST_WINDOW, YEAR, ApplicationRecord, CheckSnapshot, Marker, Member
from consortium.store import redis_scripts as lua
from consortium.store.base import LogCursor, Store, UnloggedEvents
from consortium.store.redis_cluster_link import ClusterLink, open_cluster_link
from consortium.store.redis_link import RedisLink, open_link
from consortium.store.redis_log import RedisConsortiumLog
from consortium.store.redis_markers import RedisMarkers
from consortium.store.redis_plumbing import Call
from consortium.store.redis_records import application_record, guarded, member_record, num, sorted_markers, tag, text
from consortium.store.redis_scan import START, ScanPosition, scan_step
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound

_PENDING = "log_pending:"  # prefix of the member-hash fields holding a change's unlogged entries
log = logging.getLogger("lianfang.hub.store")

_USE_LINK = True  # script pipelines over the lean multiplexed link when hiredis is installed
# The health probe's write (``ping``): gone a minute after the last probe; on a Cluster, tags
# tried to find one key on every primary (3 primaries take ~6 on average).
PROBE_TTL_MS = 60_000
PROBE_TAG_TRIES = 4096
_APP_FIELDS = ("received_at", "token_keys", "kind", "category", "consent", "outcome", "outcome_at")


def _pending_field() -> str:
    """A new field of the member's hash for one change's log entries (its own: never replaced)."""
    return f"{_PENDING}{secrets.token_hex(8)}"


def _pending_value(at: float, events: Sequence[str]) -> str:
    """The copy of a member change's log entries kept until logged: ``[at, events]`` (a claim
    appends the claiming hub's time)."""
    return json.dumps([at, list(events)], separators=(",", ":"), ensure_ascii=False)


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
        self._key_claims = f"{self._p}:{{pk}}:claims"
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
        self._delete_older, self._delete_field = script(lua.DELETE_OLDER), script(lua.DELETE_FIELD_IF)

    # -- script calls ---------------------------------------------------------------------
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

    # -- members ----------------------------------------------------------------------------
    # A member change and its log entries live in different slots, so no script or transaction
    # can write both on a Cluster. The change is written with a copy of its entries in a field of
    # the member's own hash (``log_pending:<nonce>``, one per change); the entries are then
    # appended and the field deleted. A crash or a failed append leaves the field, which the
    # hubs claim and log later (``unlogged_member_events``, ``consortium.admin_log``).
    @guarded
    async def add_member(self, member: Member) -> None:
        await self._create_member(member, [])

    @guarded
    async def add_member_logged(
        self, member: Member, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        field, value = _pending_field(), _pending_value(member.updated_at, events)
        await self._create_member(member, [field, value])
        return await self._log_change(member.member_id, field, value, events, after)

    async def _create_member(self, member: Member, extra: list[str | int | bytes]) -> None:
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
            *extra,
        ]
        [(created, *stored)] = await self._run(
            [(self._create, [self._member_key(member.member_id, "member")], [0, *pairs])]
        )
        # Every field as this call wrote it (its times, its own log_pending nonce): the link
        # re-sent this very create after the connection dropped before its reply.
        if not created and stored[0] != [v if isinstance(v, bytes) else str(v).encode() for v in pairs[1::2]]:
            raise AlreadyExists(f"member {member.member_id!r} already exists")

    @guarded
    async def get_member(self, member_id: str) -> Member | None:
        fields = await self._redis.hgetall(self._member_key(member_id, "member"))
        return member_record(member_id, fields) if fields else None

    @guarded
    async def set_member_status(
        self,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        *,
        public_key: bytes | None = None,
    ) -> Member:
        return await self._set_status(member_id, expected, status, reason, at, [], public_key)

    @guarded
    async def set_member_status_logged(
        self,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        events: Sequence[str],
        after: LogCursor,
        *,
        public_key: bytes | None = None,
    ) -> tuple[Member, list[tuple[LogCursor, str]]]:
        field, value = _pending_field(), _pending_value(at, events)
        member = await self._set_status(member_id, expected, status, reason, at, [field, value], public_key)
        return member, await self._log_change(member_id, field, value, events, after)

    async def _set_status(
        self,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        extra: list[str | int | bytes],
        public_key: bytes | None = None,
    ) -> Member:
        args: list[str | int | bytes] = ["status", len(expected), *(str(int(s)) for s in expected)]
        args += ["status", str(int(status)), "status_reason", reason, "updated_at", num(at), *extra]
        if public_key is not None:
            args += ["public_key", public_key]
        key = self._member_key(member_id, "member")
        [result] = await self._run([(self._update, [key], args)])
        if result[0] == 0:
            raise NotFound(f"member {member_id!r} not found")
        if result[0] == 1:
            # The link re-sends a request whose reply was lost: this very change, made already,
            # is found by its own log copy (a nonce), not refused for the status it set.
            if not extra or await self._redis.hget(key, extra[0]) != str(extra[1]).encode():
                raise FailedPrecondition(f"member {member_id!r} is {status_name(int(text(result[1])))}")
            return member_record(member_id, await self._redis.hgetall(key))
        flat = result[1]
        return member_record(member_id, {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})

    async def _log_change(
        self, member_id: str, field: str, value: str, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """Appends a stored change's entries and deletes their copy. The change stands whatever
        happens here: a failed append leaves the copy for a later pass, and the call succeeds."""
        try:
            entries = await self._write_logged((), events, after)
        except Exception as error:  # any failure: the copy is there to retry from
            log.warning(
                "a member change is stored; its log entries wait for the next recovery pass",
                extra={"fields": {"member": member_id, "error": type(error).__name__}},
            )
            return []
        await self._run([(self._delete_field, [self._member_key(member_id, "member")], [field, value])])
        return entries

    @guarded
    async def list_members(self) -> list[Member]:
        return [member_record(m, fields) for m, fields in await self._member_hashes()]

    async def _member_hashes(self) -> list[tuple[str, dict[bytes, bytes]]]:
        """Every listed member's hash, by member id (a dangling id from a crashed add is skipped)."""
        ids = sorted(text(m) for m in await self._redis.smembers(f"{self._p}:members"))
        async with self._redis.pipeline(transaction=False) as pipe:
            for member_id in ids:
                pipe.hgetall(self._member_key(member_id, "member"))
            rows = await pipe.execute()
        return [(m, f) for m, f in zip(ids, rows, strict=True) if f]

    @guarded
    async def unlogged_member_events(self) -> list[UnloggedEvents]:
        found = []
        for member_id, fields in await self._member_hashes():
            for name, raw in fields.items():
                if not text(name).startswith(_PENDING):
                    continue
                try:
                    at, events, *claimed = json.loads(raw)
                    found.append(
                        UnloggedEvents(
                            member_id,
                            tuple(str(e) for e in events),
                            float(at),
                            float(claimed[0]) if claimed else None,
                            json.dumps([text(name), text(raw)], ensure_ascii=False),
                        )
                    )
                except (ValueError, TypeError, IndexError):
                    log.error("an unreadable pending log entry is skipped", extra={"fields": {"member": member_id}})
        return sorted(found, key=lambda u: u.at)

    @guarded
    async def log_member_events(
        self, unlogged: UnloggedEvents, now: float, after: LogCursor
    ) -> list[tuple[LogCursor, str]] | None:
        field, value = json.loads(unlogged.handle)
        claimed = json.dumps([unlogged.at, list(unlogged.events), now], separators=(",", ":"), ensure_ascii=False)
        key = self._member_key(unlogged.member_id, "member")
        [won] = await self._run([(self._cas, [key], [field, value, claimed])])
        if not won:
            return None  # another hub claimed it, or it was logged, since it was read
        entries = await self._write_logged((), unlogged.events, after)
        await self._run([(self._delete_field, [key], [field, claimed])])
        return entries

    # -- applications -----------------------------------------------------------------------
    @staticmethod
    def _stored(app: ApplicationRecord, result: list[Any]) -> tuple[ApplicationRecord, bool]:
        if result[0] == 1:
            return app, True
        return application_record(app.member_id, app.application_ref, result[1]), False

    @guarded
    async def record_application(self, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        [result] = await self._run([self._app_call(app)])
        return self._stored(app, result)

    @guarded
    async def record_logged(
        self, apps: Sequence[ApplicationRecord], events: Sequence[str], after: LogCursor
    ) -> tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]:
        """One round trip: each record's create-if-absent (in request order, so a reference
        repeated in a batch finds the first one), the markers of every token, and the log."""
        tokens = list(dict.fromkeys(k for app in apps for k in app.token_keys))
        markers_of = [("HVALS", f"{self._token_base(k)}:markers") for k in tokens]
        replies = await self._run(
            [self._app_call(app) for app in apps], [*markers_of, *self._log_commands(events, after)]
        )
        n = len(apps)
        markers = {k: sorted_markers(r) for k, r in zip(tokens, replies[n : n + len(tokens)], strict=True) if r}
        snapshots = []
        for app, created in zip(apps, replies[:n], strict=True):
            stored, new = self._stored(app, created)
            found = {k: list(markers[k]) for k in dict.fromkeys(app.token_keys) if k in markers}
            snapshots.append(CheckSnapshot(new, stored.received_at, found, stored.token_keys))
        return snapshots, self._entries(replies[-1])

    @guarded
    async def add_marker_logged(
        self, marker: Marker, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """The id's claim, then the marker and the log in one round trip: they reach Redis
        together, though not as a transaction (a pipeline; on a cluster, several primaries), so
        a command failing between them can still part them, and the hubs' marker
        reconciliation (``consortium.marker_log``) closes that. A crash after the claim leaves
        only the claim: no marker, nothing logged."""
        await self._claim_marker(marker)
        return await self._write_logged(self._marker_writes(marker), events, after)

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
        """One SCAN of the store's keys: deletes the application records received before
        ``before``, each with a per-key script (cluster-safe), and unlinks what is left of the
        per-token application indexes of earlier versions (``{t:<token>}:apps``, ``:seen``,
        ``:apps:<member>``; stacking is folded from the log now), so an upgraded store sheds
        them on its first retention run. On Redis Cluster the scan visits every primary."""
        deleted = 0
        batch: list[Call] = []
        legacy: list[str] = []
        apps, tokens = f"{self._p}:{{m:", f"{self._p}:{{t:"
        async for raw in self._redis.scan_iter(match=f"{self._p}:{{*", count=1000):
            key = text(raw)
            if key.startswith(apps) and "}:app:" in key:
                batch.append((self._delete_older, [key], [num(before)]))
            elif key.startswith(tokens) and not key.endswith("}:markers"):
                legacy.append(key)
            if len(batch) >= 200:
                deleted += sum(int(r) for r in await self._run(batch))
                batch = []
            if len(legacy) >= 200:
                await self._unlink(legacy)
        if batch:
            deleted += sum(int(r) for r in await self._run(batch))
        await self._unlink(legacy)
        return deleted

    async def _unlink(self, keys: list[str]) -> None:
        """UNLINK of single-slot keys, one command each (Cluster routes each to its primary)."""
        if keys:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.unlink(key)
                await pipe.execute()
            keys.clear()

    # -- token walk (re-keying) ----------------------------------------------------------------
    @guarded
    async def token_keys_page(self, prefix: str, cursor: str, limit: int) -> tuple[list[str], str]:
        """Resumable SCANs (``redis_scan``), first of the application records (their token keys,
        read in pipelines), then of the marker hashes of ``prefix`` (``Store.token_keys_page``).
        A page is at least ``limit`` tokens unless a scan ends, each a SCAN of about ``limit`` keys
        from where the last page stopped: a walk visits every key once, whatever its length.
        The cursor is ``<a|m>|<SCAN cursor>|<run_id>|<topology>|<node>`` (``redis_scan``); on a
        cluster, every primary in turn."""
        phase, _, rest = cursor.partition("|")
        position = ScanPosition.decode(rest) if phase in ("a", "m") else None
        if position is None:  # a new walk, or a cursor of an earlier version (a token key)
            phase, position = "a", START
        found: set[str] = set()
        markers = f"{self._p}:{{t:"
        while True:
            if phase == "a":
                raw, after = await scan_step(self._redis, position, f"{self._p}:{{m:*}}:app:*", limit)
                if raw:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for record in raw:
                            pipe.hget(record, "token_keys")
                        for value in await pipe.execute():
                            found.update(t for t in text(value or b"").split() if t.startswith(prefix))
            else:
                raw, after = await scan_step(self._redis, position, f"{markers}{tag(prefix)}*}}:markers", limit)
                for name in map(text, raw):
                    found.add(
                        name[len(markers) : name.index("}", len(markers))].replace("%7D", "}").replace("%25", "%")
                    )
            if after is None:
                if phase == "m":
                    return sorted(found), ""
                phase, after = "m", START
            position = after
            if len(found) >= limit:
                return sorted(found), f"{phase}|{position.encode()}"

    # -- key claims --------------------------------------------------------------------------
    @guarded
    async def claim_public_key(self, public_key: bytes, member_id: str) -> tuple[str, bool]:
        digest = hashlib.sha256(public_key).digest()
        claimed = await self._redis.hsetnx(self._key_claims, digest, member_id)
        return text(await self._redis.hget(self._key_claims, digest)), bool(claimed)

    @guarded
    async def release_public_key(self, public_key: bytes, member_id: str) -> None:
        await self._delete_field(keys=[self._key_claims], args=[hashlib.sha256(public_key).digest(), member_id])

    # -- replay guard ------------------------------------------------------------------------
    @guarded
    async def claim_token_id(self, jti: str, expires_at: float, now: float) -> bool:
        """The claim holds a nonce: a SET redis-py re-sent after losing its reply finds its own
        claim, not a replay."""
        ttl_ms = max(int((expires_at - now) * 1000), 1)
        key, nonce = f"{self._p}:{{j:{tag(jti)}}}", secrets.token_bytes(12)
        if await self._redis.set(key, nonce, nx=True, px=ttl_ms):
            return True
        return bool(await self._redis.get(key) == nonce)

    # -- lifecycle --------------------------------------------------------------------------
    @guarded
    async def ping(self) -> None:
        """Reachable and taking writes. A server at maxmemory under noeviction, refusing writes
        after a failed save (MISCONF), short of min-replicas-to-write, or demoted to a replica
        (READONLY) still answers PING but refuses every Check's record: a short-lived SET on
        every primary makes readiness see it."""
        if self.config.cluster:  # every primary: a lost slot is a store that cannot answer
            await self._redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await self._redis.ping()
        await asyncio.gather(*(self._redis.set(key, b"1", px=PROBE_TTL_MS) for key in self._probe_keys()))

    def _probe_keys(self) -> list[str]:
        """One key on every primary (``{probe:<n>}``, n the first tags routed there): the slot
        map is read anew each probe, so a resharded Cluster is probed where it is now."""
        if not self.config.cluster:
            return [f"{self._p}:{{probe:0}}"]
        owners = self._redis.nodes_manager.slots_cache.values()
        wanted = {nodes[0].name for nodes in owners if nodes}  # a primary without slots takes no key
        keys: dict[str, str] = {}
        for n in range(PROBE_TAG_TRIES):
            key = f"{self._p}:{{probe:{n}}}"
            keys.setdefault(self._redis.get_node_from_key(key).name, key)
            if wanted <= keys.keys():
                break
        return list(keys.values())

    async def close(self) -> None:
        if self._link is not None:
            self._link.close()
        await self._redis.aclose()
