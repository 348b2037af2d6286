"""The Authenticator's member cache against a real SQLite store: a token names its subject
before its signature is checked, so made-up subjects must not grow the cache without bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consortium.auth import Authenticator
from consortium.policy import Scope
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from runtime.errors import Unauthenticated
from tests.support.consortium import raw_jwt


def test_made_up_subjects_are_refused_and_the_member_cache_stays_bounded(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(SqliteStoreConfig(path=str(tmp_path / "hub.db")))
        auth = Authenticator(store, {}, verified_cache_size=50)
        try:
            key = Ed25519PrivateKey.generate()
            for i in range(200):
                with pytest.raises(Unauthenticated):
                    await auth.authenticate(raw_jwt(key, f"lender-made-up-{i}"), Scope.QUERY)
            assert len(auth._member_cache) == 50  # the most recent subjects only
        finally:
            await store.close()

    asyncio.run(main())
