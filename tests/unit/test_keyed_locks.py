"""KeyedLocks: one holder per key however callers arrive, other keys never wait, nothing kept."""

from __future__ import annotations

import asyncio

from node.keyed_locks import KeyedLocks


def test_callers_of_one_key_run_one_at_a_time_whenever_they_arrive() -> None:
    async def main() -> None:
        locks = KeyedLocks()
        running = {"a": 0, "b": 0}
        most = {"a": 0, "b": 0}

        async def call(key: str, start: float) -> None:
            await asyncio.sleep(start)
            async with locks.hold(key):
                running[key] += 1
                most[key] = max(most[key], running[key])
                await asyncio.sleep(0.02)
                running[key] -= 1

        # arrivals while the lock is held, at the moment it is released, and after
        starts = [0.0, 0.01, 0.02, 0.021, 0.04, 0.041, 0.06, 0.1, 0.15]
        await asyncio.gather(*(call("a", s) for s in starts), *(call("b", s) for s in starts[:3]))
        assert most == {"a": 1, "b": 1}
        assert len(locks) == 0  # no lock kept once nobody holds or waits

    asyncio.run(main())


def test_a_key_is_free_for_others_while_another_key_is_held() -> None:
    async def main() -> None:
        locks = KeyedLocks()
        async with locks.hold("a"):
            await asyncio.wait_for(_enter(locks, "b"), timeout=1)

    async def _enter(locks: KeyedLocks, key: str) -> None:
        async with locks.hold(key):
            pass

    asyncio.run(main())
