"""WatchBook as a fold: idempotent on repeated events, bounded memory, and one shared read of the
log's tail for every stream polling it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lianfang.v1 import common_pb2, consortium_pb2

from consortium.store.base import LOG_START, LogCursor
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from consortium.watch import WatchBook, ack_event, watch_event
from runtime.clock import ManualClock

RID = f"1.{common_pb2.TOKEN_TYPE_RESIDENT_ID}.1.aa01"
PHONE = f"1.{common_pb2.TOKEN_TYPE_PHONE}.1.bb02"


class Feed:
    """Folds events into a book at increasing cursors, as the log would hand them out."""

    def __init__(self, book: WatchBook) -> None:
        self.book, self.n = book, 0

    def __call__(self, *event: Any) -> LogCursor:
        self.n += 1
        cursor = (self.n, 0)
        text = json.dumps(list(event))
        self.book.observe(cursor, text, json.loads(text))
        return cursor

    def text(self, text: str) -> LogCursor:
        self.n += 1
        self.book.observe((self.n, 0), text, json.loads(text))
        return (self.n, 0)


def watch(feed: Feed, member: str, ref: str, *tokens: str, on: bool = True) -> None:
    feed.text(watch_event(member, ref, tokens, on, 1.0))


def kinds(book: WatchBook, member: str) -> list[int]:
    return [a.kind for a in book.after(member, LOG_START)]


def test_a_repeated_marker_event_raises_one_alert() -> None:
    book = WatchBook()
    feed = Feed(book)
    watch(feed, "a", "loan-1", RID)
    filing = ["m", RID, 1, "b", 100.0]
    feed(*filing)
    feed(*filing)  # the same filing twice in the log (an append retried after a lost connection)
    assert kinds(book, "a") == [consortium_pb2.ALERT_KIND_MARKER_FILED]
    feed("m", RID, 1, "c", 101.0)  # another member's marker is news
    assert len(book.after("a", LOG_START)) == 2
    feed("m", RID, 0, "")  # every marker withdrawn ...
    feed(*filing)  # ... and filed again: news again
    assert len(book.after("a", LOG_START)) == 3


def test_co_debt_state_goes_with_the_last_watch() -> None:
    book = WatchBook()
    feed = Feed(book)
    watch(feed, "a", "loan-1", RID)
    watch(feed, "c", "loan-3", RID, PHONE)
    feed("a", "b", "b-app", 100.0, [RID], None)
    assert set(book._co_debt) == {("b", "b-app")}
    watch(feed, "a", "loan-1", on=False)
    assert set(book._co_debt) == {("b", "b-app")}  # c still watches that borrower
    watch(feed, "c", "loan-3", on=False)
    assert book._co_debt == {} and book._hits_of == {} and book.by_token == {} and book._markers == {}
    feed("o", "b", "b-app", common_pb2.OUTCOME_FUNDED, 200.0)
    assert kinds(book, "a") == [consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION]  # nothing for an ended watch


def test_retention_drops_what_the_book_kept_on_purged_applications() -> None:
    book = WatchBook()
    feed = Feed(book)
    watch(feed, "a", "loan-1", RID)
    feed("a", "b", "old", 100.0, [RID], None)
    feed("a", "b", "new", 300.0, [RID], None)
    feed("r", 200.0)
    assert set(book._co_debt) == {("b", "new")}
    assert book._hits_of == {("a", "loan-1"): {("b", "new")}}
    feed("o", "b", "old", common_pb2.OUTCOME_FUNDED, 400.0)  # purged: unknown now
    feed("o", "b", "new", common_pb2.OUTCOME_FUNDED, 400.0)
    assert kinds(book, "a") == [
        consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION,
        consortium_pb2.ALERT_KIND_CO_DEBT_APPLICATION,
        consortium_pb2.ALERT_KIND_CO_DEBT_FUNDED,
    ]


def test_pending_alerts_are_capped_per_member_oldest_dropped() -> None:
    book = WatchBook(max_pending=3)
    feed = Feed(book)
    watch(feed, "a", "loan-1", RID)
    watch(feed, "c", "loan-3", RID)
    cursors = [feed("a", "b", f"b-{i}", 100.0 + i, [RID], None) for i in range(5)]
    assert [x.cursor for x in book.after("a", LOG_START)] == cursors[2:]
    assert book.dropped == {"a": 2, "c": 2}
    feed.text(ack_event("c", cursors[-1]))
    assert "c" not in book.pending and book.dropped["c"] == 2


class CountingStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(SqliteStoreConfig(path=str(path)))
        self.reads = 0

    async def log_events(self, after: LogCursor, limit: int) -> list[tuple[LogCursor, str]]:
        self.reads += 1
        await asyncio.sleep(0)  # a real read yields to the loop: the other streams arrive meanwhile
        return await super().log_events(after, limit)


async def test_streams_polling_together_share_one_read_of_the_log(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "hub.db")
    clock = ManualClock(0.0)
    try:
        await store.append_log_events([watch_event("a", "loan-1", [RID], True, 1.0)], LOG_START)
        book = WatchBook(monotonic=clock)
        await asyncio.gather(*(book.refresh(store, max_age=0.25) for _ in range(8)))  # 8 streams wake together
        assert store.reads == 1 and book.is_watching("a", "loan-1")
        clock.advance(0.1)
        await asyncio.gather(*(book.refresh(store, max_age=0.25) for _ in range(8)))  # stragglers of that round
        assert store.reads == 1
        await store.append_log_events([json.dumps(["a", "b", "b-1", 2.0, [RID], None])], book.cursor)
        clock.advance(0.4)  # the next round
        await asyncio.gather(*(book.refresh(store, max_age=0.25) for _ in range(8)))
        assert store.reads == 2 and len(book.after("a", LOG_START)) == 1
        await book.refresh(store)  # max_age 0 (a stream's first catch-up): always a read of its own
        assert store.reads == 3

        async def leaves() -> None:
            await book.refresh(store)

        clock.advance(1.0)
        gone = asyncio.create_task(leaves())
        await asyncio.sleep(0)
        stays = asyncio.create_task(book.refresh(store, max_age=0.25))
        gone.cancel()  # one stream going away does not cancel the read the others wait on
        await stays
        assert store.reads == 4
    finally:
        await store.close()
