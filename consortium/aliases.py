"""Tokens of one identifier under successive key epochs, linked so that history carries over.

During a rotation's overlap a node sends every identifier's token under each active epoch: all
tokens of the oldest epoch first, then the same identifiers in the same order under the next
(``node.identity.applicant``). The hub pairs them by type and position and records that the newer
token *is* the older one; from then on every token is stored, counted and matched under its
canonical (oldest) key, so stacking counts, markers and rings continue across the rotation and
after the old epoch is retired. Members carry over identifiers not seen during the overlap (the
subjects of their markers) with ``LinkTokens``.

A link rests on one member's word (the hub cannot compute tokens): a member could pair another
identifier's new token with an old one. When a later Check pairs a new token with a different old
one than its link (or an old token with a different new one), the members disagree: the hub logs
the conflict, naming the member whose Check found it and both pairings, for the admins
(``lianfang_hub_epoch_link_conflicts``; the earlier link's ``al`` entry sits beside the ``a``
entry of the Check that made it). The link stands: which pairing is true is the admins' call.

Events: ``["al", [[newer, older], ...]]`` and ``["alc", member, [[newer, older, linked to], ...],
at]`` (folds of the consortium log, like everything else).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from consortium.key_book import KeyBook
from consortium.log_format import encode_event


def epoch_of(key: str) -> int:
    return int(key.split(".", 3)[2])


def type_of(key: str) -> int:
    return int(key.split(".", 2)[1])


def pairs_in(keys: Sequence[str]) -> list[tuple[str, str]]:
    """(newer, older) pairs a multi-epoch request implies: per type, the i-th token of each newer
    epoch with the i-th of the oldest epoch. A type whose counts differ across epochs is skipped."""
    if len({k.split(".", 3)[2] for k in keys}) < 2:  # one epoch (outside a rotation): no pairs
        return []
    epochs = sorted({epoch_of(k) for k in keys})
    by: dict[tuple[int, int], list[str]] = defaultdict(list)
    for key in keys:
        by[(epoch_of(key), type_of(key))].append(key)
    oldest = epochs[0]
    pairs: list[tuple[str, str]] = []
    for (epoch, token_type), newer in by.items():
        if epoch == oldest:
            continue
        older = by.get((oldest, token_type), [])
        if len(older) == len(newer):
            pairs.extend(zip(newer, older, strict=True))
    return sorted(pairs)


def alias_event(pairs: Iterable[tuple[str, str]]) -> str:
    return encode_event(["al", [list(p) for p in pairs]])


def conflict_event(member: str, conflicts: Iterable[tuple[str, str, str]], at: float) -> str:
    """``member``'s Check paired tokens against their links: (newer, older, what the link says)."""
    return encode_event(["alc", member, [list(c) for c in conflicts], at])


class AliasBook:
    """Token key → canonical key (a ``RingTracker`` observer).

    A link is admitted only while both its epochs are in use (created, not retired: a rotation's
    overlap), only once per newer token, and one-to-one: an older token already linked to one
    newer token of an epoch is not linked to another (no redirecting an identifier's history onto
    someone else's). The fold applies the same rules, so every replica admits the same links.
    """

    def __init__(self, keys: KeyBook | None = None) -> None:
        self.keys = keys
        self.canonical: dict[str, str] = {}
        self._taken: dict[tuple[str, int], str] = {}  # (canonical older, newer epoch) -> newer
        self.conflicts = 0
        """Pairings Checks contradicted their tokens' links with (``alc`` entries), since the log began."""

    def observe(self, cursor: object, event: str, decoded: list[Any] | None) -> None:
        if decoded and decoded[0] == "al":
            for newer, older in decoded[1]:
                self.add(str(newer), str(older))
        elif decoded and decoded[0] == "alc":
            self.conflicts += len(decoded[2])
        elif decoded and decoded[0] == "rk":  # OPRF re-keying: Δ·N computed by the hub itself
            for newer, older in decoded[4]:
                self.add_derived(str(newer), str(older))

    def add_derived(self, newer: str, older: str) -> None:
        """A link the hub computed (``consortium.rekey``): no overlap or one-to-one rule needed,
        only never re-pointing a token that already has a canonical key."""
        root = self.canonical.get(older, older)
        if newer != root and newer not in self.canonical:
            self.canonical[newer] = root

    def _in_overlap(self, newer: str, older: str) -> bool:
        if self.keys is None:
            return True
        in_use = self.keys.in_use  # kept by the key book as epochs are created and retired
        return in_use is not None and epoch_of(newer) in in_use.live and epoch_of(older) in in_use.live

    def admissible(self, newer: str, older: str) -> bool:
        root = self.canonical.get(older, older)
        if newer == root or newer in self.canonical or not self._in_overlap(newer, older):
            return False
        return self._taken.get((root, epoch_of(newer))) in (None, newer)

    def add(self, newer: str, older: str) -> None:
        if self.admissible(newer, older):
            root = self.canonical.get(older, older)
            self.canonical[newer] = root
            self._taken[(root, epoch_of(newer))] = newer

    def resolve(self, key: str) -> str:
        return self.canonical.get(key, key)

    def contradicted(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """The pairs that contradict a link made while both epochs are in use: (newer, older,
        the token the link pairs instead) — the newer token linked to another identifier's old
        one, or the old one already linked to another new token of that epoch."""
        found = []
        for newer, older in pairs:
            root = self.canonical.get(older, older)
            linked = self.canonical.get(newer)
            if linked == root:
                continue  # the link agrees: every honest Check of a linked identifier
            if linked is not None:
                if self._in_overlap(newer, older):
                    found.append((newer, older, linked))
                continue
            taken = self._taken.get((root, epoch_of(newer)))
            if taken is not None and taken != newer and self._in_overlap(newer, older):
                found.append((newer, older, taken))
        return found

    def unknown(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The pairs to record: new and admissible (so a Check logs only what will count)."""
        return [(n, o) for n, o in pairs if self.admissible(n, o)]

    def canonical_keys(self, keys: Sequence[str], pairs: Sequence[tuple[str, str]] = ()) -> tuple[str, ...]:
        """``keys`` under their canonical names (this request's admissible pairs included),
        deduplicated in order: the store and the rings only ever see canonical keys."""
        local = {n: self.resolve(o) for n, o in pairs if n in self.canonical or self.admissible(n, o)}
        out: dict[str, None] = {}
        for key in keys:
            out[local.get(key) or self.resolve(key)] = None
        return tuple(out)
