"""The consortium token keys a node may use now: one epoch, or two during a rotation's overlap.

In ``key_source = "file"`` mode the ring holds the one key from ``consortium_key_file``. In
``"hub"`` mode it holds every epoch the hub has wrapped to this member and not retired, unwrapped
with the member's X25519 key (``clients.key_epochs``); ``refresh`` re-reads them (at start and
every ``key_refresh_seconds``). During an overlap each identifier is tokenised under every
epoch, oldest first — the order the hub pairs them in (``consortium.aliases``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from clients.hub import HubClient
from clients.key_epochs import key_check, unwrap_key
from node.identity.oprf_tokens import OprfTokeniser
from node.identity.tokens import HmacTokeniser
from runtime.errors import Unavailable

log = logging.getLogger("lianfang.node.keys")


class KeyRing:
    """``oprf``: set in ``token_mode = "oprf"`` — tokens come from the key service instead and
    ``tokenisers`` stays empty (``node.identity.applicant.tokenise``)."""

    def __init__(self, tokenisers: Sequence[HmacTokeniser] = (), oprf: OprfTokeniser | None = None) -> None:
        self.tokenisers: tuple[HmacTokeniser, ...] = tuple(sorted(tokenisers, key=lambda t: t.epoch))
        self.oprf = oprf
        self.reload: Callable[[], Awaitable[list[int]]] | None = None
        """Re-reads this member's epochs from the hub now (``key_source = "hub"``; ``refresh``
        bound to the node's hub client and key): for a Check refused for stale keys."""

    @property
    def active(self) -> tuple[HmacTokeniser, ...]:
        """The epochs to tokenise under, oldest first; Unavailable when there is none yet."""
        if not self.tokenisers:
            raise Unavailable("no consortium key yet: the hub has not distributed one to this member")
        return self.tokenisers

    @property
    def primary(self) -> HmacTokeniser:
        """The oldest active epoch: one token per identifier (what markers are filed under)."""
        return self.active[0]

    @property
    def epochs(self) -> list[int]:
        if self.oprf is not None:
            return [self.oprf.last_epoch] if self.oprf.last_epoch else []
        return [t.epoch for t in self.tokenisers]

    async def refresh(self, hub: HubClient, member_id: str, private: X25519PrivateKey) -> list[int]:
        """Re-reads this member's epochs from the hub; returns the active ones. An epoch that does
        not unwrap (wrapped to an older encryption key, damaged) is skipped and logged."""
        tokenisers = []
        for e in await hub.my_key_epochs():
            if e.HasField("retired_at"):
                continue
            try:
                key = unwrap_key(e.wrapped_key, e.epoch, member_id, private)
            except (InvalidTag, ValueError):
                log.error("a key epoch does not unwrap with this member's key", extra={"fields": {"epoch": e.epoch}})
                continue
            if e.key_check and key_check(key) != e.key_check:  # its tokens would match nobody's
                log.error("a key epoch's key fails its key check", extra={"fields": {"epoch": e.epoch}})
                continue
            tokenisers.append(HmacTokeniser(key, e.epoch))
        self.tokenisers = tuple(sorted(tokenisers, key=lambda t: t.epoch))
        return self.epochs
