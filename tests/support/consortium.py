"""Helpers for tests that talk to a real hub over TLS (the same assembly as the demo)."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import grpc
import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2, consortium_pb2

from clients.credentials import load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from consortium.store.base import Store
from consortium.store.redis import RedisStore
from consortium.store.sqlite import SqliteStore
from node.identity.tokens import HmacTokeniser
from runtime.clock import ManualClock

KEY = HmacTokeniser(b"k" * 32, 1)


@contextlib.asynccontextmanager
async def hub_on_store(
    request: pytest.FixtureRequest, tmp_path: Path, members: Sequence[str]
) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    """A local consortium on manual time, its hub on the store a fixture parametrised over
    ``["sqlite", "redis"]`` names (Redis: the session's redis-server, emptied)."""
    store_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    clock = ManualClock()
    consortium = await start_local_consortium(tmp_path, list(members), store_url=store_url, clock=clock)
    try:
        yield consortium, clock
    finally:
        await consortium.stop()


@contextlib.contextmanager
def log_refusing_appends(store: Store, after: int = 0) -> Iterator[None]:
    """The hub's consortium log refuses appends for a while, as a failing disk or Redis would,
    while the rest of the store still takes writes and the log can still be read. On SQLite a
    trigger aborts inserts into the log (those after the first ``after``); on Redis the stream's
    last id is moved to the largest there is, so XADD finds no id left (``after`` must be 0)."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.config.path)
        (held,) = db.execute("SELECT COUNT(*) FROM consortium_log").fetchone()
        db.execute(
            "CREATE TRIGGER refuse_log BEFORE INSERT ON consortium_log"
            f" WHEN (SELECT COUNT(*) FROM consortium_log) >= {held + after}"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        try:
            yield
        finally:
            db.execute("DROP TRIGGER refuse_log")
            db.close()
        return
    assert isinstance(store, RedisStore) and after == 0
    r = redis.Redis.from_url(store.config.url)
    stream = f"{store.config.key_prefix}:{{log}}:events"
    last = r.xinfo_stream(stream)["last-generated-id"]
    r.execute_command("XSETID", stream, "18446744073709551615-18446744073709551615")
    try:
        yield
    finally:
        r.execute_command("XSETID", stream, last)
        r.close()


def token(kind: int, value: str) -> common_pb2.Token:
    return KEY.token(kind, value)


def phone(n: int) -> common_pb2.Token:
    return token(common_pb2.TOKEN_TYPE_PHONE, f"+86138{n:08d}")


def rid(n: int) -> common_pb2.Token:
    return token(common_pb2.TOKEN_TYPE_RESIDENT_ID, f"11010119900101{n:04d}")


CONSENT_ENDS = 4_102_444_800  # 2100-01-01: far beyond any test clock


def check_request(ref: str, *tokens: common_pb2.Token) -> consortium_pb2.CheckRequest:
    request = consortium_pb2.CheckRequest(
        application_ref=ref,
        consent_ref=f"consent-{ref}",
        tokens=tokens,
        applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
        product_category="consumer_instalment",
        purpose=common_pb2.PURPOSE_CREDIT_APPLICATION,
    )
    request.consent_expires_at.seconds = CONSENT_ENDS
    return request


def raw_jwt(
    key_file: str | Ed25519PrivateKey,
    subject: str,
    *,
    iat: float | None = None,
    lifetime: int = 60,
    audience: str = "lianfang-hub",
    scope: str | None = "query",
    jti: str | None = None,
) -> str:
    """A hand-made hub token. ``scope=None`` leaves the claim out; ``jti=""`` too."""
    key = load_private_key(key_file) if isinstance(key_file, str) else key_file
    now = int(time.time() if iat is None else iat)
    claims: dict[str, object] = {"sub": subject, "aud": audience, "iat": now, "exp": now + lifetime}
    if scope is not None:
        claims["scope"] = scope
    if jti != "":
        claims["jti"] = jti or secrets.token_hex(12)
    return jwt.encode(claims, key, algorithm="EdDSA")


def windows(stacking: consortium_pb2.Stacking) -> dict[str, tuple[int, int]]:
    return {
        common_pb2.Window.Name(w.window).removeprefix("WINDOW_"): (w.other_members, w.other_applications)
        for w in stacking.windows
    }


def by_type(response: consortium_pb2.CheckResponse, token_type: int) -> dict[str, tuple[int, int]]:
    (s,) = [s for s in response.stacking if s.token_type == token_type]
    return windows(s)


def status_of(error: grpc.aio.AioRpcError) -> grpc.StatusCode:
    return error.code()
