"""Limits the contract sets (``proto/lianfang/v1``), for the hub that enforces them and the node
that must not send past them: one number, read by both."""

from __future__ import annotations

import functools
import re

from runtime.identifier_text import identifier_in_ref

MAX_CHECK_TOKENS = 64
"""Tokens in one CheckRequest (``consortium.proto``: 1..64). A node sends each identifier once
per active key epoch, and each IP's /24 or /64 subnet too."""

KEY_CHECK_BYTES = 8
"""A key epoch's ``key_check`` (``CreateKeyEpochRequest``): HMAC-SHA256 of a constant under the
epoch's key, cut to this length (``clients.key_epochs.key_check``)."""

STALE_KEY_EPOCHS = "all of a retired key epoch"
"""How the hub's refusal of a Check whose keyed-hash tokens are all of retired epochs begins (on
its ``tokens`` field): the node that reads it refreshes its keys and sends the Check again."""

STREAM_TOKEN_EXPIRED = "token expired: reconnect"
"""How the hub ends a Watch stream whose token has expired (UNAVAILABLE, this exact message): a
routine end, not a failing replica, so clients reconnect at once and do not pass the replica over."""

PRODUCT_CATEGORY = re.compile(r"[a-z0-9_]{1,40}\Z")
"""A Check's ``product_category``: the kind of product (the node sends its product code)."""
PRODUCT_CATEGORY_SHAPE = "1-40 characters of [a-z0-9_]"


_LONG_NUMBER = re.compile(r"(?:\d_*){10}")
"""Ten digits, underscores between them or not: a phone, ID or card number, never a date."""


@functools.lru_cache(maxsize=4096)  # a member sends few categories; the identifier scan is µs
def product_category_problem(category: str) -> str | None:
    """Why the hub refuses ``category`` (None: it takes it): its shape, or an identifier in it,
    which would be stored with the application: ten digits or more in a row (underscores between
    them too: ``xwd_20250601_01`` is refused), or what the identifier scan finds. One date in a
    code (``xwd_20250601``) is fine. The node checks its product codes with it at start; the hub,
    members' categories too."""
    if not PRODUCT_CATEGORY.match(category):
        return PRODUCT_CATEGORY_SHAPE
    if _LONG_NUMBER.search(category):
        return "must not hold personal data: at most 9 digits in a row (a kind of product, not a number)"
    kind = identifier_in_ref(category.upper())  # upper: a USCC's letters are capitals
    return None if kind is None else f"must not hold personal data: it contains what looks like {kind}"
