"""``lianfang analyst serve``: the graph page and a small JSON API over the hub's AnalystService.

A standard-library HTTP server (threads) in front of one gRPC channel, whose asyncio loop runs on
a thread of its own. It holds the analyst's key, so it binds to localhost unless told otherwise:
whoever can reach it can ask what the analyst can.

Routes (GET): ``/`` the page; ``/static/<asset>``; ``/api/rings?min_size&min_lenders&min_score&limit``;
``/api/ring?id=<ring id>`` or ``?application=<member/ref>``; ``/api/neighbours?entity=<id>&hops=1``.
Errors come back as ``{"error": <gRPC code>, "message", "violations"}`` with a matching HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import grpc

from clients.analyst import AnalystClient
from clients.analyst_web.page import as_json, asset
from clients.errors import LianfangRpcError

log = logging.getLogger("lianfang.analyst.web")
T = TypeVar("T")

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
}
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript"}


class BadQuery(ValueError):
    """A query parameter the page API cannot use (HTTP 400)."""


class _Loop:
    """An asyncio loop on a daemon thread; HTTP threads submit coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="analyst-grpc", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


_UINT32_MAX = 2**32 - 1


def _int(query: dict[str, list[str]], name: str, default: int = 0) -> int:
    """A whole number from 0 to 2^32-1 (the hub's fields are unsigned): anything else is a 400."""
    raw = query.get(name, [""])[0]
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer") from None
    if not 0 <= value <= _UINT32_MAX:
        raise BadQuery(f"{name} must be from 0 to {_UINT32_MAX}")
    return value


def _float(query: dict[str, list[str]], name: str) -> float:
    raw = query.get(name, [""])[0]
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        raise BadQuery(f"{name} must be a number") from None


class AnalystPageServer:
    """Serves the page for one analyst identity. ``make_client`` runs on the gRPC loop."""

    def __init__(self, make_client: Callable[[], AnalystClient], host: str = "127.0.0.1", port: int = 0) -> None:
        self._loop = _Loop()
        self.client = self._loop.run(self._make(make_client))
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @staticmethod
    async def _make(make_client: Callable[[], AnalystClient]) -> AnalystClient:
        return make_client()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]!s}:{self.port}/"

    def start(self) -> None:
        """Serves on a background thread (tests, the demo)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="analyst-http", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()
        self._loop.run(self.client.close())
        self._loop.stop()

    def host_allowed(self, host: str) -> bool:
        """Only the names this server is reached by: its bound address, or localhost."""
        bound = str(self.httpd.server_address[0])
        return host in {f"{name}:{self.port}" for name in (bound, "localhost", "127.0.0.1", "[::1]")}

    # -- API ---------------------------------------------------------------------------------
    def api(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        client, call = self.client, self._loop.run
        first = {key: values[0] for key, values in query.items() if values}
        if path == "/api/rings":
            listed = call(
                client.list_rings(
                    min_size=_int(query, "min_size"),
                    min_lenders=_int(query, "min_lenders"),
                    min_score=_float(query, "min_score"),
                    limit=_int(query, "limit"),
                )
            )
            return as_json(listed)
        if path == "/api/ring":
            if not (first.get("id") or first.get("application")):
                raise BadQuery("id or application is required")
            ring = call(client.get_ring(ring_id=first.get("id", ""), application=first.get("application", "")))
            return as_json(ring)
        if path == "/api/neighbours":
            graph = call(client.neighbourhood(first.get("entity", ""), hops=_int(query, "hops", 1)))
            return {"graph": as_json(graph)}
        raise KeyError(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "lianfang-analyst"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s", format % args)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if not server.host_allowed(self.headers.get("Host", "")):
                    # DNS rebinding: a web page on another name must not read the analyst's data
                    self._json(403, {"error": "PERMISSION_DENIED", "message": "unexpected Host header"})
                    return
                try:
                    if url.path in ("/", "/index.html"):
                        self._send(200, asset("index.html"), _TYPES[".html"])
                    elif url.path.startswith("/static/"):
                        name = url.path.removeprefix("/static/")
                        self._send(200, asset(name), _TYPES.get(name[name.rfind(".") :], "text/plain"))
                    elif url.path.startswith("/api/"):
                        self._json(200, server.api(url.path, parse_qs(url.query)))
                    else:
                        raise KeyError(url.path)
                except KeyError:
                    self._json(404, {"error": "NOT_FOUND", "message": f"no such page {url.path}"})
                except BadQuery as exc:
                    self._json(400, {"error": "INVALID_ARGUMENT", "message": str(exc)})
                except LianfangRpcError as exc:
                    status = _HTTP_STATUS.get(exc.code, HTTPStatus.BAD_GATEWAY)
                    violations = [{"field": v.field, "description": v.description} for v in exc.violations]
                    self._json(status, {"error": exc.code.name, "message": exc.message, "violations": violations})
                except TimeoutError:
                    self._json(504, {"error": "DEADLINE_EXCEEDED", "message": "the hub did not answer in time"})

        return Handler
