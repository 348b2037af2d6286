"""What the ring index knows about an application besides its tokens: enough to score a ring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graph.policy import TokenType, token_type_of

APP_ID_SEPARATOR = "\x1f"
"""The hub's application ids are ``<member_id>\\x1f<application_ref>``."""


def app_id_of(member_id: str, application_ref: str) -> str:
    return f"{member_id}{APP_ID_SEPARATOR}{application_ref}"


@dataclass(frozen=True, slots=True)
class AppMeta:
    """Scoring facts about one application; outcomes and the blacklist flag change later.

    ``person`` identifies the applicant (e.g. the resident-ID token) so a ring can tell one person
    applying at five lenders (stacking) from five people sharing one phone (a ring); ``None``
    means unknown, counted by its phone (``graph.summary.applicant_of``).
    """

    member_id: str = ""
    received_at: float = 0.0
    person: str | None = None
    defaulted: bool = False
    fraud_confirmed: bool = False
    blacklisted: bool = False


EMPTY_META = AppMeta()

_PERSON_TYPES = (TokenType.RESIDENT_ID, TokenType.USCC)


def person_key_of(token_keys: Iterable[str]) -> str | None:
    """The applicant's identity token: the resident ID, else the company's USCC, else None.

    The smallest key wins when an application carries several, so the choice is order-independent.
    """
    best: dict[int, str] = {}
    for key in token_keys:
        try:
            token_type = token_type_of(key)
        except (IndexError, ValueError):
            continue
        if token_type in _PERSON_TYPES and (token_type not in best or key < best[token_type]):
            best[token_type] = key
    for token_type in _PERSON_TYPES:
        if token_type in best:
            return best[token_type]
    return None
