"""A TCP proxy in front of a real redis-server that can lose one reply: the request reaches
Redis and runs, then the connection drops before its reply gets back, as a network failure
would. Clients that re-send on a dropped connection (the store's link, redis-py's retry) then
run the request a second time: what a store must survive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ReplyDroppingProxy:
    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.port = 0
        self._armed: bytes | None = None
        self.dropped = 0

    def drop_reply_to(self, marker: bytes) -> None:
        """The next request whose bytes contain ``marker`` runs at Redis; its reply is lost."""
        self._armed = marker

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.redis_port)
        lose_reply = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self._armed is not None and self._armed in data:
                    self._armed = None
                    lose_reply.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if lose_reply.is_set():
                    self.dropped += 1
                    return  # the request ran; its reply goes nowhere and the connection drops
                client_w.write(data)
                await client_w.drain()

        try:
            _, pending = await asyncio.wait(
                [asyncio.create_task(upstream()), asyncio.create_task(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in pending:
                task.cancel()
        except (ConnectionError, OSError):
            pass
        finally:
            for writer in (client_w, server_w):
                writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReplyDroppingProxy]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
