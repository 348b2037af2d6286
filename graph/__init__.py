"""Link graph of applications and tokens: incremental ring index, ring scoring, analysis.

A pure library (no gRPC, no protobuf) used by the hub. The core is importable from here; the
networkx-based modules (``graph.subgraph``, ``graph.analysis``, ``graph.export``) are imported
on their own so that indexing does not pay for networkx.
"""

from graph.model import AppMeta, app_id_of, person_key_of
from graph.policy import LinkPolicy, TokenType, token_type_of
from graph.ring_index import IndexSnapshot, RingIndex
from graph.scoring import Factor, RingScore, ScoringConfig, score_ring
from graph.state import MemoryRingState, RingState
from graph.summary import RingSummary, summarize

__all__ = [
    "AppMeta",
    "Factor",
    "IndexSnapshot",
    "LinkPolicy",
    "MemoryRingState",
    "RingIndex",
    "RingScore",
    "RingState",
    "RingSummary",
    "ScoringConfig",
    "TokenType",
    "app_id_of",
    "person_key_of",
    "score_ring",
    "summarize",
    "token_type_of",
]
