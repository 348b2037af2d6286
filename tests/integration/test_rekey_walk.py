"""OPRF re-keying's walk of the store (``consortium.rekey``) on SQLite and real Redis: every stored
epoch-e element is linked to its epoch-e+1 form, a store page larger than the re-keyer's page
is logged in events of at most a page, and a run that already walked the store does not walk it
again. The hub-level switch (both epochs answering, canaries) is tests/integration/test_oprf_mode.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from lianfang.v1 import common_pb2

from consortium.records import ApplicationRecord, Marker, token_key
from consortium.rekey import WALKED, Rekeyer, RekeyProgress, rekey_event
from consortium.store.base import LOG_START, Store
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from runtime import oprf

T0 = 1_767_225_600.0
OPRF = common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512
PAGE = 4


def _element(i: int) -> bytes:
    return oprf.hash_to_group(f"identifier {i}".encode(), oprf.MODE_VOPRF)


def _old(i: int, token_type: int = common_pb2.TOKEN_TYPE_PHONE) -> str:
    return token_key(OPRF, token_type, 1, _element(i))


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    if request.param == "sqlite":
        return lambda: SqliteStore(SqliteStoreConfig(path=str(tmp_path / "hub.db")))
    url = request.getfixturevalue("redis_url")
    return lambda: RedisStore(RedisStoreConfig(url=url))


async def _fill(store: Store) -> set[str]:
    """30 applications of three epoch-1 elements, an epoch-2 one and an HMAC token; a marker."""
    olds: set[str] = set()
    for i in range(30):
        keys = (_old(3 * i), _old(3 * i + 1), _old(3 * i + 2, common_pb2.TOKEN_TYPE_DEVICE_ID))
        olds.update(keys)
        newer = token_key(OPRF, common_pb2.TOKEN_TYPE_PHONE, 2, _element(1000 + i))  # not re-keyed
        hmac = token_key(common_pb2.TOKEN_SCHEME_HMAC_SHA256_128, common_pb2.TOKEN_TYPE_PHONE, 1, bytes([i]) * 16)
        await store.record_logged([ApplicationRecord("m1", f"r{i}", T0 + i, (*keys, newer, hmac))], [], LOG_START)
    held = _old(999)
    marker = Marker("mk1", "m1", held, common_pb2.MARKER_TYPE_SUSPECT, "SUSPECT_X", 0, T0, T0, None, "")
    await store.add_marker(marker)
    return olds | {held}


def test_a_rekey_links_every_stored_element_in_events_of_at_most_a_page(open_store: Callable[[], Store]) -> None:
    async def main() -> None:
        store = open_store()
        try:
            olds = await _fill(store)
            delta = oprf.rotation_delta(oprf.random_scalar(), oprf.random_scalar())
            rekeyer = Rekeyer(store, delta, 1, 2, page=PAGE)
            report = await rekeyer.run(finish=False)
            assert report.linked == len(olds) and report.passes == [len(olds)]
            linked = {old: new for new, old in rekeyer.aliases.canonical.items()}
            assert set(linked) == olds  # every stored epoch-1 element, and nothing else
            for old, new in linked.items():
                element = bytes.fromhex(old.split(".")[3])
                assert new == token_key(OPRF, int(old.split(".")[1]), 2, oprf.mul(delta, element))

            events = [json.loads(e) for _, e in await store.log_events(LOG_START, 10_000)]
            rk = [e for e in events if e[0] == "rk"]
            assert all(len(e[4]) <= PAGE for e in rk)  # a store page of more is logged a page at a time
            assert sum(len(e[4]) for e in rk) == len(olds) and rk[-1][3] == WALKED

            again = await Rekeyer(store, delta, 1, 2, page=PAGE).run(finish=False)  # a rerun: resumes
            assert again.linked == 0
            after = [json.loads(e) for _, e in await store.log_events(LOG_START, 10_000)]
            assert len(after) == len(events)  # the walk was done: not walked (nor logged) again
        finally:
            await store.close()

    asyncio.run(main())


def test_progress_resumes_from_the_latest_cursor_logged() -> None:
    """Store cursors are opaque (a Redis SCAN position is not ordered like the keys it visits):
    a resumed run starts after the last page logged, not the greatest cursor."""
    progress = RekeyProgress()
    for n, cursor in enumerate(["a|9|", "a|10|", ""]):
        progress.observe((n + 1, 0), "", json.loads(rekey_event(1, 2, cursor, [])))
    assert progress.cursors[(1, 2)] == "a|10|"  # an alias page ("") leaves the cursor alone
