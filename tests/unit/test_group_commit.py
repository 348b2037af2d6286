"""GroupCommit: what arrives while a flush is in flight goes to the store together, in order."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from consortium.group_commit import GroupCommit


class Recorder:
    """A flush that records each group and holds it until released."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.gate = asyncio.Event()
        self.fail_on: str | None = None

    async def flush(self, group: list[str]) -> None:
        self.groups.append(list(group))
        await self.gate.wait()
        if self.fail_on in group:
            raise RuntimeError(f"store refused {self.fail_on}")


def one(_: str) -> int:
    return 1


async def test_a_lone_submission_goes_at_once_and_alone() -> None:
    r = Recorder()
    r.gate.set()
    commit = GroupCommit(r.flush, one)
    await commit.submit("a")
    await commit.submit("b")
    assert r.groups == [["a"], ["b"]]
    assert commit.flushes == 2


async def test_submissions_during_a_flush_form_the_next_group_in_order() -> None:
    r = Recorder()
    commit = GroupCommit(r.flush, one)
    first = asyncio.ensure_future(commit.submit("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert r.groups == [["a"]]  # in flight, holding the store
    later = [asyncio.ensure_future(commit.submit(x)) for x in "bcd"]
    await asyncio.sleep(0)
    assert r.groups == [["a"]]  # waiting for the flush in flight
    r.gate.set()
    await asyncio.gather(first, *later)
    assert r.groups == [["a"], ["b", "c", "d"]]


async def test_a_group_holds_at_most_max_size_units_but_a_big_item_still_goes() -> None:
    r = Recorder()
    commit = GroupCommit(r.flush, len, max_size=4)
    first = asyncio.ensure_future(commit.submit("x"))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(commit.submit(x)) for x in ("aa", "bb", "c", "dddddd", "e")]
    await asyncio.sleep(0)
    r.gate.set()
    await asyncio.gather(first, *waiting)
    assert r.groups == [["x"], ["aa", "bb"], ["c"], ["dddddd"], ["e"]]


async def test_a_failed_flush_fails_its_whole_group_and_the_next_group_still_goes() -> None:
    r = Recorder()
    r.fail_on = "b"
    commit = GroupCommit(r.flush, one)
    first = asyncio.ensure_future(commit.submit("a"))
    await asyncio.sleep(0)
    b, c = asyncio.ensure_future(commit.submit("b")), asyncio.ensure_future(commit.submit("c"))
    await asyncio.sleep(0)
    r.gate.set()
    await first
    for waiter in (b, c):
        with pytest.raises(RuntimeError, match="store refused b"):
            await waiter
    await commit.submit("d")  # the committer is not stuck after a failure
    assert r.groups == [["a"], ["b", "c"], ["d"]]


async def test_a_caller_that_gives_up_leaves_its_item_in_the_group_and_the_others_answered() -> None:
    r = Recorder()
    commit = GroupCommit(r.flush, one)
    first = asyncio.ensure_future(commit.submit("a"))
    await asyncio.sleep(0)
    quitter, stayer = asyncio.ensure_future(commit.submit("b")), asyncio.ensure_future(commit.submit("c"))
    await asyncio.sleep(0)
    quitter.cancel()  # e.g. the client's deadline passed
    r.gate.set()
    await asyncio.gather(first, stayer)
    assert quitter.cancelled()
    assert r.groups == [["a"], ["b", "c"]]  # already on its way to the store, like a sent request


async def test_the_flush_does_not_run_in_the_context_of_the_call_that_started_it() -> None:
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller")
    seen: list[str] = []

    async def flush(group: list[str]) -> None:
        seen.append(caller.get("nobody"))

    caller.set("the first caller")
    await GroupCommit(flush, one).submit("a")
    assert seen == ["nobody"]  # a group serves many calls: none of them is "the" caller
