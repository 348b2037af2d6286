"""Split a ring that lost connectivity (a token crossed its cap, or an application left).

Union-find cannot un-merge, and recomputing the whole ring on every loss is quadratic when a ring
is large: early in a stream, public IPs and office addresses that have not reached their caps yet
chain thousands of applications into one transient ring, and each of those tokens then crosses
its cap inside it (measured: ~650 recomputes over 1.7 M members in the first 100k of 1 M
applications). So the search is *interleaved*: one breadth-first search per **witness** (an
application that may have lost its link), advanced in turn, merged when they meet, stopped as
soon as at most one is still running. A search that runs out is a complete component and is split
off; the last one standing is the rest of the ring, which keeps its label without being walked.
Work is proportional to the pieces split off (times the number of witnesses), not to the ring.

Correctness: every member of the ring still reaches some witness without the lost connectivity
(follow any old path to the first lost edge: its end is a witness), so the pieces and the rest
cover the ring; a finished search met no other, so its component holds no other witness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from graph.state import RingState


def split_ring(state: RingState, cap_of: Callable[[str], int], label: str, witnesses: Iterable[str]) -> None:
    """Split ring ``label`` into its components; ``witnesses`` cover every place a link was lost."""
    owner: dict[str, int] = {}  # application → the search that claimed it (see ``alias``)
    alias: list[int] = []  # search → the search it merged into (itself while it is a root)
    visited: list[list[str]] = []
    frontier: list[list[str]] = []
    for app_id in witnesses:
        if app_id not in owner and state.label_of(app_id) == label:
            owner[app_id] = len(alias)
            alias.append(len(alias))
            visited.append([app_id])
            frontier.append([app_id])
    if len(alias) < 2:
        return  # every member reaches the one witness: nothing splits

    def root(search: int) -> int:
        while alias[search] != search:
            alias[search] = alias[alias[search]]
            search = alias[search]
        return search

    running = dict.fromkeys(range(len(alias)))  # ordered: a deterministic round-robin
    finished: list[int] = []
    seen_tokens: set[str] = set()
    while len(running) > 1:
        for search in list(running):
            if search not in running:
                continue  # merged into another during this round
            if not frontier[search]:
                del running[search]
                finished.append(search)
                continue
            for token in state.app_tokens(frontier[search].pop()) or ():
                if token in seen_tokens:
                    continue
                seen_tokens.add(token)
                apps = state.token_apps(token)
                if len(apps) < 2 or len(apps) > cap_of(token):
                    continue  # links nothing: the application's own token, or a hub token
                for other in apps:
                    claimed = owner.get(other)
                    if claimed is None:
                        if state.label_of(other) == label:  # never leave the ring
                            owner[other] = search
                            visited[search].append(other)
                            frontier[search].append(other)
                        continue
                    met = root(claimed)
                    if met != search:  # two searches met: one component, keep the larger
                        small, large = sorted((search, met), key=lambda s: len(visited[s]))
                        alias[small] = large
                        visited[large] += visited[small]
                        frontier[large] += frontier[small]
                        visited[small], frontier[small] = [], []
                        running.pop(small, None)
                        search = large
            if len(running) <= 1:
                break

    pieces = [search for search in finished if alias[search] == search]
    if not running:  # every search finished: the largest piece stays as the ring
        pieces.remove(max(pieces, key=lambda s: len(visited[s])))
    if not pieces:
        return
    removed = [app_id for search in pieces for app_id in visited[search]]
    state.shrink_ring(label, removed)
    if state.ring_size(label) < 2:
        state.dissolve_ring(label)
    elif label in set(removed):  # a label must stay one of the ring's members
        state.relabel_ring(label, state.ring_anchor(label))
    for search in pieces:
        piece = visited[search]
        if len(piece) > 1:
            anchor = min(piece)
            state.create_ring(anchor, piece, anchor)
