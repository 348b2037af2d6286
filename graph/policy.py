"""Which token types link applications into rings, and when a token is too common to count.

A phone shared by two applications from different people is evidence; an IP shared by three
hundred applications is a café's Wi-Fi. Each linking type has a *degree cap*: a token seen on more
distinct applications than its cap is a **hub token** and links nothing (see ``ring_index``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class TokenType(enum.IntEnum):
    """Mirror of ``lianfang.v1.TokenType`` (a test pins the values); graph/ imports no protobuf."""

    UNSPECIFIED = 0
    RESIDENT_ID = 1
    USCC = 2
    PHONE = 3
    EMAIL = 4
    DEVICE_ID = 5
    IP = 6
    IP_SUBNET = 7
    BANK_ACCOUNT = 8
    ADDRESS = 9
    LEGAL_REP = 10


def token_type_of(token_key: str) -> int:
    """The type int of a ``<scheme>.<type>.<epoch>.<hex>`` key (as ``consortium.records``)."""
    return int(token_key.split(".", 2)[1])


def token_type_name(token_type: int) -> str:
    """``"phone"`` for 3; ``"type_99"`` for a type this library does not know."""
    name = _TYPE_NAMES.get(token_type)
    return name if name is not None else f"type_{token_type}"


_TYPE_NAMES = {int(t): t.name.lower() for t in TokenType}  # the ring fold names types on every link


DEFAULT_CAPS: Mapping[int, int] = MappingProxyType(
    {
        TokenType.RESIDENT_ID: 30,
        TokenType.USCC: 30,
        TokenType.PHONE: 10,
        TokenType.EMAIL: 10,
        TokenType.DEVICE_ID: 10,
        TokenType.IP: 20,
        TokenType.BANK_ACCOUNT: 10,
        TokenType.ADDRESS: 8,
        TokenType.LEGAL_REP: 30,
    }
)
"""IP_SUBNET is absent on purpose: a /24 is shared by a whole neighbourhood and never links."""


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Linking token types and their degree caps (``caps``: type → max distinct applications).

    A type absent from ``caps`` does not link and is not stored by the ring index. A token whose
    degree (distinct applications) is greater than its type's cap is a hub token.
    """

    caps: Mapping[int, int] = field(default_factory=lambda: DEFAULT_CAPS)
    _by_type: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _by_text: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for token_type, cap in self.caps.items():
            if token_type < 0 or cap < 1:
                raise ValueError(f"bad cap {cap} for token type {token_type}: types ≥ 0, caps ≥ 1")
        size = max(self.caps, default=-1) + 1
        table = [-1] * size
        for token_type, cap in self.caps.items():
            table[token_type] = cap
        # A frozen dataclass: the lookup table is derived state, set once here.
        object.__setattr__(self, "caps", MappingProxyType(dict(self.caps)))
        object.__setattr__(self, "_by_type", tuple(table))
        # cap_of runs once per token of every application: look the type up by its text.
        by_text = {str(token_type): -1 for token_type in range(max(size, 64))}
        by_text.update((str(token_type), cap) for token_type, cap in enumerate(table))
        object.__setattr__(self, "_by_text", by_text)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.caps.items())))

    @classmethod
    def with_caps(cls, **caps_by_name: int) -> LinkPolicy:
        """The default policy with some caps changed, by type name: ``with_caps(ip=50)``."""
        caps = dict(DEFAULT_CAPS)
        for name, cap in caps_by_name.items():
            caps[TokenType[name.upper()]] = cap
        return cls(caps=caps)

    def cap_of_type(self, token_type: int) -> int:
        """The cap of a type, or -1 when the type does not link."""
        table = self._by_type
        return table[token_type] if 0 <= token_type < len(table) else -1

    def cap_of(self, token_key: str) -> int:
        """The cap of a token key's type, or -1 when it does not link (or is malformed)."""
        parts = token_key.split(".", 2)
        if len(parts) < 3:
            return -1
        cap = self._by_text.get(parts[1])
        if cap is not None:
            return cap
        try:
            return self.cap_of_type(int(parts[1]))  # e.g. "03": not how the hub writes keys
        except ValueError:
            return -1

    def links(self, token_key: str) -> bool:
        return self.cap_of(token_key) >= 0
