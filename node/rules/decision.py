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


@dataclass(frozen=True)
class Verdicts:
    """Rule hits sorted by what they ask for, consortium declines downgraded (each deduplicated,
    in hit order): what ``decide`` and the node's stage 1 decision both start from."""

    declines: tuple[str, ...]
    refers: tuple[str, ...]
    """Refers, and the consortium declines turned into refers."""
    downgraded: tuple[str, ...]
    flags: tuple[str, ...]


def sort_hits(hits: Iterable[RuleHit]) -> Verdicts:
    """The consortium downgrade: a decline from a consortium rule refers."""
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
    return Verdicts(_unique(declines), _unique(refers), _unique(downgraded), _unique(flags))


def decide(hits: Iterable[RuleHit]) -> Decision:
    """Apply the decline / refer / approve order, with the consortium downgrade."""
    v = sort_hits(hits)
    if v.declines:
        return Decision("decline", v.declines, v.downgraded, v.flags)
    if v.refers:
        return Decision("refer", v.refers, v.downgraded, v.flags)
    return Decision("approve", (), v.downgraded, v.flags)


def _unique(codes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))
