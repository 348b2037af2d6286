"""Re-keying the hub's OPRF elements into a new key epoch with Δ = k₂·k₁⁻¹: no re-submission.

Design (the choice is aliases, not rewriting stored keys). The hub's stores and its consortium
log hold every token under its *canonical* key, and every fold (rings, usage, audit, disputes)
is keyed by it; rewriting keys in place would mean rewriting the append-only log too. With OPRF
the hub can compute each stored element's new-epoch form itself — Δ·N of epoch e+1 is the same
identifier as N of epoch e — so re-keying is expressed as links, exactly like HMAC rotation
links (``consortium.aliases``) but computed by the hub rather than claimed by a member:

- the re-keyer streams through the store's OPRF token keys of epoch e (``Store.token_keys_page``,
  a page at a time, one visit of the store in all) and through the aliases of epoch e that
  earlier rotations created (and planted canaries),
  multiplies each element by Δ and appends ``["rk", e, e+1, cursor, [[new, old], ...]]`` to the
  log; every hub replica folds it into its AliasBook, so from then on a Check with the epoch-e+1
  element resolves to the canonical key: **both epochs answer** during the switch;
- it is **resumable**: each event carries the store cursor, and the fold remembers which old
  keys are done (``RekeyProgress``), so a restarted run continues where the last one stopped;
- it is **safe while serving**: it only appends log events (no store rewrite, no lock);
- after the first pass the key service activates epoch e+1 (``between``); a second pass picks
  up the epoch-e tokens first seen meanwhile; ``["rkd", e, e+1]`` marks the switch complete and
  the key service then destroys k_e. Retiring changes nothing at the hub: the new elements keep
  resolving to the canonical keys, so stacking counts, markers and rings are unchanged.

Δ stays in this process's memory (never logged, never in the store); the group arithmetic is
``runtime.oprf``. Known limit: an identifier seen for the *first* time in the seconds between
the first pass and activation, then again under e+1 before the second pass, keeps two
histories (its e+1 key was stored before its alias existed); the second pass skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lianfang.v1 import common_pb2, keys_pb2

from consortium.aliases import AliasBook, epoch_of
from consortium.canaries import CanaryBook
from consortium.log_format import encode_event
from consortium.records import token_key
from consortium.rings import RingTracker
from consortium.store.base import LogCursor, Store
from runtime import oprf
from runtime.errors import FailedPrecondition

log = logging.getLogger("lianfang.hub.rekey")
OPRF_SCHEME = common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512
PAGE = 1_000
WALKED = "~walked"  # the cursor recorded once a pass has walked the whole store


def rekey_event(from_epoch: int, to_epoch: int, cursor: str, pairs: list[tuple[str, str]]) -> str:
    return encode_event(["rk", from_epoch, to_epoch, cursor, [list(p) for p in pairs]])


def rekey_closing_event(from_epoch: int, to_epoch: int) -> str:
    """The last pass begins (the new epoch is active): from now on the hubs refuse a Check whose
    elements are all of the old epoch, so none is stored behind the pass's cursor unlinked."""
    return encode_event(["rkc", from_epoch, to_epoch])


def rekey_done_event(from_epoch: int, to_epoch: int) -> str:
    return encode_event(["rkd", from_epoch, to_epoch])


class RekeyProgress:
    """How far each rotation's re-keying got (a ``RingTracker`` observer)."""

    def __init__(self) -> None:
        self.cursors: dict[tuple[int, int], str] = {}
        self.done_keys: dict[tuple[int, int], set[str]] = {}
        self.complete: set[tuple[int, int]] = set()

    def observe(self, cursor: LogCursor, event: str, decoded: list[Any] | None) -> None:
        if not decoded or decoded[0] not in ("rk", "rkd"):
            return
        pair = (int(decoded[1]), int(decoded[2]))
        if decoded[0] == "rkd":
            self.complete.add(pair)
            return
        if decoded[3]:  # the store's cursor after the event's pairs: a restarted run resumes there
            self.cursors[pair] = str(decoded[3])
        self.done_keys.setdefault(pair, set()).update(str(old) for _, old in decoded[4])


@dataclass
class RekeyReport:
    from_epoch: int
    to_epoch: int
    linked: int = 0
    skipped: int = 0  # malformed elements (not a ristretto255 encoding), or already linked
    passes: list[int] = field(default_factory=list)


def _new_form(delta: bytes, key: str, to_epoch: int) -> str | None:
    scheme, token_type, _, value = key.split(".")
    try:
        element = oprf.rekey(delta, bytes.fromhex(value))
    except (oprf.OprfError, ValueError):
        return None
    return token_key(int(scheme), int(token_type), to_epoch, element)


def require_active_target(delta: keys_pb2.GetRekeyDeltaResponse, from_epoch: int, to_epoch: int) -> None:
    """Before a re-keying is finished (``Rekeyer.run(finish=True)`` without ``between``): the new
    epoch must be ACTIVE at the key service, or nodes still mint old-epoch elements that the
    finished re-keying never links (their identifiers lose their history for good)."""
    if delta.to_state not in (keys_pb2.KEY_EPOCH_STATE_ACTIVE, keys_pb2.KEY_EPOCH_STATE_SUPERSEDED):
        raise FailedPrecondition(
            f"epoch {to_epoch} is not active at the key service yet: finishing now would lose what nodes still "
            f"send under epoch {from_epoch}; activate it (lianfang keys admin activate {to_epoch}, or "
            "--activate-key), then finish"
        )


class Rekeyer:
    def __init__(self, store: Store, delta: bytes, from_epoch: int, to_epoch: int, *, page: int = PAGE) -> None:
        self.store, self.from_epoch, self.to_epoch, self.page = store, from_epoch, to_epoch, page
        self._delta = delta
        self.aliases = AliasBook()  # re-keying links need no epoch book: the hub computed them
        self.progress = RekeyProgress()
        self.canaries = CanaryBook()  # planted canaries need their new-epoch forms too
        observers = (self.aliases.observe, self.progress.observe, self.canaries.observe)
        self.rings = RingTracker(store, observers=observers)
        self.report = RekeyReport(from_epoch, to_epoch)

    def __repr__(self) -> str:
        return f"Rekeyer({self.from_epoch}->{self.to_epoch})"  # never Δ

    @property
    def _pair(self) -> tuple[int, int]:
        return (self.from_epoch, self.to_epoch)

    async def run(self, between: Callable[[], Awaitable[None]] | None = None, *, finish: bool = True) -> RekeyReport:
        """Pass 1, ``between()`` (the key service activates the new epoch), pass 2, done.

        ``finish=False``: pass 1 only. The switch may be marked complete only once the new epoch
        is active (nodes no longer mint epoch-e elements), so an operator who activates it by
        hand runs pass 1, activates, then runs again with ``finish=True``."""
        await self.rings.catch_up()
        if self._pair in self.progress.complete:
            return self.report
        self.report.passes.append(await self._pass(self.progress.cursors.get(self._pair, "")))
        if not finish:
            return self.report
        if between is not None:
            await between()
        await self.rings.publish([rekey_closing_event(*self._pair)])
        self.report.passes.append(await self._pass(""))
        await self.rings.publish([rekey_done_event(*self._pair)])
        log.info(
            "re-keyed",
            extra={"fields": {"from": self.from_epoch, "to": self.to_epoch, "linked": self.report.linked}},
        )
        return self.report

    async def _pass(self, cursor: str) -> int:
        """Links every not-yet-linked epoch-e element (store from ``cursor``, then aliases)."""
        linked_before = self.report.linked
        prefix = f"{OPRF_SCHEME}."
        while cursor != WALKED:
            keys, cursor = await self.store.token_keys_page(prefix, cursor, self.page)
            cursor = cursor or WALKED
            olds = [k for k in keys if epoch_of(k) == self.from_epoch]
            # A page may exceed the page size (a hint to the store): one event per page size,
            # the store cursor on the last, so a restarted run resumes after the whole page.
            chunks = [olds[i : i + self.page] for i in range(0, len(olds), self.page)] or [[]]
            for n, chunk in enumerate(chunks, 1):
                await self._link(chunk, cursor if n == len(chunks) else "")
        await self.rings.catch_up()
        known = {*self.aliases.canonical, *self.canaries.labels}  # earlier rotations' forms, canaries
        olds = sorted(k for k in known if k.startswith(prefix) and epoch_of(k) == self.from_epoch)
        for i in range(0, len(olds), self.page):
            await self._link(olds[i : i + self.page], "")
        return self.report.linked - linked_before

    async def _link(self, keys: list[str], cursor: str) -> None:
        done = self.progress.done_keys.get(self._pair, set())
        pairs: list[tuple[str, str]] = []
        for old in keys:
            if old in done:
                continue
            new = _new_form(self._delta, old, self.to_epoch)
            if new is None or new in self.aliases.canonical:
                self.report.skipped += 1
                continue
            pairs.append((new, old))
        if pairs or cursor:
            await self.rings.publish([rekey_event(self.from_epoch, self.to_epoch, cursor, pairs)])
        self.report.linked += len(pairs)
