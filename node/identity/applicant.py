"""Tokenise all identifiers of one applicant, as the node does before asking the hub."""

from __future__ import annotations

from collections.abc import Iterator

from lianfang.v1 import common_pb2, consortium_pb2, node_pb2

from clients.errors import LianfangRpcError
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifier, InvalidIdentifiers, ip_subnet, normalise
from node.identity.tokens import HmacTokeniser

# (Identifiers field, token type), in proto field order.
_SCALAR_FIELDS = (
    ("resident_id", common_pb2.TOKEN_TYPE_RESIDENT_ID),
    ("uscc", common_pb2.TOKEN_TYPE_USCC),
    ("legal_rep_resident_id", common_pb2.TOKEN_TYPE_LEGAL_REP),
)
_REPEATED_FIELDS = (
    ("phones", common_pb2.TOKEN_TYPE_PHONE),
    ("emails", common_pb2.TOKEN_TYPE_EMAIL),
    ("device_ids", common_pb2.TOKEN_TYPE_DEVICE_ID),
    ("ips", common_pb2.TOKEN_TYPE_IP),
    ("bank_accounts", common_pb2.TOKEN_TYPE_BANK_ACCOUNT),
    ("addresses", common_pb2.TOKEN_TYPE_ADDRESS),
)


def _raw_values(identifiers: node_pb2.Identifiers) -> Iterator[tuple[str, int, str]]:
    """(field path, token type, raw value) of every set field."""
    for name, token_type in _SCALAR_FIELDS:
        value: str = getattr(identifiers, name)
        if value:
            yield f"identifiers.{name}", token_type, value
    for name, token_type in _REPEATED_FIELDS:
        for i, value in enumerate(getattr(identifiers, name)):
            yield f"identifiers.{name}[{i}]", token_type, value


def normalised_identifiers(identifiers: node_pb2.Identifiers) -> node_pb2.Identifiers:
    """``identifiers`` with every value in its canonical spelling (``normalise``), as the node
    keeps them and hands them to data sources: the same applicant typed differently is one
    applicant to a provider too. Raises ``InvalidIdentifier`` for an invalid value."""
    out = node_pb2.Identifiers()
    for name, token_type in _SCALAR_FIELDS:
        value: str = getattr(identifiers, name)
        if value:
            setattr(out, name, normalise(token_type, value, f"identifiers.{name}"))
    for name, token_type in _REPEATED_FIELDS:
        values = getattr(identifiers, name)
        getattr(out, name).extend(normalise(token_type, v, f"identifiers.{name}[{i}]") for i, v in enumerate(values))
    return out


def canonical_identifiers(identifiers: node_pb2.Identifiers) -> list[tuple[int, str]]:
    """Every set identifier normalised, as (token type, canonical value).

    Equivalent spellings collapse to one; each IP also yields its subnet. Ordered by token type,
    then by first appearance, so equal inputs give equal requests. All invalid fields are
    reported together (``InvalidIdentifiers``) so nothing invalid is tokenised.
    """
    canonicals: dict[tuple[int, str], None] = {}  # insertion-ordered set
    errors: list[InvalidIdentifier] = []
    for path, token_type, raw in _raw_values(identifiers):
        try:
            canonical = normalise(token_type, raw, path)
        except InvalidIdentifier as exc:
            errors.append(exc)
            continue
        canonicals[(token_type, canonical)] = None
        if token_type == common_pb2.TOKEN_TYPE_IP:
            canonicals[(common_pb2.TOKEN_TYPE_IP_SUBNET, ip_subnet(canonical))] = None
    if errors:
        raise InvalidIdentifiers(errors)
    if not canonicals:
        raise InvalidIdentifiers([InvalidIdentifier("identifiers", "at least one identifier is required")])
    return sorted(canonicals, key=lambda k: k[0])  # stable sort keeps first-appearance order


def tokenise_identifiers(
    identifiers: node_pb2.Identifiers, tokeniser: HmacTokeniser | KeyRing
) -> list[common_pb2.Token]:
    """Normalise and HMAC-tokenise every set identifier (``canonical_identifiers`` order)."""
    return tokenise_canonicals(canonical_identifiers(identifiers), tokeniser)


def tokenise_canonicals(ordered: list[tuple[int, str]], tokeniser: HmacTokeniser | KeyRing) -> list[common_pb2.Token]:
    """HMAC-tokenise identifiers already normalised (``canonical_identifiers``)."""
    # Under every active epoch during a rotation, oldest first and in the same order: the hub
    # links the i-th token of a type under each epoch (consortium.aliases).
    tokenisers = tokeniser.active if isinstance(tokeniser, KeyRing) else (tokeniser,)
    return [tk.token(t, c) for tk in tokenisers for t, c in ordered]


def epoch_links(identifiers: node_pb2.Identifiers, ring: KeyRing) -> list[tuple[common_pb2.Token, common_pb2.Token]]:
    """During a rotation's overlap, (oldest-epoch token, newer-epoch token) of each identifier —
    what ``HubClient.link_tokens`` sends so that a marker filed under the old epoch keeps
    matching once it is retired. Empty outside an overlap."""
    if ring.oprf is not None:  # OPRF epochs are carried over at the hub (Δ), not by the node
        return []
    epochs = len(ring.active)
    if epochs < 2:
        return []
    tokens = tokenise_identifiers(identifiers, ring)
    per = len(tokens) // epochs
    return [(tokens[i], tokens[k * per + i]) for k in range(1, epochs) for i in range(per)]


async def tokenise(
    identifiers: node_pb2.Identifiers, ring: KeyRing, *, primary: bool = False
) -> list[common_pb2.Token]:
    """Tokens in the ring's mode: HMAC (every active epoch, or the oldest with ``primary``) or
    OPRF (one key-service round trip; ``KeyServiceUnavailable`` when it cannot answer)."""
    if ring.oprf is not None:
        return await ring.oprf.tokens(canonical_identifiers(identifiers))
    return tokenise_identifiers(identifiers, ring.primary if primary else ring)


async def retokenise(request: consortium_pb2.CheckRequest, ring: KeyRing, canonicals: list[tuple[int, str]]) -> bool:
    """Gives a Check the hub refused as stale (``node.hub_errors.refused_for_stale_keys``) its
    identifiers' tokens under the keys in force now: HMAC epochs re-read from the hub (a node
    that missed a rotation between two key refreshes), or the key service's active OPRF epoch (a
    hub re-keyed meanwhile). Whether that changed its epochs (False: a key file, no identifiers,
    a hub that cannot be asked, or keys that are what they were: sending again would not help)."""
    if not canonicals:
        return False
    if ring.oprf is not None:
        fresh = await ring.oprf.tokens(canonicals)
    elif ring.reload is None:
        return False
    else:
        try:
            await ring.reload()
        except LianfangRpcError:
            return False
        fresh = tokenise_canonicals(canonicals, ring)
    if not fresh or {t.epoch for t in fresh} == {t.epoch for t in request.tokens}:
        return False
    request.ClearField("tokens")
    request.tokens.extend(fresh)
    return True
