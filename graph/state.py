"""Where the ring index keeps its state: a small protocol, and the in-memory implementation.

The index (``ring_index``) holds no state of its own, so the hub can later back it with SQLite or
Redis by implementing :class:`RingState`. The operations are the ones a key-value store does
well: point reads, set add/remove, and ring-sized batch writes (never a scan of the whole graph,
except ``iter_*`` which only a rebuild or an audit uses).

Rings are stored as *labelled member sets* (weighted quick-find) rather than parent pointers:
``label_of(app)`` answers in one read with no path to walk or compress (a read that writes is a
poor fit for a shared store), and the member sets are what splitting a ring and listing it need
anyway. An application in no ring of two or more has no label (most applications: they cost
nothing here). Invariant kept by the index: a ring's label is one of its current members, so
labels never collide.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Protocol

from graph.model import AppMeta


class RingState(Protocol):
    """Storage of the application ↔ token edges, application metadata and ring membership."""

    # Applications (only the linking tokens are stored).
    def app_tokens(self, app_id: str) -> tuple[str, ...] | None: ...
    def put_app(self, app_id: str, tokens: tuple[str, ...], meta: AppMeta) -> None: ...
    def meta(self, app_id: str) -> AppMeta | None: ...
    def set_meta(self, app_id: str, meta: AppMeta) -> None: ...
    def drop_app(self, app_id: str) -> None: ...
    def app_count(self) -> int: ...
    def iter_apps(self) -> Iterator[str]: ...

    # Token adjacency; the degree is the number of distinct applications.
    def link(self, token: str, app_id: str) -> int: ...
    def unlink(self, token: str, app_id: str) -> int: ...
    def token_apps(self, token: str) -> Collection[str]: ...
    def token_degree(self, token: str) -> int: ...
    def token_count(self) -> int: ...
    def iter_tokens(self) -> Iterator[tuple[str, Collection[str]]]: ...

    # Rings of two or more applications.
    def label_of(self, app_id: str) -> str | None: ...
    def ring_members(self, label: str) -> Collection[str]: ...
    def ring_size(self, label: str) -> int: ...
    def ring_anchor(self, label: str) -> str: ...
    def create_ring(self, label: str, members: Collection[str], anchor: str) -> None: ...
    def extend_ring(self, label: str, apps: Collection[str], anchor: str) -> None: ...
    def absorb_ring(self, label: str, other: str, anchor: str) -> None: ...
    def shrink_ring(self, label: str, apps: Collection[str]) -> None: ...
    def relabel_ring(self, label: str, new_label: str) -> None: ...
    def dissolve_ring(self, label: str) -> list[str]: ...
    def ring_count(self) -> int: ...
    def iter_rings(self) -> Iterator[tuple[str, str]]: ...


class MemoryRingState:
    """Dicts and sets, tuned for millions of applications in one process.

    A token seen on a single application (most of them) stores that application's id instead of
    a one-element set (a set costs ~200 bytes). Keys are not interned: an interned-string table
    for millions of tokens costs more than the copies it saves, since most tokens have degree 1.
    """

    __slots__ = ("_anchor", "_app_tokens", "_label", "_members", "_meta", "_token_apps")

    def __init__(self) -> None:
        self._app_tokens: dict[str, tuple[str, ...]] = {}
        self._meta: dict[str, AppMeta] = {}
        self._token_apps: dict[str, str | set[str]] = {}
        self._label: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._anchor: dict[str, str] = {}

    # -- applications -------------------------------------------------------------------------
    def app_tokens(self, app_id: str) -> tuple[str, ...] | None:
        return self._app_tokens.get(app_id)

    def put_app(self, app_id: str, tokens: tuple[str, ...], meta: AppMeta) -> None:
        self._app_tokens[app_id] = tokens
        self._meta[app_id] = meta

    def meta(self, app_id: str) -> AppMeta | None:
        return self._meta.get(app_id)

    def set_meta(self, app_id: str, meta: AppMeta) -> None:
        if app_id not in self._meta:
            raise KeyError(app_id)
        self._meta[app_id] = meta

    def drop_app(self, app_id: str) -> None:
        self._app_tokens.pop(app_id, None)
        self._meta.pop(app_id, None)

    def app_count(self) -> int:
        return len(self._app_tokens)

    def iter_apps(self) -> Iterator[str]:
        return iter(self._app_tokens)

    # -- tokens -------------------------------------------------------------------------------
    def link(self, token: str, app_id: str) -> int:
        apps = self._token_apps.get(token)
        if apps is None:
            self._token_apps[token] = app_id
            return 1
        if isinstance(apps, str):
            if apps == app_id:
                return 1
            self._token_apps[token] = {apps, app_id}
            return 2
        apps.add(app_id)
        return len(apps)

    def unlink(self, token: str, app_id: str) -> int:
        apps = self._token_apps.get(token)
        if apps is None:
            return 0
        if isinstance(apps, str):
            if apps != app_id:
                return 1
            del self._token_apps[token]
            return 0
        apps.discard(app_id)
        if len(apps) == 1:
            self._token_apps[token] = next(iter(apps))
            return 1
        return len(apps)

    def token_apps(self, token: str) -> Collection[str]:
        apps = self._token_apps.get(token)
        if apps is None:
            return ()
        return (apps,) if isinstance(apps, str) else apps

    def token_degree(self, token: str) -> int:
        apps = self._token_apps.get(token)
        if apps is None:
            return 0
        return 1 if isinstance(apps, str) else len(apps)

    def token_count(self) -> int:
        return len(self._token_apps)

    def iter_tokens(self) -> Iterator[tuple[str, Collection[str]]]:
        for token, apps in self._token_apps.items():
            yield token, ((apps,) if isinstance(apps, str) else apps)

    # -- rings --------------------------------------------------------------------------------
    def label_of(self, app_id: str) -> str | None:
        return self._label.get(app_id)

    def ring_members(self, label: str) -> Collection[str]:
        return self._members[label]

    def ring_size(self, label: str) -> int:
        return len(self._members[label])

    def ring_anchor(self, label: str) -> str:
        return self._anchor[label]

    def create_ring(self, label: str, members: Collection[str], anchor: str) -> None:
        self._members[label] = set(members)
        self._anchor[label] = anchor
        self._label.update(dict.fromkeys(members, label))

    def extend_ring(self, label: str, apps: Collection[str], anchor: str) -> None:
        self._members[label].update(apps)
        self._anchor[label] = anchor
        self._label.update(dict.fromkeys(apps, label))

    def absorb_ring(self, label: str, other: str, anchor: str) -> None:
        moved = self._members.pop(other)
        del self._anchor[other]
        self._members[label] |= moved
        self._anchor[label] = anchor
        self._label.update(dict.fromkeys(moved, label))

    def shrink_ring(self, label: str, apps: Collection[str]) -> None:
        """Take members out (their labels cleared); the anchor stays the smallest remaining one."""
        members = self._members[label]
        members.difference_update(apps)
        for app_id in apps:
            del self._label[app_id]
        if members and self._anchor[label] not in members:
            self._anchor[label] = min(members)

    def relabel_ring(self, label: str, new_label: str) -> None:
        members = self._members.pop(label)
        self._members[new_label] = members
        self._anchor[new_label] = self._anchor.pop(label)
        self._label.update(dict.fromkeys(members, new_label))

    def dissolve_ring(self, label: str) -> list[str]:
        members = self._members.pop(label)
        del self._anchor[label]
        for app_id in members:
            del self._label[app_id]
        return list(members)

    def ring_count(self) -> int:
        return len(self._members)

    def iter_rings(self) -> Iterator[tuple[str, str]]:
        return iter(self._anchor.items())
