"""The node's SQLite writes when the database cannot take them (disk full, a read-only file,
another process holding the lock): UNAVAILABLE with the cause in the log, nothing half-written,
and the same connection writing again once the cause is gone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from node.origination.store import NodeStore
from runtime.errors import Unavailable


def test_a_database_that_cannot_be_written_is_unavailable_until_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = NodeStore(str(tmp_path / "node.db"))
    store._db.execute("PRAGMA query_only = ON")  # writes now fail as on a read-only file: SQLITE_READONLY
    with (
        caplog.at_level(logging.WARNING, logger="lianfang.node.store"),
        pytest.raises(Unavailable),
        store.transaction() as db,
    ):
        db.execute("INSERT INTO records VALUES ('note', 'k', 'app_1', 'v')")
    assert "SQLITE_READONLY" in caplog.records[-1].__dict__["fields"]["error"]
    store._db.execute("PRAGMA query_only = OFF")
    with store.transaction() as db:  # nothing left open: the connection writes again
        db.execute("INSERT INTO records VALUES ('note', 'k', 'app_1', 'v')")
    assert store.query("SELECT body FROM records WHERE record_id = 'k'") == [("v",)]


def test_a_broken_statement_stays_a_bug(tmp_path: Path) -> None:
    store = NodeStore(str(tmp_path / "node.db"))
    with pytest.raises(Exception) as raised, store.transaction() as db:
        db.execute("INSERT INTO no_such_table VALUES (1)")
    assert not isinstance(raised.value, Unavailable)
    with store.transaction() as db:
        db.execute("INSERT INTO records VALUES ('note', 'k', 'app_1', 'v')")
