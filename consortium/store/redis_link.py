"""A lean, multiplexed Redis connection for the Redis store's hot path (EVALSHA pipelines).

redis-py's asyncio pipeline spends ~0.6 ms of client CPU on one Check's nine EVALSHAs (a pooled
connection per pipeline, its health and pending-data checks, pure-Python packing, a timeout timer
and observability hooks per reply). This link does the same round trip for ~0.1 ms: commands are
packed by ``hiredis.pack_command`` and written to one long-lived connection, and replies are parsed
by a ``hiredis.Reader`` straight from ``data_received``. Requests of concurrent callers are
pipelined on that connection and answered in order (Redis replies in order on a connection), so
no pool, lock or per-reply timer is needed; fewer, larger reads are also cheaper for redis-server.

Failure handling mirrors what the store asked of redis-py: a request that gets no answer within
``timeout`` seconds (one watchdog timer per connection checks the oldest request), or whose
connection drops, closes the connection (failing every request still waiting on it) and is
retried once on a new connection after a short jittered pause; the next request reconnects.
Every command the store sends this way is idempotent, so a retry never double-counts. Error
replies come back in place as redis-py's exception classes (NoScriptError, ResponseError, ...),
like ``pipeline.execute(raise_on_error=False)``. Requests made in one turn of the event loop go
out in one write.

Only ``redis://`` and ``unix://`` URLs with at most a username, password and database are served
here; anything else (``rediss://``, extra URL options), or hiredis missing, returns None from
:func:`open_link` and the store keeps using redis-py's pipeline.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from redis import exceptions as rx
from redis.asyncio.connection import UnixDomainSocketConnection, parse_url

hiredis: Any
try:
    import hiredis
except ImportError:  # pragma: no cover - hiredis ships with redis[hiredis]
    hiredis = None

try:
    from redis._parsers import BaseParser

    _reply_error: Callable[[str], Exception] = BaseParser.parse_error
except ImportError:  # pragma: no cover - redis-py without the shared parser module

    def _reply_error(message: str) -> Exception:
        code = message.split(" ", 1)[0]
        known: dict[str, type[Exception]] = {
            "NOSCRIPT": rx.NoScriptError,
            "READONLY": rx.ReadOnlyError,
            "LOADING": rx.BusyLoadingError,
        }
        return known[code](message.split(" ", 1)[-1]) if code in known else rx.ResponseError(message)


Command = Sequence[str | int | bytes]
_SUPPORTED_OPTIONS = frozenset({"host", "port", "db", "username", "password", "path", "connection_class"})
RETRY_PAUSE = (0.01, 0.1)
"""Seconds before the one retry: uniform in this range (as the store's redis-py backoff)."""


def open_link(url: str, timeout: float) -> RedisLink | None:
    """A link for ``url``, or None when this URL or installation must use redis-py instead."""
    if hiredis is None:
        return None
    options = parse_url(url)
    if not set(options) <= _SUPPORTED_OPTIONS:
        return None
    connection_class = options.get("connection_class")
    if connection_class not in (None, UnixDomainSocketConnection):
        return None  # TLS (rediss://): redis-py's SSL set-up
    return RedisLink(
        host=str(options.get("host", "localhost")),
        port=int(options.get("port", 6379)),
        path=str(options["path"]) if connection_class is UnixDomainSocketConnection else None,
        db=int(options.get("db", 0) or 0),
        username=options.get("username"),
        password=options.get("password"),
        timeout=timeout,
    )


def pack(commands: Sequence[Command]) -> bytes:
    """The RESP bytes of ``commands`` (str, int and bytes arguments)."""
    pack_command = hiredis.pack_command
    return b"".join([pack_command(c if isinstance(c, tuple) else tuple(c)) for c in commands])


class _Protocol(asyncio.Protocol):
    """One connection: requests wait in send order; each gets its replies when all have arrived.

    Requests made in one turn of the event loop go out in one write. One watchdog timer per
    connection, not one per request, enforces the timeout: replies come in order, so only the
    oldest waiting request can be overdue.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.error: Exception | None = None
        self._reader = hiredis.Reader(replyError=_reply_error)
        self._waiting: deque[tuple[int, list[Any], asyncio.Future[list[Any]], float]] = deque()
        self._out: list[bytes] = []
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's too)

    def send(self, packed: bytes, replies: int) -> asyncio.Future[list[Any]]:
        if self.error is not None or self.transport is None:
            raise rx.ConnectionError("redis link is closed")
        loop = self.loop
        future: asyncio.Future[list[Any]] = loop.create_future()
        now = loop.time()
        self._waiting.append((replies, [], future, now))
        self._out.append(packed)
        if len(self._out) == 1:
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_at(now + self.timeout, self._check_overdue)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.error is None and self.transport is not None:
            self.transport.write(b"".join(out))

    def _check_overdue(self) -> None:
        self._watchdog = None
        if self._waiting and self.error is None:
            due = self._waiting[0][3] + self.timeout
            if self.loop.time() >= due:
                self.abort(rx.TimeoutError("Timeout reading from redis"))
            else:
                self._watchdog = self.loop.call_at(due, self._check_overdue)

    def data_received(self, data: bytes) -> None:
        reader, waiting = self._reader, self._waiting
        reader.feed(data)
        while waiting:
            expected, replies, future, _ = waiting[0]
            while len(replies) < expected:
                try:
                    reply = reader.gets()
                except hiredis.ProtocolError as exc:
                    self.abort(rx.InvalidResponse(f"protocol error from redis: {exc}"))
                    return
                if reply is False:
                    return
                replies.append(reply)
            waiting.popleft()
            if not future.done():  # a caller that gave up (cancelled) is skipped, in order
                future.set_result(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "Connection closed by server." if exc is None else f"Error while reading from redis: {exc}"
        self.abort(rx.ConnectionError(reason))

    def abort(self, error: Exception) -> None:
        """Closes the connection; every request still waiting fails with (a copy of) ``error``."""
        if self.error is None:
            self.error = error
        if self.transport is not None:
            self.transport.abort()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._out.clear()
        while self._waiting:
            future = self._waiting.popleft()[2]
            if not future.done():
                future.set_exception(type(error)(*error.args))

    @property
    def usable(self) -> bool:
        return self.error is None and self.transport is not None and not self.transport.is_closing()


class RedisLink:
    """Pipelines of commands over one shared connection, reconnected on demand."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self._host, self._port, self._path, self._db = host, port, path, db
        self._username, self._password = username, password
        self._timeout = timeout
        self._conn: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Replies to ``commands`` in order (error replies as exception instances), one round trip."""
        packed = pack(commands)
        try:
            return await self._request(packed, len(commands))
        except (rx.ConnectionError, rx.TimeoutError):
            await asyncio.sleep(random.uniform(*RETRY_PAUSE))
            return await self._request(packed, len(commands))

    async def _request(self, packed: bytes, replies: int) -> list[Any]:
        conn = self._conn
        if conn is None or not conn.usable or conn.loop is not asyncio.get_running_loop():
            conn = await self._connect()
        return await conn.send(packed, replies)  # the connection's watchdog enforces the timeout

    async def _connect(self) -> _Protocol:
        """One connection attempt at a time, run as its own task: concurrent callers share its
        outcome, and a caller that is cancelled meanwhile only stops waiting for it."""
        loop = asyncio.get_running_loop()
        attempt = self._connecting
        if attempt is None or attempt.done() or attempt.get_loop() is not loop:
            attempt = self._connecting = loop.create_task(self._open(loop))
            attempt.add_done_callback(self._connected)
        return await asyncio.shield(attempt)

    def _connected(self, attempt: asyncio.Task[_Protocol]) -> None:
        if self._connecting is attempt:
            self._connecting = None
        if attempt.cancelled() or attempt.exception() is not None:
            return
        old, self._conn = self._conn, attempt.result()
        if old is not None and old is not self._conn and old.loop is attempt.get_loop():
            old.abort(rx.ConnectionError("redis connection replaced"))

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        conn: _Protocol | None = None
        try:
            async with asyncio.timeout(self._timeout):
                factory = lambda: _Protocol(loop, self._timeout)  # noqa: E731
                if self._path is not None:
                    _, conn = await loop.create_unix_connection(factory, self._path)
                else:
                    _, conn = await loop.create_connection(factory, self._host, self._port)
                handshake: list[list[str | int | bytes]] = []
                if self._password is not None:
                    auth: list[str | int | bytes] = ["AUTH", self._username] if self._username else ["AUTH"]
                    handshake.append([*auth, self._password])
                if self._db:
                    handshake.append(["SELECT", self._db])
                if handshake:
                    for reply in await conn.send(pack(handshake), len(handshake)):
                        if isinstance(reply, Exception):
                            raise reply
            return conn
        except BaseException as exc:
            if conn is not None:
                conn.abort(rx.ConnectionError("redis connection set-up failed"))
            if isinstance(exc, TimeoutError):
                raise rx.TimeoutError("Timeout connecting to redis") from None
            if isinstance(exc, OSError):
                raise rx.ConnectionError(f"Error connecting to redis: {exc}") from exc
            raise

    def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
