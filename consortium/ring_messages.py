"""Rings on the wire: the ``Ring`` message and the ring reason codes of a Check.

Shared by ``Check`` (the member's answer) and the ``AnalystService``, so both describe a ring in
the same words. Nothing here names another member's application: counts and token types only.
"""

from __future__ import annotations

from lianfang.v1 import consortium_pb2

from consortium import wire
from consortium.rings import RingView
from graph.policy import TokenType

HIGH_RISK_SCORE = 0.7
"""A ring at or above this score is reported with RING_HIGH_RISK."""

SHARED_IDENTITY_PERSONS = 3
"""This many distinct applicants on one device or phone is reported with RING_SHARED_DEVICE."""


def ring_message(view: RingView) -> consortium_pb2.Ring:
    ring = consortium_pb2.Ring()
    fill_ring(ring, view)
    return ring


def fill_ring(ring: consortium_pb2.Ring, view: RingView) -> None:
    """Writes ``view`` into an empty ``ring`` in place: a Check fills its answer's own field
    (building a Ring and copying it in costs half as much again, on every linked answer)."""
    s, score = view.summary, view.score
    ring.ring_id = view.public_id
    ring.size = s.size
    ring.lenders = s.lenders
    ring.persons = s.persons
    ring.blacklisted = s.blacklisted
    ring.defaulted = s.defaults
    ring.fraud_confirmed = s.fraud_confirmed
    ring.max_persons_per_device_or_phone = s.max_persons_per_device_or_phone
    ring.applications_per_day = s.apps_per_day
    ring.score = score.score
    shared = ring.shared_token_types
    for name, count in s.shared_token_types:
        token_type = TokenType.__members__.get(name.upper())
        if token_type is not None:
            shared.add(token_type=token_type, tokens=count)
    add_factor = ring.factors.add
    for f in score.factors:  # field by field: faster than add(**fields)
        factor = add_factor()
        factor.name, factor.value, factor.contribution, factor.explanation = f
    ring.first_seen.FromNanoseconds(int(s.first_seen * 1e9))
    ring.last_seen.FromNanoseconds(int(s.last_seen * 1e9))


def ring_reasons_wire(view: RingView) -> list[bytes]:
    """:func:`ring_reason_parts` as ``CheckResponse.reasons`` wire entries."""
    return [wire.reason(code, t, detail) for code, t, detail in ring_reason_parts(view)]


def ring_reason_parts(view: RingView) -> list[tuple[str, int, str]]:
    """(code, token type, detail) of each ring reason: RING_LINKED for any ring; RING_HIGH_RISK,
    RING_BLACKLISTED_MEMBER, RING_SHARED_DEVICE and RING_CONFIRMED_FRAUD for what makes one
    risky. Each names the top shared token type."""
    s, score = view.summary, view.score
    top_name = s.shared_token_types[0][0] if s.shared_token_types else ""
    top_type = TokenType.__members__.get(top_name.upper(), TokenType.UNSPECIFIED)
    linked_by = ", ".join(f"{name}×{count}" for name, count in s.shared_token_types)

    def reason(code: str, detail: str) -> tuple[str, int, str]:
        return code, int(top_type), detail

    reasons = []
    if score.score >= HIGH_RISK_SCORE:
        top = ", ".join(f.name for f in score.factors[:3] if f.contribution > 0)
        reasons.append(reason("RING_HIGH_RISK", f"ring score {score.score:.2f} (mostly {top})"))
    if s.fraud_confirmed:
        reasons.append(reason("RING_CONFIRMED_FRAUD", f"{s.fraud_confirmed} linked application(s) confirmed fraud"))
    if s.blacklisted:
        reasons.append(reason("RING_BLACKLISTED_MEMBER", f"{s.blacklisted} linked application(s) blacklisted"))
    if s.max_persons_per_device_or_phone >= SHARED_IDENTITY_PERSONS:
        reasons.append(
            reason(
                "RING_SHARED_DEVICE",
                f"{s.max_persons_per_device_or_phone} distinct applicants share one device or phone",
            )
        )
    reasons.append(
        reason(
            "RING_LINKED",
            f"linked to {s.size - 1} other application(s) at {s.lenders} lender(s) via {linked_by}",
        )
    )
    return reasons
