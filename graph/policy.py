"""Which token types link applications into rings, when a token is too common to count, and
for how long a token links.

A phone shared by two applications from different people is evidence; an IP shared by three
hundred applications is a café's Wi-Fi. Each linking type has a *degree cap*: a token seen on more
distinct applications than its cap is a **hub token** and links nothing (see ``ring_index``).

Some types link only applications close in time: an IP address is reassigned by the carrier
within days, so the same IP a month apart is two strangers, while the same IP within hours is the
seed's "same-IP batch applications". A *windowed* type's token enters the ring index once per
window of time it was seen in (``link_keys``: the key suffixed ``@<window start>``), each with its
own degree. Without windows, IPs drawn at random from a pool link applications weeks apart until
one ring holds nearly every application and answers RING_LINKED (and, with a single blacklisted
member in it, RING_HIGH_RISK) to everybody.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
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

DAY = 86_400

DEFAULT_WINDOWS: Mapping[int, int] = MappingProxyType({TokenType.IP: DAY})
"""An IP links the applications of one day (its cap, 20, counts per day: a café's Wi-Fi is a
hub token on the days it is busy)."""

DEFAULT_WINDOW_START = 20 * 3600
"""Windows start at 20:00 UTC, 04:00 in China (UTC+8): in the consortium's small hours, when the
fewest applications are sent, so the fewest same-IP bursts are cut in two. (At UTC midnight a
day would end at 08:00 in China, as its working day's applications begin.)"""

WINDOW_MARK = "@"
"""Separates a windowed token's key from its window's start in the ring index's token
(``"1.6.1.9f…@1796601600"``); never part of a token key."""


def raw_key(index_token: str) -> str:
    """The token key behind a ring index token: the key without its window (``link_keys``)."""
    return index_token.partition(WINDOW_MARK)[0]


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Linking token types, their degree caps and their link windows.

    A type absent from ``caps`` does not link and is not stored by the ring index. A token whose
    degree (distinct applications) is greater than its type's cap is a hub token.
    """

    caps: Mapping[int, int] = field(default_factory=lambda: DEFAULT_CAPS)
    """Linking type → the most distinct applications one of its tokens may link."""

    windows: Mapping[int, int] = field(default_factory=lambda: DEFAULT_WINDOWS)
    """Type → seconds: its tokens link only applications received in the same window (windows
    start ``window_start`` plus a multiple of it after the Unix epoch). A type absent here links
    for as long as its applications are retained; a window on a type that does not link changes
    nothing."""

    window_start: int = DEFAULT_WINDOW_START
    """Seconds into the UTC day at which windows start (0 to 86,399; for a window that does not
    divide a day, the epoch's day)."""

    _by_type: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _by_text: dict[str, int] = field(init=False, repr=False, compare=False)
    _windows_by_text: dict[str, int] = field(init=False, repr=False, compare=False)
    _windows_by_type: dict[int, int] = field(init=False, repr=False, compare=False)
    fingerprint: str = field(init=False, compare=False)
    """A short digest of what links (caps and windows): hubs that log it with their events can
    tell when another hub on the store links under other settings."""

    def __post_init__(self) -> None:
        for token_type, cap in self.caps.items():
            if token_type < 0 or cap < 1:
                raise ValueError(f"bad cap {cap} for token type {token_type}: types ≥ 0, caps ≥ 1")
        for token_type, window in self.windows.items():
            if token_type < 0 or not isinstance(window, int) or window < 1:
                raise ValueError(f"bad window {window!r} for token type {token_type}: whole seconds ≥ 1")
        if not isinstance(self.window_start, int) or not 0 <= self.window_start < DAY:
            raise ValueError(f"bad window start {self.window_start!r}: whole seconds into the UTC day, 0 to {DAY - 1}")
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
        object.__setattr__(self, "windows", MappingProxyType(dict(self.windows)))
        windows_by_type = {t: w for t, w in self.windows.items() if self.cap_of_type(t) >= 0}
        object.__setattr__(self, "_windows_by_type", windows_by_type)
        object.__setattr__(self, "_windows_by_text", {str(t): w for t, w in windows_by_type.items()})
        # By value: DEFAULT_CAPS is keyed by TokenType, a configured policy by int (equal, other repr).
        # A window's start counts modulo its length, and only when it moves the window off the
        # epoch's multiples: a policy that links as an older one did keeps that one's fingerprint.
        linking = (
            sorted((int(t), c) for t, c in self.caps.items()),
            sorted(
                (int(t), w, *([shift] if (shift := self.window_start % w) else [])) for t, w in windows_by_type.items()
            ),
        )
        object.__setattr__(self, "fingerprint", hashlib.sha256(repr(linking).encode()).hexdigest()[:8])

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.caps.items())), tuple(sorted(self.windows.items())), self.window_start))

    @classmethod
    def with_caps(cls, **caps_by_name: int) -> LinkPolicy:
        """The default policy with some caps changed, by type name: ``with_caps(ip=50)``."""
        caps = dict(DEFAULT_CAPS)
        for name, cap in caps_by_name.items():
            caps[TokenType[name.upper()]] = cap
        return cls(caps=caps)

    def describe(self) -> dict[str, str]:
        """Each linking type by name: its cap, and its window when it has one
        (``"20 per 86400 s from 20:00 UTC"``). A window that does not divide a day starts at a
        different hour each day, so it names the instant its windows count from
        (``"20 per 18000 s from 1970-01-01 20:00 UTC"``)."""
        minutes, seconds = divmod(self.window_start, 60)
        start = f"{minutes // 60:02d}:{minutes % 60:02d}" + (f":{seconds:02d}" if seconds else "")

        def window(seconds: int) -> str:
            return f" per {seconds} s from {'' if DAY % seconds == 0 else '1970-01-01 '}{start} UTC"

        return {
            token_type_name(t): f"{cap}" + (window(self.windows[t]) if t in self.windows else "")
            for t, cap in sorted(self.caps.items())
        }

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

    def window_of(self, token_key: str) -> int | None:
        """The link window of a linking token key's type in seconds; None when it has none."""
        return self.link_of(token_key)[1]

    def window_of_type(self, token_type: int) -> int | None:
        """``window_of`` by type (a caller that has the type already: no parsing)."""
        return self._windows_by_type.get(token_type)

    def link_of(self, token_key: str) -> tuple[int, int | None]:
        """``(cap_of, window_of)`` of a token key, parsed once (a fold's per-token question)."""
        parts = token_key.split(".", 2)
        if len(parts) < 3:
            return -1, None
        cap = self._by_text.get(parts[1])
        return (cap if cap is not None else self.cap_of(token_key)), self._windows_by_text.get(parts[1])

    def index_token(self, token_key: str, at: float) -> str:
        """The ring index's token for ``token_key`` on an application received at ``at``: the key
        itself, or for a windowed type the key of that window (``link_keys``)."""
        return self.window_token(token_key, at, self.window_of(token_key))

    def window_token(self, token_key: str, at: float, window: int | None) -> str:
        """``index_token`` for a caller that has the key's window already (``link_of``,
        ``window_of_type``): the key itself when ``window`` is None."""
        return token_key if window is None else windowed(token_key, at, window, self.window_start)

    def link_keys(self, token_keys: Iterable[str], at: float) -> list[str]:
        """What an application received at ``at`` gives the ring index: its keys of linking
        types, in order, a windowed type's key as its window's token (``key@<window start>``)."""
        link_of, start = self.link_of, self.window_start
        out: list[str] = []
        for key in token_keys:
            cap, window = link_of(key)
            if cap >= 0:
                out.append(key if window is None else windowed(key, at, window, start))
        return out


def windowed(token_key: str, at: float, window: int, start: int) -> str:
    """The ring index's token of ``token_key`` in the window of ``window`` seconds holding ``at``,
    windows starting ``start`` seconds after the Unix epoch and every ``window`` seconds on."""
    return f"{token_key}{WINDOW_MARK}{int((at - start) // window) * window + start}"
