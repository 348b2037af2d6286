"""The key service's SQLite file: key epochs, the evaluation audit, single-use token ids.

Epoch secrets are sealed with AES-256-GCM under the master key (bound to the epoch number), so a
copy of this file alone yields nothing. Retiring an epoch overwrites its sealed secret
(``secure_delete``: freed pages are zeroed, not left in the file). The audit has one row per
Evaluate batch — who, how many elements, which epoch, when — and one per key action; it never
holds an element (the service only ever sees blinded ones anyway).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runtime import oprf
from runtime.config import read_hex_key
from runtime.sqlite_writes import open_sqlite

PENDING, ACTIVE, SUPERSEDED, RETIRED = 1, 2, 3, 4  # lianfang.v1.KeyEpochState

SCHEMA = """
CREATE TABLE IF NOT EXISTS epochs (
  epoch INTEGER PRIMARY KEY, public_key BLOB NOT NULL, sealed_secret BLOB, state INTEGER NOT NULL,
  created_at REAL NOT NULL, activated_at REAL, retired_at REAL
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, principal TEXT NOT NULL,
  action TEXT NOT NULL, epoch INTEGER NOT NULL, count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_principal ON audit (principal, at);
CREATE TABLE IF NOT EXISTS token_ids (jti TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Epoch:
    epoch: int
    public_key: bytes
    state: int
    created_at: float
    activated_at: float | None
    retired_at: float | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: float
    principal: str
    action: str
    epoch: int
    count: int


def read_master_key(path: str) -> bytes:
    """``master_key_file``: the vault's AES-256 key; a ConfigError naming the setting and file."""
    return read_hex_key("master_key_file", path, size_note="32 bytes")


def _aad(epoch: int) -> bytes:
    return b"lianfang-oprf-epoch\x00" + epoch.to_bytes(4, "big")


class Vault:
    def __init__(self, path: str, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)
        self._lock = threading.Lock()
        umask = os.umask(0o077)  # the database and its -wal/-shm files hold sealed secrets
        try:
            self._db = open_sqlite(  # a read-only file refused at start, not at each Evaluate
                path,
                SCHEMA,
                [
                    "PRAGMA journal_mode = WAL",
                    # Every Evaluate appends an audit row on the node's stage-1 path: in WAL mode NORMAL
                    # syncs at checkpoints, not per commit (a power cut may lose the last rows; a
                    # process crash loses none), instead of an fsync per Evaluate.
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA secure_delete = ON",
                ],
            )
        finally:
            os.umask(umask)
        Path(path).chmod(0o600)

    def close(self) -> None:
        self._db.close()

    # -- epochs --------------------------------------------------------------------------------
    def epochs(self) -> list[Epoch]:
        rows = self._db.execute(
            "SELECT epoch, public_key, state, created_at, activated_at, retired_at FROM epochs ORDER BY epoch"
        ).fetchall()
        return [Epoch(*row) for row in rows]

    def get(self, epoch: int) -> Epoch | None:
        return next((e for e in self.epochs() if e.epoch == epoch), None)

    def create(self, pair: oprf.KeyPair, state: int, now: float) -> Epoch:
        with self._lock:
            newest = self._db.execute("SELECT COALESCE(MAX(epoch), 0) FROM epochs").fetchone()[0]
            epoch = int(newest) + 1
            sealed = self._seal(epoch, pair.secret)
            self._db.execute(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (epoch, pair.public, sealed, state, now, now if state == ACTIVE else None),
            )
        created = self.get(epoch)
        assert created is not None
        return created

    def secret(self, epoch: int) -> bytes | None:
        row = self._db.execute("SELECT sealed_secret FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self._aead.decrypt(row[0][:12], row[0][12:], _aad(epoch))

    def check_master_key(self) -> None:
        """Opens every kept secret once: a ValueError when the master key is not the one they were
        sealed with (another vault's, a key file rotated by mistake), which would otherwise start a
        service that answers INTERNAL to every Evaluate."""
        for e in self.epochs():
            try:
                self.secret(e.epoch)
            except InvalidTag:
                raise ValueError(f"it does not open key epoch {e.epoch}'s secret: it is not this vault's key") from None

    def activate(self, epoch: int, now: float) -> None:
        """``epoch`` becomes the one Evaluate uses; the previously active one is superseded."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE epochs SET state = ? WHERE state = ?", (SUPERSEDED, ACTIVE))
            self._db.execute("UPDATE epochs SET state = ?, activated_at = ? WHERE epoch = ?", (ACTIVE, now, epoch))
            self._db.execute("COMMIT")

    def retire(self, epoch: int, now: float) -> None:
        """Destroys the epoch's secret: nothing can evaluate under it or derive Δ from it again."""
        with self._lock:
            self._db.execute(
                "UPDATE epochs SET state = ?, sealed_secret = NULL, retired_at = ? WHERE epoch = ?",
                (RETIRED, now, epoch),
            )
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _seal(self, epoch: int, secret: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret, _aad(epoch))

    # -- audit ---------------------------------------------------------------------------------
    def record(self, principal: str, action: str, epoch: int, count: int, now: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, principal, action, epoch, count) VALUES (?, ?, ?, ?, ?)",
                (now, principal, action, epoch, count),
            )

    def audit(self, principal: str = "", limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT seq, at, principal, action, epoch, count FROM audit"
        args: tuple[object, ...] = ()
        if principal:
            sql, args = sql + " WHERE principal = ?", (principal,)
        rows = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [AuditEntry(*row) for row in rows]

    def evaluated_since(self, since: float) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT principal, SUM(count) FROM audit WHERE action = 'evaluate' AND at >= ? GROUP BY principal",
            (since,),
        ).fetchall()
        return {str(p): int(n) for p, n in rows}

    # -- replay guard --------------------------------------------------------------------------
    def claim_token_id(self, jti: str, expires_at: float, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("DELETE FROM token_ids WHERE expires_at <= ?", (now,))
            return self._db.execute("INSERT OR IGNORE INTO token_ids VALUES (?, ?)", (jti, expires_at)).rowcount == 1
