"""From rule hits to an outcome: approve, refer (to a human) or decline.

The one policy that is not data: **a consortium answer alone never declines an application.**
A decline hit from a rule whose source is ``consortium`` (stacking at other lenders, a shared
blacklist marker, a linked ring) is downgraded to *refer*: a credit approver sees the reason
codes and decides. Consortium markers are filed by other members, can be wrong or stale, and
the applicant has the right to refuse a decision made solely by automated means (PIPL art. 24),
so they trigger human review, not an automatic refusal. The loader makes every rule that reads a
``cs_`` feature a consortium rule, so the downgrade cannot be sidestepped by mislabelling.

Order: any decline from a non-consortium rule → decline; otherwise any refer (including
downgraded consortium declines) → refer; otherwise approve. Flags never change the outcome;
they are listed for the reviewer and the post-loan officer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from node.rules.model import RuleHit

Outcome = Literal["approve", "refer", "decline"]


@dataclass(frozen=True)
class Decision:
    """The outcome and the reason codes behind it (deduplicated, in hit order)."""

    outcome: Outcome
    reasons: tuple[str, ...]
    """Reason codes that produced the outcome: the declines, or the refers (with downgrades)."""
    downgraded: tuple[str, ...] = ()
    """Consortium decline reason codes that were turned into refer."""
    flags: tuple[str, ...] = ()
    """Reason codes of flag hits (informational)."""


def decide(hits: Iterable[RuleHit]) -> Decision:
    """Apply the decline / refer / approve order, with the consortium downgrade."""
    declines: list[str] = []
    refers: list[str] = []
    downgraded: list[str] = []
    flags: list[str] = []
    for hit in hits:
        if hit.action == "decline":
            if hit.is_consortium:
                downgraded.append(hit.reason_code)
                refers.append(hit.reason_code)
            else:
                declines.append(hit.reason_code)
        elif hit.action == "refer":
            refers.append(hit.reason_code)
        else:
            flags.append(hit.reason_code)
    if declines:
        outcome: Outcome = "decline"
        reasons = declines
    elif refers:
        outcome, reasons = "refer", refers
    else:
        outcome, reasons = "approve", []
    return Decision(outcome, _unique(reasons), _unique(downgraded), _unique(flags))


def _unique(codes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))
