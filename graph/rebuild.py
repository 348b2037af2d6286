"""Full rebuild of the ring index from stored edges: a static algorithm, not a replay.

Replaying the edges through ``RingIndex.add_application`` would also give the right rings, but a
rebuild should not share the incremental code's reasoning about hub crossings: it loads all
edges first, so every token's degree is final, then joins the applications of each token within
its cap with a union-find (path halving) and writes each component once. That the two agree is
the property tests check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graph.model import EMPTY_META, AppMeta
from graph.policy import LinkPolicy
from graph.state import RingState


def rebuild_state(
    edges: Iterable[tuple[str, str]],
    policy: LinkPolicy,
    state: RingState,
    metas: Mapping[str, AppMeta] | None = None,
) -> RingState:
    """Load ``(app_id, token_key)`` edges into an empty ``state`` and label its rings.

    Every application named by an edge is indexed, even when all its tokens are non-linking
    (as ``add_application`` does); ``metas`` adds applications without edges and their metadata.
    Edges grouped by application (as stores return them) are cheapest; any order is correct.
    """
    if state.app_count() or state.token_count():
        raise ValueError("rebuild needs an empty state")
    cap_of = policy.cap_of
    metas = metas or {}

    def put(app_id: str, tokens: list[str]) -> None:
        old = state.app_tokens(app_id)
        if old is not None:  # the edges were not grouped by application
            tokens = [*old, *tokens]
        unique = tuple(dict.fromkeys(tokens)) if len(tokens) > 1 else tuple(tokens)
        state.put_app(app_id, unique, metas.get(app_id, EMPTY_META))

    current: str | None = None
    tokens: list[str] = []
    for app_id, token in edges:
        if app_id != current:
            if current is not None:
                put(current, tokens)
            current, tokens = app_id, []
        if cap_of(token) >= 0:
            tokens.append(token)
            state.link(token, app_id)
    if current is not None:
        put(current, tokens)
    for app_id, meta in metas.items():
        if state.app_tokens(app_id) is None:
            state.put_app(app_id, (), meta)

    parent: dict[str, str] = {}

    def find(app_id: str) -> str:
        up = parent.setdefault(app_id, app_id)
        while up != app_id:
            grand = parent[up]
            parent[app_id] = grand  # path halving
            app_id = grand
            up = parent[app_id]
        return app_id

    for token, apps in state.iter_tokens():
        if 2 <= len(apps) <= cap_of(token):
            it = iter(apps)
            first = find(next(it))
            for other in it:
                root = find(other)
                if root != first:
                    parent[root] = first

    components: dict[str, list[str]] = {}
    for app_id in parent:
        components.setdefault(find(app_id), []).append(app_id)
    for members in components.values():
        if len(members) > 1:
            anchor = min(members)
            state.create_ring(anchor, members, anchor)
    return state
