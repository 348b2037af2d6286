"""Key epochs as the hub knows them: wrapped blobs only (a fold of the consortium log).

The admin registers each member's X25519 public key and, per epoch, the consortium token key
wrapped to each member (``clients.key_epochs``); the hub hands a member its own blobs and never
holds a key it could unwrap. Events: ``["ek", member, public_key_b64]``,
``["ke", epoch, created_at, {member: wrapped_b64}, key_check_b64]`` (hubs before the key check
wrote no fifth element), ``["kg", epoch, granted_at, {member: wrapped_b64}]`` (the key wrapped
to more members later) and ``["kr", epoch, retired_at]``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from consortium.log_format import encode_event


@dataclass
class Epoch:
    epoch: int
    created_at: float
    wrapped: dict[str, bytes] = field(default_factory=dict)
    retired_at: float | None = None
    key_check: bytes = b""
    """``clients.key_epochs.key_check`` of its key (empty: made by a client that sent none)."""


def encryption_key_event(member_id: str, public_key: bytes) -> str:
    return encode_event(["ek", member_id, base64.b64encode(public_key).decode()])


def _blobs(wrapped: dict[str, bytes]) -> dict[str, str]:
    return {m: base64.b64encode(b).decode() for m, b in sorted(wrapped.items())}


def epoch_event(epoch: int, at: float, wrapped: dict[str, bytes], key_check: bytes = b"") -> str:
    event: list[Any] = ["ke", epoch, at, _blobs(wrapped)]
    if key_check:
        event.append(base64.b64encode(key_check).decode())
    return encode_event(event)


def grant_event(epoch: int, at: float, wrapped: dict[str, bytes]) -> str:
    return encode_event(["kg", epoch, at, _blobs(wrapped)])


def retire_event(epoch: int, at: float) -> str:
    return encode_event(["kr", epoch, at])


@dataclass(frozen=True)
class KeyEpochs:
    """The token key epochs the hub knows of, for checking requests' tokens."""

    created: frozenset[int]
    """Every epoch ever created: a token of another epoch was keyed with no consortium key."""
    live: frozenset[int]
    """Created and not retired. A retired epoch's tokens still match (they are the canonical
    keys of what was seen before the rotation), but a request with no live one comes from a
    member whose keys are out of date."""
    rekeyed: frozenset[int] = frozenset()
    """OPRF epochs the hub is being or was re-keyed out of, from the re-keying's last pass on
    (``["rkc", e, e+1]``, ``["rkd", e, e+1]``): an element of one, minted before the rotation and
    sent after it, would be stored where nothing links to it."""
    rekeying: frozenset[int] = frozenset()
    """OPRF epochs whose re-keying's last pass is running (``rkc`` seen, no ``rkd``): a Check
    then reads the log first, so that its epoch is judged by the newest state (the re-keying
    runs in another process). Not from the first pass on: an operator may take days to
    activate the new epoch, and every Check would pay a log read meanwhile."""


class KeyBook:
    def __init__(self) -> None:
        self.encryption_keys: dict[str, bytes] = {}
        self.epochs: dict[int, Epoch] = {}
        self.rekeyed: set[int] = set()
        self.rekeying: set[int] = set()
        self.in_use: KeyEpochs | None = None
        """None while the hub distributes no keys (members then hold a key file the hub knows
        nothing of, and any epoch goes) and was never re-keyed out of an OPRF epoch."""

    def _changed(self) -> None:
        live = frozenset(e.epoch for e in self.epochs.values() if e.retired_at is None)
        self.in_use = KeyEpochs(frozenset(self.epochs), live, frozenset(self.rekeyed), frozenset(self.rekeying))

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if not decoded:
            return
        kind = decoded[0]
        if kind == "ek":
            member, key = str(decoded[1]), base64.b64decode(decoded[2])
            if self.encryption_keys.get(member, key) != key:  # a new key pair: its old blobs open no more
                for epoch in self.epochs.values():
                    epoch.wrapped.pop(member, None)
            self.encryption_keys[member] = key
        elif kind == "ke" and int(decoded[1]) not in self.epochs:
            check = base64.b64decode(decoded[4]) if len(decoded) > 4 else b""
            epoch = Epoch(int(decoded[1]), float(decoded[2]), _wrapped(decoded[3]), key_check=check)
            self.epochs[epoch.epoch] = epoch
            self._changed()
        elif kind == "kg" and int(decoded[1]) in self.epochs:
            self.epochs[int(decoded[1])].wrapped.update(_wrapped(decoded[3]))
        elif kind in ("rkc", "rkd"):  # the last pass begins; the re-keying is done
            before = (set(self.rekeyed), set(self.rekeying))
            self.rekeyed.add(int(decoded[1]))
            if kind == "rkc" and int(decoded[1]) not in before[0]:
                self.rekeying.add(int(decoded[1]))
            else:
                self.rekeying.discard(int(decoded[1]))
            if (self.rekeyed, self.rekeying) != before:
                self._changed()
        elif kind == "kr" and int(decoded[1]) in self.epochs:
            found = self.epochs[int(decoded[1])]
            if found.retired_at is None:
                found.retired_at = float(decoded[2])
                self._changed()

    def stranded_by_retiring(self, epoch: int, active: set[str]) -> list[str]:
        """The ``active`` members with an encryption key that would hold no live epoch once
        ``epoch`` is retired (those holding it alone, and those holding none: enrolled, or
        given a new key pair, since): their nodes would have no key to Check with."""
        others = [e.wrapped for e in self.epochs.values() if e.retired_at is None and e.epoch != epoch]
        return sorted(m for m in active if m in self.encryption_keys and not any(m in w for w in others))

    def latest(self) -> int:
        return max(self.epochs, default=0)

    def ordered(self) -> list[Epoch]:
        return [self.epochs[e] for e in sorted(self.epochs)]


def _wrapped(blobs: Any) -> dict[str, bytes]:
    return {str(m): base64.b64decode(b) for m, b in dict(blobs).items()}
