"""Request validation for the hub: every violation is collected with its field path, and
nothing is written unless the whole request is valid."""

from __future__ import annotations

import re

from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, consortium_pb2

from consortium.key_book import KeyEpochs
from runtime.contract_limits import MAX_CHECK_TOKENS, STALE_KEY_EPOCHS, product_category_problem
from runtime.errors import FieldViolation
from runtime.identifier_text import identifier_in_ref
from runtime.timestamps import timestamp_problem

REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\Z")  # \Z: "$" would let a trailing newline in
MEMBER_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,30}[a-z0-9]\Z")
MAX_TOKENS = MAX_CHECK_TOKENS
MAX_BATCH = 500

TOKEN_LENGTHS = {
    common_pb2.TOKEN_SCHEME_HMAC_SHA256_128: (16, 16),
    common_pb2.TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512: (32, 64),
}
HMAC = common_pb2.TOKEN_SCHEME_HMAC_SHA256_128
_TOKEN_TYPES = frozenset(v for v in common_pb2.TokenType.values() if v)
_KINDS = frozenset(v for v in common_pb2.ApplicantKind.values() if v)


def check_ref(value: str, field: str, out: list[FieldViolation], *, required: bool = True) -> None:
    if not value:
        if required:
            out.append(FieldViolation(field, "is required"))
    elif not REF.match(value):
        out.append(FieldViolation(field, "1-128 characters of [A-Za-z0-9._:/-], starting alphanumeric"))
    elif kind := identifier_in_ref(value):  # a lender's key may be the phone or ID number: never stored
        out.append(FieldViolation(field, f"must not hold personal data: it contains what looks like {kind}"))


def check_token(token: common_pb2.Token, field: str, out: list[FieldViolation]) -> None:
    lengths = TOKEN_LENGTHS.get(token.scheme)
    if lengths is None:
        out.append(FieldViolation(f"{field}.scheme", "unknown or unspecified token scheme"))
    elif not lengths[0] <= len(token.value) <= lengths[1]:
        out.append(FieldViolation(f"{field}.value", f"must be {lengths[0]}-{lengths[1]} bytes for its scheme"))
    if token.type not in _TOKEN_TYPES:
        out.append(FieldViolation(f"{field}.type", "unknown or unspecified token type"))


def check_epoch(token: common_pb2.Token, epochs: KeyEpochs | None, field: str, out: list[FieldViolation]) -> None:
    """A keyed-hash token of an epoch the hub never created (``KeyBook.in_use``) was keyed with
    no consortium key and would match nobody's: refused."""
    if epochs is not None and epochs.created and token.scheme == HMAC and token.epoch not in epochs.created:
        out.append(FieldViolation(f"{field}.epoch", f"key epoch {token.epoch} does not exist ({_in_use(epochs)})"))


def _in_use(epochs: KeyEpochs) -> str:
    rekeyed = f"; re-keyed out of: {', '.join(map(str, sorted(epochs.rekeyed)))}" if epochs.rekeyed else ""
    return "in use: " + (", ".join(map(str, sorted(epochs.live))) or "none") + rekeyed


def check_timestamp(ts: Timestamp, field: str, out: list[FieldViolation]) -> None:
    problem = timestamp_problem(ts)
    if problem is not None:
        out.append(FieldViolation(field, problem))


_PURPOSES = frozenset(v for v in common_pb2.Purpose.values() if v)


def check_request(
    request: consortium_pb2.CheckRequest, prefix: str = "", epochs: KeyEpochs | None = None
) -> list[FieldViolation]:
    """``epochs``: the hub's key epochs (``check_epoch``; and a request whose tokens are all of
    retired keyed-hash epochs or of OPRF epochs the hub was re-keyed out of is refused: its
    member's keys, or its queued tokens, are out of date)."""
    out: list[FieldViolation] = []
    check_ref(request.application_ref, f"{prefix}application_ref", out)
    check_ref(request.consent_ref, f"{prefix}consent_ref", out)
    if request.purpose not in _PURPOSES:
        out.append(FieldViolation(f"{prefix}purpose", "a permissible purpose is required (lianfang.v1.Purpose)"))
    if not request.HasField("consent_expires_at"):
        out.append(FieldViolation(f"{prefix}consent_expires_at", "the borrower's authorisation must say when it ends"))
    else:
        check_timestamp(request.consent_expires_at, f"{prefix}consent_expires_at", out)
    if request.applicant_kind not in _KINDS:
        out.append(FieldViolation(f"{prefix}applicant_kind", "unknown or unspecified applicant kind"))
    if problem := product_category_problem(request.product_category):
        out.append(FieldViolation(f"{prefix}product_category", problem))
    tokens = request.tokens
    if not tokens:
        out.append(FieldViolation(f"{prefix}tokens", "at least one token is required"))
    elif len(tokens) > MAX_TOKENS:
        out.append(FieldViolation(f"{prefix}tokens", f"at most {MAX_TOKENS} tokens"))
    else:
        seen: set[tuple[int, int, int, bytes]] = set()
        stale = epochs is not None  # until a token of a live epoch (or no keyed-hash token) is seen
        for i, token in enumerate(tokens):
            scheme, value, token_type = token.scheme, token.value, token.type
            lengths = TOKEN_LENGTHS.get(scheme)
            # the field path is only spelled out for a token that has something to report
            if lengths is None or not lengths[0] <= len(value) <= lengths[1] or token_type not in _TOKEN_TYPES:
                check_token(token, f"{prefix}tokens[{i}]", out)
            if epochs is not None:
                if scheme == HMAC:
                    if token.epoch in epochs.live or not epochs.created:
                        stale = False
                    elif token.epoch not in epochs.created:
                        check_epoch(token, epochs, f"{prefix}tokens[{i}]", out)
                elif token.epoch not in epochs.rekeyed:
                    stale = False
            ident = (scheme, token_type, token.epoch, value)
            if ident in seen:
                out.append(FieldViolation(f"{prefix}tokens[{i}]", "duplicate token"))
            seen.add(ident)
        if stale and epochs is not None and not out:
            stale_keys = f"{STALE_KEY_EPOCHS}: the member's keys need refreshing ({_in_use(epochs)})"
            out.append(FieldViolation(f"{prefix}tokens", stale_keys))
    return out


def batch_check_request(
    request: consortium_pb2.BatchCheckRequest, epochs: KeyEpochs | None = None
) -> list[FieldViolation]:
    if not request.checks:
        return [FieldViolation("checks", "at least one check is required")]
    if len(request.checks) > MAX_BATCH:
        return [FieldViolation("checks", f"at most {MAX_BATCH} checks per batch")]
    out: list[FieldViolation] = []
    refs: set[str] = set()
    for i, check in enumerate(request.checks):
        out += check_request(check, f"checks[{i}].", epochs)
        if check.application_ref in refs:
            out.append(FieldViolation(f"checks[{i}].application_ref", "duplicate in this batch"))
        refs.add(check.application_ref)
    return out
