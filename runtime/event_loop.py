"""The event loop a server runs on: uvloop when installed (the default), else asyncio's own.

Why: a hub Check awaits its store round trip on the event loop, so the loop's own overhead
(selector, transports, futures, task wake-ups) is paid on every Check; uvloop does that work in C
and cut the hub's CPU per Check by about a fifth on the benchmark (bench/check.py records which
loop it measured). grpc.aio runs on either. ``asyncio`` stays selectable for platforms without
uvloop and for debugging (asyncio's debug mode).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(name: str) -> str:
    """The loop ``name`` means here: ``auto`` is uvloop when it is installed, else asyncio."""
    if name not in EVENT_LOOPS:
        raise ValueError(f"event_loop must be one of {', '.join(EVENT_LOOPS)}, not {name!r}")
    if name == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    if name == "uvloop" and not uvloop_available():
        raise ValueError("event_loop 'uvloop' is not installed (pip install uvloop), use 'asyncio'")
    return name


def run(main: Coroutine[Any, Any, T], event_loop: str = "auto") -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    if resolve(event_loop) == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)
