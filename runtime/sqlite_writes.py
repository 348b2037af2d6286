"""SQLite as the hub's store, the node's database and the key service's vault open it
(``open_sqlite``), and one write transaction, as the hub's store and the node's both run them.

A database the engine cannot write *now* — locked by another process past the busy timeout,
disk full, I/O error, read-only — is ``Unavailable`` (UNAVAILABLE to callers, who retry later;
the SQLite cause goes to the log, not to them). Any other SQLite error, e.g. a broken statement,
stays what it is: a bug, answered INTERNAL. A failed COMMIT is rolled back, so the connection
is usable again once the cause is gone (a transaction left open would refuse every later BEGIN).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from runtime.errors import Unavailable

CANNOT_WRITE_NOW = frozenset({5, 6, 8, 10, 13, 14})
"""Primary result codes of a database that cannot be written now: BUSY, LOCKED, READONLY,
IOERR, FULL, CANTOPEN."""


def unavailable_or(exc: sqlite3.Error, log: logging.Logger, what: str) -> Exception:
    """``Unavailable`` for a database that cannot be written now (logged with its cause), else
    ``exc`` itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in CANNOT_WRITE_NOW:
        return exc
    log.warning(f"sqlite {what} cannot write", extra={"fields": {"error": getattr(exc, "sqlite_errorname", "")}})
    return Unavailable(f"{what} unavailable")


@contextmanager
def write_transaction(db: sqlite3.Connection, log: logging.Logger, what: str) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT on ``db`` (opened with ``isolation_level=None``); every write
    inside commits together or not at all. ``what`` names the database in the log and errors."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise unavailable_or(exc, log, what) from exc
    try:
        yield db
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise unavailable_or(exc, log, what) from exc
        raise


def probe_sqlite_write(db: sqlite3.Connection) -> None:
    """Writes page 1 of the SQLite database ``db`` (opened with ``isolation_level=None``) in a
    transaction it rolls back: raises the sqlite3 error of a database that cannot be written —
    a read-only file, folder or mount — so that a process refuses it at start instead of serving
    and failing every write. A write lock another process holds past the busy timeout is no such
    problem (BUSY, LOCKED): it passes. (``BEGIN IMMEDIATE`` alone succeeds on a read-only file.)"""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"PRAGMA user_version = {int(version)}")
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF not in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
            raise
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")


def open_sqlite(
    path: str,
    schema: str,
    pragmas: Sequence[str],
    *,
    timeout: float = 5.0,
    prepare: Callable[[sqlite3.Connection], None] | None = None,
) -> sqlite3.Connection:
    """The one connection a process keeps to the SQLite database at ``path``: autocommit
    (``isolation_level=None``: writes go in explicit transactions, ``write_transaction``), usable
    from any thread, ``timeout`` seconds' wait for another connection's lock. Then, in order, the
    caller's ``pragmas`` (each its own statement: WAL, synchronous, ...), ``schema``, ``prepare``
    (a migration) and ``probe_sqlite_write``: a file that is no database, or that cannot be
    written, raises its sqlite3 error here, at start, and the connection is closed."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        for pragma in pragmas:
            db.execute(pragma)
        db.executescript(schema)
        if prepare is not None:
            prepare(db)
        probe_sqlite_write(db)
    except BaseException:
        db.close()
        raise
    return db
