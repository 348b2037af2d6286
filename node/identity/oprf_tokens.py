"""OPRF tokens (DESIGN.md, Mode 2): blind → evaluate at the key service (proof checked) → unblind.

The node never holds a token key. For one application it blinds every canonical identifier
(``type|value``, the same domain separation as HMAC), sends them all in one Evaluate, checks the
batched DLEQ proof against the published public key of the epoch the service answered under,
and unblinds each evaluation into N = k·H(type|value): the 32-byte ristretto255 element that
the hub stores, tagged (OPRF scheme, type, epoch). The token is the element and not the RFC's
Finalize hash because the hub re-keys stored elements with Δ when the key rotates
(``consortium.rekey``); a hash could not be carried over.

A key service that cannot be reached, refuses, or answers with a proof that does not verify
raises ``KeyServiceUnavailable``: the node then degrades exactly as for an unreachable hub.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import grpc
from lianfang.v1 import common_pb2

from clients.errors import LianfangRpcError
from clients.keys import KeyServiceClient
from node.identity.normalise import TYPE_NAMES
from runtime import oprf
from runtime.errors import Unavailable

log = logging.getLogger("lianfang.node.oprf")
SCHEME = common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512


class KeyServiceUnavailable(Unavailable):
    """No verified evaluation: the key service is down, refused, or proved against another key.

    ``key_service_code``: the key service's gRPC status (None when its proof did not verify), so
    the outbox can tell an outage worth waiting out from a refusal; ``retry_after``: its
    RetryInfo, if any (a daily quota spent). The error's own ``code`` stays UNAVAILABLE: what the
    node answers its caller (Screen) whatever the key service said."""

    reason_code = "KEY_SERVICE_UNAVAILABLE"

    def __init__(
        self, message: str, *, key_service_code: grpc.StatusCode | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.key_service_code = key_service_code
        self.retry_after = retry_after


def oprf_input(token_type: int, canonical: str) -> bytes:
    try:
        return f"{TYPE_NAMES[token_type]}|{canonical}".encode()
    except KeyError:
        raise ValueError(f"unsupported token type {token_type}") from None


class OprfTokeniser:
    """Tokens through the key service. ``pinned``: epoch → public key published out of band;
    when empty, public keys are read from the key service (over mutual TLS) and cached."""

    def __init__(
        self, client: KeyServiceClient, *, pinned: Mapping[int, bytes] | None = None, timeout: float = 0.5
    ) -> None:
        self.client = client
        self.pinned = dict(pinned or {})
        self.timeout = timeout
        self._fetched: dict[int, bytes] = {}
        self.last_epoch = 0

    async def _public_key(self, epoch: int) -> bytes | None:
        if self.pinned:
            return self.pinned.get(epoch)
        if epoch not in self._fetched:
            for e in await self.client.public_keys(timeout=self.timeout):
                self._fetched[e.epoch] = e.public_key
        return self._fetched.get(epoch)

    async def tokens(self, identifiers: Sequence[tuple[int, str]]) -> list[common_pb2.Token]:
        """One token per (type, canonical value), in order, from one Evaluate round trip."""
        if not identifiers:
            return []
        blinds, blinded = [], []
        for token_type, canonical in identifiers:
            r, element = oprf.blind(oprf_input(token_type, canonical))
            blinds.append(r)
            blinded.append(element)
        try:
            answer = await self.client.evaluate(blinded, timeout=self.timeout)
            public = await self._public_key(answer.epoch)
        except LianfangRpcError as error:
            raise KeyServiceUnavailable(
                f"key service unavailable ({error.code.name})",
                key_service_code=error.code,
                retry_after=error.retry_after,
            ) from None
        evaluated = list(answer.evaluated_elements)
        if public is None and self.pinned:  # a rotation's new epoch, not pinned here (yet)
            log.error("no pinned key for the key service's epoch", extra={"fields": {"epoch": answer.epoch}})
            raise KeyServiceUnavailable(
                f"the key service evaluates under epoch {answer.epoch}, whose public key this node has not "
                "pinned (key_service_public_keys): add it, as published, and restart the node"
            )
        if public is None or not oprf.verify_proof(public, blinded, evaluated, answer.proof):
            log.error("key service evaluation proof does not verify", extra={"fields": {"epoch": answer.epoch}})
            raise KeyServiceUnavailable("the key service's evaluation proof does not verify against the epoch's key")
        self.last_epoch = answer.epoch
        return [
            common_pb2.Token(scheme=SCHEME, type=t, epoch=answer.epoch, value=oprf.unblind(r, e))  # type: ignore[arg-type]
            for (t, _), r, e in zip(identifiers, blinds, evaluated, strict=True)
        ]
