"""Limits the contract sets (``proto/lianfang/v1``), for the hub that enforces them and the node
that must not send past them: one number, read by both."""

from __future__ import annotations

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
