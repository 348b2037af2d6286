"""SQLite store: the embedded default. One file, WAL mode, zero set-up.

Calls are synchronous inside ``async def``: each is a few tens of microseconds on a local file,
cheaper than a hop to a thread. One connection per store; hub replicas need the Redis store.

A Check (and a whole BatchCheck) is one transaction: the application records, the markers on
their tokens and the consortium-log entries (``Store.record_logged``). ``application_tokens``
lists which tokens each application holds, for the re-keying walk (``token_keys_page``) and
retention; stacking is counted from the log (``consortium.stacking_index``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.members import status_name
from consortium.records import ApplicationRecord, CheckSnapshot, Marker, Member
from consortium.store.base import LogCursor, Store
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from runtime.sqlite_writes import open_sqlite, write_transaction

log = logging.getLogger("lianfang.store.sqlite")

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
  member_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, category TEXT NOT NULL,
  public_key BLOB NOT NULL, status INTEGER NOT NULL, status_reason TEXT NOT NULL,
  created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
  member_id TEXT NOT NULL, application_ref TEXT NOT NULL, received_at REAL NOT NULL,
  token_keys TEXT NOT NULL, applicant_kind INTEGER NOT NULL, product_category TEXT NOT NULL,
  consent_ref TEXT NOT NULL, outcome INTEGER NOT NULL DEFAULT 0, outcome_at REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (member_id, application_ref)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS applications_by_time ON applications (received_at);
CREATE TABLE IF NOT EXISTS application_tokens (
  token_key TEXT NOT NULL, received_at REAL NOT NULL, member_id TEXT NOT NULL,
  application_ref TEXT NOT NULL,
  PRIMARY KEY (token_key, received_at, member_id, application_ref)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS markers (
  marker_id TEXT PRIMARY KEY, filer_member_id TEXT NOT NULL, token_key TEXT NOT NULL,
  marker_type INTEGER NOT NULL, reason_code TEXT NOT NULL, evidence_level INTEGER NOT NULL,
  filed_at REAL NOT NULL, event_ended_at REAL NOT NULL, expires_at REAL, case_ref TEXT NOT NULL,
  withdrawn_at REAL, withdraw_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS markers_by_token ON markers (token_key);
CREATE INDEX IF NOT EXISTS markers_by_filer ON markers (filer_member_id);
CREATE TABLE IF NOT EXISTS token_ids (jti TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS token_ids_by_expiry ON token_ids (expires_at);
CREATE TABLE IF NOT EXISTS public_key_claims (key_sha256 BLOB PRIMARY KEY, member_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consortium_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
"""

_MEMBER_COLUMNS = "member_id, display_name, category, public_key, status, status_reason, created_at, updated_at"
_MARKER_COLUMNS = (
    "marker_id, filer_member_id, token_key, marker_type, reason_code, evidence_level, filed_at, "
    "event_ended_at, expires_at, case_ref, withdrawn_at, withdraw_reason"
)
_APP_COLUMNS = (
    "member_id, application_ref, received_at, token_keys, applicant_kind, product_category, "
    "consent_ref, outcome, outcome_at"
)


@dataclass(frozen=True)
class SqliteStoreConfig:
    """Configuration of the embedded SQLite store."""

    path: str = "lianfang-hub.db"
    """Database file; created with its folder if missing. ":memory:" for throw-away use."""

    busy_timeout_ms: int = 5000
    """How long a writer waits for another process's lock before failing."""


def _member(row: tuple[Any, ...]) -> Member:
    return Member(*row)


def _marker(row: tuple[Any, ...]) -> Marker:
    return Marker(*row)


def _application(row: tuple[Any, ...]) -> ApplicationRecord:
    m, ref, at, keys, kind, cat, consent, outcome, outcome_at = row
    return ApplicationRecord(m, ref, at, tuple(keys.split()), kind, cat, consent, outcome, outcome_at)


def _app_row(app: ApplicationRecord) -> tuple[Any, ...]:
    return (
        app.member_id,
        app.application_ref,
        app.received_at,
        " ".join(app.token_keys),
        app.applicant_kind,
        app.product_category,
        app.consent_ref,
        app.outcome,
        app.outcome_at,
    )


# Checkpoint the WAL into the database file every this many pages (SQLite's default: 1000). A
# Check dirties ~13 pages (eight token rows land in eight leaves), so the default checkpoints
# every ~75 Checks, each paying an fsync and re-copying hot pages; 4000 halves the write cost per
# Check for a WAL file of up to ~16 MB. Durability is unchanged: a commit is durable once in the WAL.
_WAL_AUTOCHECKPOINT_PAGES = 4000
_IN_CHUNK = 500  # tokens per IN (...) list, well under SQLite's limit on bound parameters


class SqliteStore(Store):
    name = "sqlite"

    def __init__(self, config: SqliteStoreConfig) -> None:
        """Opens (or creates) the database and writes to it once (``probe_sqlite_write``): a file
        that is not a database, a folder it cannot be made in, a read-only file raise here
        (sqlite3.Error, OSError; ``consortium.store.registry.store_from_url`` names the setting), not on
        the first Check after the hub reported SERVING."""
        self.config = config
        if config.path != ":memory:":
            Path(config.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = open_sqlite(
            config.path,
            SCHEMA,
            [
                f"PRAGMA busy_timeout = {int(config.busy_timeout_ms)}",
                "PRAGMA journal_mode = WAL",
                # NORMAL in WAL mode: a committed transaction survives a process crash (SIGKILL);
                # only an OS crash or power loss may roll back the last commits.
                "PRAGMA synchronous = NORMAL",
                f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}",
            ],
        )

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction (``runtime.sqlite_writes``): a database the engine cannot write
        now (locked by another process past the busy timeout, disk full, I/O error) is
        Unavailable, the error callers retry; anything else, e.g. a broken statement, stays a
        bug (INTERNAL)."""
        return write_transaction(self._db, log, "store")

    # -- members ---------------------------------------------------------------------------
    async def add_member(self, member: Member) -> None:
        with self._tx() as db:
            self._insert_member(db, member)

    async def add_member_logged(
        self, member: Member, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """The member and its log entries in one transaction."""
        with self._tx() as db:
            self._insert_member(db, member)
            return self._log(db, events, after)

    @staticmethod
    def _insert_member(db: sqlite3.Connection, member: Member) -> None:
        try:
            db.execute(
                f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    member.member_id,
                    member.display_name,
                    member.category,
                    member.public_key,
                    member.status,
                    member.status_reason,
                    member.created_at,
                    member.updated_at,
                ),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"member {member.member_id!r} already exists") from None

    async def get_member(self, member_id: str) -> Member | None:
        row = self._db.execute(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_id = ?", (member_id,)).fetchone()
        return _member(row) if row else None

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
        with self._tx() as db:
            return self._set_status(db, member_id, expected, status, reason, at, public_key)

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
        """The status and its log entries in one transaction."""
        with self._tx() as db:
            member = self._set_status(db, member_id, expected, status, reason, at, public_key)
            return member, self._log(db, events, after)

    @staticmethod
    def _set_status(
        db: sqlite3.Connection,
        member_id: str,
        expected: frozenset[int],
        status: int,
        reason: str,
        at: float,
        public_key: bytes | None = None,
    ) -> Member:
        row = db.execute("SELECT status FROM members WHERE member_id = ?", (member_id,)).fetchone()
        if row is None:
            raise NotFound(f"member {member_id!r} not found")
        if row[0] not in expected:
            raise FailedPrecondition(f"member {member_id!r} is {status_name(int(row[0]))}")
        db.execute(
            "UPDATE members SET status = ?, status_reason = ?, updated_at = ?, public_key = COALESCE(?, public_key)"
            " WHERE member_id = ?",
            (status, reason, at, public_key, member_id),
        )
        return _member(
            db.execute(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_id = ?", (member_id,)).fetchone()
        )

    async def list_members(self) -> list[Member]:
        rows = self._db.execute(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY member_id").fetchall()
        return [_member(r) for r in rows]

    # -- applications ----------------------------------------------------------------------
    async def record_application(self, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        with self._tx() as db:
            return self._record(db, app)

    def _record(self, db: sqlite3.Connection, app: ApplicationRecord) -> tuple[ApplicationRecord, bool]:
        cur = db.execute(
            f"INSERT OR IGNORE INTO applications ({_APP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", _app_row(app)
        )
        new = cur.rowcount == 1
        stored = app
        if not new:
            row = db.execute(
                f"SELECT {_APP_COLUMNS} FROM applications WHERE member_id = ? AND application_ref = ?",
                (app.member_id, app.application_ref),
            ).fetchone()
            stored = _application(row)
        db.executemany(
            "INSERT OR IGNORE INTO application_tokens VALUES (?,?,?,?)",
            [(k, stored.received_at, app.member_id, app.application_ref) for k in dict.fromkeys(stored.token_keys)],
        )
        return stored, new

    async def record_logged(
        self, apps: Sequence[ApplicationRecord], events: Sequence[str], after: LogCursor
    ) -> tuple[list[CheckSnapshot], list[tuple[LogCursor, str]]]:
        """The records, their tokens' markers and the log entries in one transaction."""
        with self._tx() as db:
            markers = self._markers_for(db, list(dict.fromkeys(k for app in apps for k in app.token_keys)))
            snapshots = []
            for app in apps:
                stored, new = self._record(db, app)
                found = {k: list(markers[k]) for k in dict.fromkeys(app.token_keys) if k in markers}
                snapshots.append(CheckSnapshot(new, stored.received_at, found, stored.token_keys))
            entries = self._log(db, events, after)
        return snapshots, entries

    @staticmethod
    def _log(db: sqlite3.Connection, events: Sequence[str], after: LogCursor) -> list[tuple[LogCursor, str]]:
        db.executemany("INSERT INTO consortium_log (event) VALUES (?)", [(e,) for e in events])
        rows = db.execute("SELECT seq, event FROM consortium_log WHERE seq > ? ORDER BY seq", (after[0],)).fetchall()
        return [((seq, 0), event) for seq, event in rows]

    async def get_application(self, member_id: str, application_ref: str) -> ApplicationRecord | None:
        row = self._db.execute(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE member_id = ? AND application_ref = ?",
            (member_id, application_ref),
        ).fetchone()
        return _application(row) if row else None

    async def set_outcome(self, member_id: str, application_ref: str, outcome: int, at: float) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE applications SET outcome = ?, outcome_at = ? WHERE member_id = ? AND application_ref = ?",
                (outcome, at, member_id, application_ref),
            )
            if cur.rowcount == 0:
                raise NotFound(f"application {application_ref!r} was never checked by this member")

    async def purge_applications(self, before: float) -> int:
        with self._tx() as db:
            db.execute("DELETE FROM application_tokens WHERE received_at < ?", (before,))
            return db.execute("DELETE FROM applications WHERE received_at < ?", (before,)).rowcount

    # -- markers ---------------------------------------------------------------------------
    async def add_marker(self, marker: Marker) -> None:
        with self._tx() as db:
            self._insert_marker(db, marker)

    async def add_marker_logged(
        self, marker: Marker, events: Sequence[str], after: LogCursor
    ) -> list[tuple[LogCursor, str]]:
        """The marker and its log entries in one transaction."""
        with self._tx() as db:
            self._insert_marker(db, marker)
            return self._log(db, events, after)

    @staticmethod
    def _insert_marker(db: sqlite3.Connection, marker: Marker) -> None:
        try:
            db.execute(
                f"INSERT INTO markers ({_MARKER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    marker.marker_id,
                    marker.filer_member_id,
                    marker.token_key,
                    marker.marker_type,
                    marker.reason_code,
                    marker.evidence_level,
                    marker.filed_at,
                    marker.event_ended_at,
                    marker.expires_at,
                    marker.case_ref,
                    marker.withdrawn_at,
                    marker.withdraw_reason,
                ),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"marker {marker.marker_id!r} already exists") from None

    async def get_marker(self, marker_id: str) -> Marker | None:
        row = self._db.execute(f"SELECT {_MARKER_COLUMNS} FROM markers WHERE marker_id = ?", (marker_id,)).fetchone()
        return _marker(row) if row else None

    async def withdraw_marker(self, marker_id: str, at: float, reason: str) -> Marker:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE markers SET withdraw_reason = CASE WHEN withdrawn_at IS NULL THEN ? ELSE withdraw_reason END,"
                " withdrawn_at = COALESCE(withdrawn_at, ?) WHERE marker_id = ?",
                (reason, at, marker_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"marker {marker_id!r} not found")
            row = db.execute(f"SELECT {_MARKER_COLUMNS} FROM markers WHERE marker_id = ?", (marker_id,)).fetchone()
        return _marker(row)

    async def markers_for_tokens(self, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        return self._markers_for(self._db, list(dict.fromkeys(token_keys)))

    @staticmethod
    def _markers_for(db: sqlite3.Connection, token_keys: Sequence[str]) -> dict[str, list[Marker]]:
        out: dict[str, list[Marker]] = {}
        for start in range(0, len(token_keys), _IN_CHUNK):
            chunk = token_keys[start : start + _IN_CHUNK]
            for row in db.execute(
                f"SELECT {_MARKER_COLUMNS} FROM markers WHERE token_key IN ({','.join('?' * len(chunk))})", chunk
            ):
                marker = _marker(row)
                out.setdefault(marker.token_key, []).append(marker)
        return out

    async def purge_markers(self, now: float) -> list[Marker]:
        with self._tx() as db:
            expired = "FROM markers WHERE expires_at IS NOT NULL AND expires_at <= ?"
            purged = [_marker(r) for r in db.execute(f"SELECT {_MARKER_COLUMNS} {expired}", (now,))]
            db.execute(f"DELETE {expired}", (now,))
            return purged

    async def markers_by_filer(self, member_id: str) -> list[Marker]:
        rows = self._db.execute(
            f"SELECT {_MARKER_COLUMNS} FROM markers WHERE filer_member_id = ? ORDER BY filed_at, marker_id",
            (member_id,),
        ).fetchall()
        return [_marker(r) for r in rows]

    # -- consortium log --------------------------------------------------------------------------
    # Writers serialise on the database lock and AUTOINCREMENT never reuses a seq, so a reader
    # that has seen seq n has seen every entry before it: the seq is the cursor.
    async def append_log_events(self, events: Sequence[str], after: LogCursor) -> list[tuple[LogCursor, str]]:
        with self._tx() as db:
            return self._log(db, events, after)

    async def log_events(self, after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        rows = self._db.execute(
            "SELECT seq, event FROM consortium_log WHERE seq > ? ORDER BY seq LIMIT ?", (after[0], limit)
        ).fetchall()
        return [((seq, 0), event) for seq, event in rows]

    # -- token walk (re-keying) ----------------------------------------------------------------
    async def token_keys_page(self, prefix: str, cursor: str, limit: int) -> tuple[list[str], str]:
        """Range scans of both tables' token indexes, ascending; the cursor is the page's last
        key, so an earlier version's cursor (the same) resumes too (``Store.token_keys_page``)."""
        if not cursor.startswith(prefix):
            cursor = ""  # not a key of this walk: start it over
        low, high = max(cursor, prefix), prefix + "~"  # '~' sorts after every key character
        rows = self._db.execute(
            "SELECT token_key FROM (SELECT token_key FROM application_tokens WHERE token_key > ? AND token_key < ?"
            " UNION SELECT token_key FROM markers WHERE token_key > ? AND token_key < ?)"
            " ORDER BY token_key LIMIT ?",
            (low, high, low, high, limit),
        ).fetchall()
        keys = [str(r[0]) for r in rows]
        return keys, keys[-1] if len(keys) == limit else ""

    # -- key claims --------------------------------------------------------------------------
    async def claim_public_key(self, public_key: bytes, member_id: str) -> tuple[str, bool]:
        digest = hashlib.sha256(public_key).digest()
        with self._tx() as db:
            claimed = db.execute("INSERT OR IGNORE INTO public_key_claims VALUES (?, ?)", (digest, member_id))
            (holder,) = db.execute("SELECT member_id FROM public_key_claims WHERE key_sha256 = ?", (digest,)).fetchone()
        return str(holder), claimed.rowcount == 1

    async def release_public_key(self, public_key: bytes, member_id: str) -> None:
        digest = hashlib.sha256(public_key).digest()
        with self._tx() as db:
            db.execute("DELETE FROM public_key_claims WHERE key_sha256 = ? AND member_id = ?", (digest, member_id))

    # -- replay guard ------------------------------------------------------------------------
    async def claim_token_id(self, jti: str, expires_at: float, now: float) -> bool:
        with self._tx() as db:
            db.execute("DELETE FROM token_ids WHERE jti = ? AND expires_at <= ?", (jti, now))
            claimed = db.execute("INSERT OR IGNORE INTO token_ids VALUES (?, ?)", (jti, expires_at)).rowcount == 1
            if claimed and secrets.randbelow(256) == 0:  # now and then, forget expired claims
                db.execute("DELETE FROM token_ids WHERE expires_at <= ?", (now,))
        return claimed

    # -- lifecycle -------------------------------------------------------------------------
    async def ping(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise Unavailable("sqlite store unreachable") from exc

    async def close(self) -> None:
        self._db.close()
