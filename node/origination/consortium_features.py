"""The hub's answer as rule inputs: stacking per type × window, marker counts by polarity, ring.

Feature names follow the catalogue (node/rules/features.py): ``cs_stack_<type>_<window>_members``
/ ``…_apps`` and the ``cs_blacklist_*`` / ``cs_protective`` summaries and ``cs_ring_*`` (0 when the application
links to no other); consortium rules read them. A ``shared`` identifier type (given by several
different applicants) contributes no stacking counts; ``cs_shared_identifiers`` counts such types.
"""

from __future__ import annotations

import math
from typing import Any

from lianfang.v1 import common_pb2, consortium_pb2

_TYPE = {v: n.removeprefix("TOKEN_TYPE_").lower() for n, v in common_pb2.TokenType.items() if v}
_WINDOW = {v: n.removeprefix("WINDOW_").lower() for n, v in common_pb2.Window.items() if v}


def consortium_features(answer: consortium_pb2.CheckResponse) -> dict[str, Any]:
    features: dict[str, Any] = {
        f"cs_stack_{t}_{w}_{k}": 0 for t in _TYPE.values() for w in _WINDOW.values() for k in ("members", "apps")
    }
    shared = 0
    for stacking in answer.stacking:
        if stacking.shared:  # a switchboard number or family device: not this applicant's stacking
            shared += 1
            continue
        t = _TYPE.get(stacking.token_type)
        for window in stacking.windows:
            w = _WINDOW.get(window.window)
            if t is None or w is None:  # a type or window newer than this node's contract
                continue
            features[f"cs_stack_{t}_{w}_members"] = window.other_members
            features[f"cs_stack_{t}_{w}_apps"] = window.other_applications
    negative = fraud = evidence = filers = 0
    protective = False
    for hit in answer.blacklist:
        if hit.polarity == common_pb2.MARKER_POLARITY_PROTECTIVE:
            protective = True
            continue
        negative += 1
        fraud += hit.marker_type == common_pb2.MARKER_TYPE_CONFIRMED_FRAUD
        evidence = max(evidence, hit.evidence_level)
        filers = max(filers, hit.filing_members)  # members per group; a lower bound across groups
    features.update(
        cs_blacklist_negative=negative,
        cs_blacklist_confirmed_fraud=fraud,
        cs_blacklist_max_evidence=evidence,
        cs_blacklist_filing_members=filers,
        cs_protective=protective,
        cs_shared_identifiers=shared,
    )
    ring = answer.ring if answer.HasField("ring") else None
    score = ring.score if ring else 0.0
    features.update(
        cs_ring_score=score if math.isfinite(score) else None,  # not a number: missing, not a verdict
        cs_ring_members=ring.lenders if ring else 0,
        cs_ring_applications=ring.size if ring else 0,
    )
    return features
