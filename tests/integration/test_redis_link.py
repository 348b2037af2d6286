"""The Redis store's lean link (consortium/store/redis_link.py) against a real redis-server:
replies in order under concurrency, error replies in place, cancellation without desync,
reconnection, timeouts, AUTH/SELECT, unix sockets, and the URLs it leaves to redis-py."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
import redis
from redis import exceptions as rx

from consortium.store import redis_link
from consortium.store.redis_link import RedisLink, open_link
from tests.support.redis_process import RedisProcess


def link_for(url: str, timeout: float = 2.0) -> RedisLink:
    link = open_link(url, timeout)
    assert link is not None
    return link


def test_concurrent_requests_get_their_own_replies(redis_url: str) -> None:
    async def main() -> None:
        link = link_for(redis_url)
        try:

            async def one(i: int) -> list[object]:
                return await link.execute([("SET", f"k{i}", f"v{i}"), ("GET", f"k{i}"), ("ECHO", "贷款" * (i % 50))])

            results = await asyncio.gather(*(one(i) for i in range(300)))
            for i, replies in enumerate(results):
                assert replies == [b"OK", f"v{i}".encode(), ("贷款" * (i % 50)).encode()]
        finally:
            link.close()

    asyncio.run(main())


def test_error_replies_come_back_in_place(redis_url: str) -> None:
    async def main() -> None:
        link = link_for(redis_url)
        try:
            replies = await link.execute(
                [("SET", "s", "x"), ("EVALSHA", "0" * 40, 0), ("ZADD", "s", 1, "m"), ("EVAL", "return {1, 'a'}", 0)]
            )
            assert replies[0] == b"OK" and replies[3] == [1, b"a"]
            assert isinstance(replies[1], rx.NoScriptError)
            assert isinstance(replies[2], rx.ResponseError) and "WRONGTYPE" in str(replies[2])
        finally:
            link.close()

    asyncio.run(main())


def test_a_cancelled_request_leaves_the_connection_in_step(redis_url: str) -> None:
    async def main() -> None:
        link = link_for(redis_url)
        try:
            blocked = asyncio.create_task(link.execute([("BLPOP", "nothing", 0.3)]))
            await asyncio.sleep(0.05)
            blocked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocked
            # the BLPOP's late reply (nil) is skipped: the next caller gets its own
            assert await link.execute([("ECHO", "mine")]) == [b"mine"]
        finally:
            link.close()

    asyncio.run(main())


def test_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "r").start()

    async def main() -> None:
        link = link_for(server.url)
        try:
            assert await link.execute([("SET", "a", "1")]) == [b"OK"]
            server.kill()  # kill -9: the connection drops
            server.start()
            assert await link.execute([("ECHO", "back")]) == [b"back"]  # one retry, new connection
        finally:
            link.close()

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_a_dead_server_fails_fast_and_a_hung_one_within_twice_the_timeout(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "r").start()

    async def main() -> None:
        link = link_for(server.url, timeout=0.3)
        try:
            await link.execute([("PING",)])
            server.kill(signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(rx.TimeoutError):
                await link.execute([("PING",)])
            assert time.monotonic() - started < 1.0
        finally:
            link.close()
            server.kill(signal.SIGCONT)
        server.stop()
        with pytest.raises(rx.ConnectionError):
            await link_for(server.url).execute([("PING",)])

    try:
        asyncio.run(main())
    finally:
        server.kill(signal.SIGCONT)
        server.stop()


def test_password_username_and_database_from_the_url(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "r").start()
    admin = redis.Redis(port=server.port)
    admin.execute_command("ACL", "SETUSER", "hub", "on", ">h-pass", "~*", "+@all")
    admin.config_set("requirepass", "s3cret")
    admin.close()

    async def main() -> None:
        base = f"127.0.0.1:{server.port}"
        for url, db in ((f"redis://:s3cret@{base}/3", 3), (f"redis://hub:h-pass@{base}/5", 5)):
            link = link_for(url)
            try:
                assert await link.execute([("SET", "where", f"db{db}")]) == [b"OK"]
            finally:
                link.close()
        wrong = link_for(f"redis://:nope@127.0.0.1:{server.port}/0")
        with pytest.raises(rx.AuthenticationError):
            await wrong.execute([("PING",)])

    try:
        asyncio.run(main())
        client = redis.Redis(port=server.port, password="s3cret", db=3)
        assert client.get("where") == b"db3"
        assert client.execute_command("SELECT", 5) and client.get("where") == b"db5"
        client.close()
    finally:
        server.stop()


def test_a_caller_cancelled_while_connecting_does_not_fail_the_others(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "r").start()
    admin = redis.Redis(port=server.port)
    admin.config_set("requirepass", "pw")
    admin.close()

    async def main() -> None:
        link = link_for(f"redis://:pw@127.0.0.1:{server.port}/1", timeout=5.0)
        try:
            server.kill(signal.SIGSTOP)  # TCP connects (kernel backlog); AUTH waits
            first = asyncio.create_task(link.execute([("ECHO", "first")]))
            second = asyncio.create_task(link.execute([("ECHO", "second")]))
            await asyncio.sleep(0.2)
            first.cancel()
            await asyncio.sleep(0.05)
            server.kill(signal.SIGCONT)
            assert await second == [b"second"]
            with pytest.raises(asyncio.CancelledError):
                await first
        finally:
            link.close()

    try:
        asyncio.run(main())
    finally:
        server.kill(signal.SIGCONT)
        server.stop()


def test_unix_socket(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    server = RedisProcess(tmp_path / "r", extra_args=("--unixsocket", str(sock), "--unixsocketperm", "700")).start()

    async def main() -> None:
        link = link_for(f"unix://{sock}?db=2")
        try:
            assert await link.execute([("SET", "via", "socket"), ("GET", "via")]) == [b"OK", b"socket"]
        finally:
            link.close()

    try:
        asyncio.run(main())
        client = redis.Redis(port=server.port, db=2)
        assert client.get("via") == b"socket"
        client.close()
    finally:
        server.stop()


def test_urls_and_installations_left_to_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    assert open_link("redis://127.0.0.1:6379/0", 1.0) is not None
    assert open_link("rediss://127.0.0.1:6379/0", 1.0) is None  # TLS set-up stays with redis-py
    assert open_link("redis://127.0.0.1:6379/0?protocol=3", 1.0) is None  # options the link does not know
    monkeypatch.setattr(redis_link, "hiredis", None)
    assert open_link("redis://127.0.0.1:6379/0", 1.0) is None
