"""Incremental ring index: applications join a ring when they share a linking, non-hub token.

**Semantics** (a pure function of the current edge set, so insertion order cannot matter): a
token *links* when its type is in the :class:`LinkPolicy` and its degree — distinct applications
carrying it — is at most its type's cap. A ring is a connected component of applications over
linking tokens. A token above its cap is a *hub token* and links nothing, not even the
applications that carried it before it crossed the cap: "the first twenty users of a café's
Wi-Fi are a ring" would depend on arrival order, and a rebuild could not reproduce it.

**Incremental maintenance.** Rings are labelled member sets (see ``state``). Adding an application
links its new tokens; a token still within its cap merges rings (the smaller set is relabelled, so
an application is relabelled O(log n) times by merges). A token that just crossed its cap can only
*remove* connectivity, and only inside the ring that held all its earlier applications: that ring
is split by searches from those applications over the stored edges (``split``: work proportional
to the pieces split off, not to the ring). Removing an application (expiry) is the mirror image:
its ring is split by searches from the applications it linked to, then tokens that fell back to
their cap merge their applications again. After every call the rings are exactly the components
of the current edges, which is what :func:`graph.rebuild.rebuild_state` computes statically.

**Ring ids** are the smallest application id in the ring (a singleton's id is its own
application id): deterministic across hub processes and arrival orders, unchanged while that
member stays its smallest. An id goes stale when its ring merges, splits or takes in an
application with a smaller id (node ids are random: a ring that grows to k applications changes
id about ln k times); a stale id resolves to no members: ask ``ring_of`` (by application) again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from graph.model import EMPTY_META, AppMeta
from graph.policy import LinkPolicy
from graph.split import split_ring
from graph.state import MemoryRingState, RingState


@dataclass(frozen=True)
class IndexSnapshot:
    """Everything the index derives from its edges, for comparing two indexes exactly."""

    app_tokens: Mapping[str, frozenset[str]]
    metas: Mapping[str, AppMeta]
    rings: frozenset[tuple[str, frozenset[str]]]
    hub_tokens: frozenset[str]


class RingIndex:
    """The ring index over a :class:`RingState` (in memory unless a store is given)."""

    __slots__ = ("_cap_of", "_policy", "_state")

    def __init__(self, policy: LinkPolicy | None = None, state: RingState | None = None) -> None:
        self._policy = policy if policy is not None else LinkPolicy()
        self._state: RingState = state if state is not None else MemoryRingState()
        self._cap_of = self._policy.cap_of

    @classmethod
    def rebuild(
        cls,
        edges: Iterable[tuple[str, str]],
        *,
        policy: LinkPolicy | None = None,
        metas: Mapping[str, AppMeta] | None = None,
        state: RingState | None = None,
    ) -> RingIndex:
        """A fresh index from stored ``(app_id, token_key)`` edges; same rings as incremental."""
        from graph.rebuild import rebuild_state  # rebuild is a separate algorithm, loaded on use

        index = cls(policy, state)
        rebuild_state(edges, index._policy, index._state, metas)
        return index

    @property
    def policy(self) -> LinkPolicy:
        return self._policy

    @property
    def state(self) -> RingState:
        return self._state

    # -- updates ------------------------------------------------------------------------------
    def add_application(self, app_id: str, token_keys: Iterable[str], meta: AppMeta | None = None) -> str:
        """Index an application (again: its new tokens are added, ``meta`` replaces); its ring id.

        Tokens of non-linking types are ignored: they never link, so they are not stored.
        """
        state, cap_of = self._state, self._cap_of
        wanted = [(token, cap) for token in dict.fromkeys(token_keys) if (cap := cap_of(token)) >= 0]
        old = state.app_tokens(app_id)
        if old is None:
            new = wanted
            state.put_app(app_id, tuple(token for token, _ in new), meta if meta is not None else EMPTY_META)
        else:
            have = set(old)
            new = [(token, cap) for token, cap in wanted if token not in have]
            if new or meta is not None:
                kept = meta if meta is not None else state.meta(app_id) or EMPTY_META
                state.put_app(app_id, old + tuple(token for token, _ in new), kept)
        witnesses: list[str] = []
        for token, cap in new:
            degree = state.link(token, app_id)
            if degree <= cap:
                if degree > 1:
                    self._union(app_id, self._other(token, app_id))
            elif degree == cap + 1 and degree > 1:  # just became a hub token: unlink its old apps
                witnesses.extend(other for other in state.token_apps(token) if other != app_id)
        if witnesses:
            by_ring: dict[str, list[str]] = {}
            for witness in witnesses:
                label = state.label_of(witness)
                if label is not None:
                    by_ring.setdefault(label, []).append(witness)
            for label, group in by_ring.items():
                split_ring(state, cap_of, label, group)
        ring_id = self.ring_of(app_id)
        assert ring_id is not None
        return ring_id

    def remove_application(self, app_id: str) -> bool:
        """Forget an application (expiry); False when it was not indexed."""
        state, cap_of = self._state, self._cap_of
        tokens = state.app_tokens(app_id)
        if tokens is None:
            return False
        label = state.label_of(app_id)
        relinked: list[str] = []
        witnesses: list[str] = []  # applications it was linked to
        for token in tokens:
            cap = cap_of(token)
            degree = state.unlink(token, app_id)
            if degree == cap and cap > 1:
                relinked.append(token)  # was one over its cap: links again
            elif 0 < degree < cap:
                witnesses.extend(state.token_apps(token))
        state.drop_app(app_id)
        if label is not None:
            state.shrink_ring(label, (app_id,))
            if state.ring_size(label) < 2:
                state.dissolve_ring(label)
            else:
                if label == app_id:  # a label must stay one of the ring's members
                    anchor = state.ring_anchor(label)
                    state.relabel_ring(label, anchor)
                    label = anchor
                split_ring(state, cap_of, label, witnesses)
        for token in relinked:
            apps = iter(list(state.token_apps(token)))
            first = next(apps)
            for other in apps:
                self._union(first, other)
        return True

    def update_meta(
        self,
        app_id: str,
        *,
        defaulted: bool | None = None,
        fraud_confirmed: bool | None = None,
        blacklisted: bool | None = None,
    ) -> AppMeta:
        """Record an outcome or a blacklist change (None leaves a flag as it is); the new meta."""
        meta = self._state.meta(app_id)
        if meta is None:
            raise KeyError(app_id)
        meta = replace(
            meta,
            defaulted=meta.defaulted if defaulted is None else defaulted,
            fraud_confirmed=meta.fraud_confirmed if fraud_confirmed is None else fraud_confirmed,
            blacklisted=meta.blacklisted if blacklisted is None else blacklisted,
        )
        self._state.set_meta(app_id, meta)
        return meta

    # -- queries ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._state.app_count()

    def __contains__(self, app_id: object) -> bool:
        return isinstance(app_id, str) and self._state.app_tokens(app_id) is not None

    def ring_of(self, app_id: str) -> str | None:
        """The ring id of an application, or None when it is not indexed."""
        label = self._state.label_of(app_id)
        if label is not None:
            return self._state.ring_anchor(label)
        return app_id if self._state.app_tokens(app_id) is not None else None

    def members(self, ring_id: str) -> tuple[str, ...]:
        """The ring's application ids, sorted; empty for an unknown or stale ring id."""
        label = self._state.label_of(ring_id)
        if label is None:
            return (ring_id,) if self._state.app_tokens(ring_id) is not None else ()
        if self._state.ring_anchor(label) != ring_id:
            return ()
        return tuple(sorted(self._state.ring_members(label)))

    def ring_size(self, ring_id: str) -> int:
        label = self._state.label_of(ring_id)
        if label is None:
            return 1 if self._state.app_tokens(ring_id) is not None else 0
        return self._state.ring_size(label) if self._state.ring_anchor(label) == ring_id else 0

    def rings(self) -> Iterator[tuple[str, int]]:
        """``(ring_id, size)`` of every ring of two or more applications, in no order."""
        state = self._state
        for label, anchor in state.iter_rings():
            yield anchor, state.ring_size(label)

    def tokens_of(self, app_id: str) -> tuple[str, ...]:
        """The application's linking tokens (hub tokens included); empty when unknown."""
        return self._state.app_tokens(app_id) or ()

    def apps_of(self, token: str) -> Collection[str]:
        """The applications carrying a token (do not mutate; may be large for a hub token)."""
        return self._state.token_apps(token)

    def meta(self, app_id: str) -> AppMeta | None:
        return self._state.meta(app_id)

    def token_degree(self, token: str) -> int:
        return self._state.token_degree(token)

    def is_hub_token(self, token: str) -> bool:
        """True when the token's degree is above its type's cap (it links nothing)."""
        cap = self._cap_of(token)
        return cap >= 0 and self._state.token_degree(token) > cap

    def links(self, token: str) -> bool:
        """True when the token currently joins two or more applications into one ring."""
        return 2 <= self._state.token_degree(token) <= self._cap_of(token)

    def edges(self) -> Iterator[tuple[str, str]]:
        """Every stored ``(app_id, token_key)`` edge: what a rebuild starts from."""
        state = self._state
        for app_id in state.iter_apps():
            for token in state.app_tokens(app_id) or ():
                yield app_id, token

    def snapshot(self) -> IndexSnapshot:
        state = self._state
        apps = {app_id: frozenset(state.app_tokens(app_id) or ()) for app_id in state.iter_apps()}
        return IndexSnapshot(
            app_tokens=apps,
            metas={app_id: state.meta(app_id) or EMPTY_META for app_id in apps},
            rings=frozenset((anchor, frozenset(state.ring_members(label))) for label, anchor in state.iter_rings()),
            hub_tokens=frozenset(token for token, _ in state.iter_tokens() if self.is_hub_token(token)),
        )

    # -- internals ----------------------------------------------------------------------------
    def _other(self, token: str, app_id: str) -> str:
        for other in self._state.token_apps(token):
            if other != app_id:
                return other
        raise AssertionError(f"token of degree ≥ 2 with a single application: {token}")

    def _union(self, a: str, b: str) -> None:
        state = self._state
        label_a, label_b = state.label_of(a), state.label_of(b)
        if label_a is None and label_b is None:
            anchor = min(a, b)
            state.create_ring(anchor, (a, b), anchor)
        elif label_a == label_b:
            return
        elif label_a is None:
            assert label_b is not None
            state.extend_ring(label_b, (a,), min(a, state.ring_anchor(label_b)))
        elif label_b is None:
            state.extend_ring(label_a, (b,), min(b, state.ring_anchor(label_a)))
        else:
            if state.ring_size(label_a) < state.ring_size(label_b):
                label_a, label_b = label_b, label_a
            state.absorb_ring(label_a, label_b, min(state.ring_anchor(label_a), state.ring_anchor(label_b)))
