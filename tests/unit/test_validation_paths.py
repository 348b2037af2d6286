"""check_request skips spelling out field paths for valid tokens: whatever is wrong with a request,
it must report exactly the violations (fields, messages, order) of checking every token."""

from __future__ import annotations

import random

from lianfang.v1 import common_pb2 as c
from lianfang.v1 import consortium_pb2

from consortium.validation import _KINDS, _PURPOSES, MAX_TOKENS, check_ref, check_request, check_token
from runtime.contract_limits import product_category_problem
from runtime.errors import FieldViolation


def reference(request: consortium_pb2.CheckRequest, prefix: str = "") -> list[FieldViolation]:
    out: list[FieldViolation] = []
    check_ref(request.application_ref, f"{prefix}application_ref", out)
    check_ref(request.consent_ref, f"{prefix}consent_ref", out)
    if request.purpose not in _PURPOSES:
        out.append(FieldViolation(f"{prefix}purpose", "a permissible purpose is required (lianfang.v1.Purpose)"))
    if not request.HasField("consent_expires_at"):
        out.append(FieldViolation(f"{prefix}consent_expires_at", "the borrower's authorisation must say when it ends"))
    if request.applicant_kind not in _KINDS:
        out.append(FieldViolation(f"{prefix}applicant_kind", "unknown or unspecified applicant kind"))
    if problem := product_category_problem(request.product_category):
        out.append(FieldViolation(f"{prefix}product_category", problem))
    if not request.tokens:
        out.append(FieldViolation(f"{prefix}tokens", "at least one token is required"))
    elif len(request.tokens) > MAX_TOKENS:
        out.append(FieldViolation(f"{prefix}tokens", f"at most {MAX_TOKENS} tokens"))
    else:
        seen: set[tuple[int, int, int, bytes]] = set()
        for i, token in enumerate(request.tokens):
            check_token(token, f"{prefix}tokens[{i}]", out)
            ident = (token.scheme, token.type, token.epoch, token.value)
            if ident in seen:
                out.append(FieldViolation(f"{prefix}tokens[{i}]", "duplicate token"))
            seen.add(ident)
    return out


def random_request(rng: random.Random) -> consortium_pb2.CheckRequest:
    tokens = [
        c.Token(
            scheme=rng.choice([0, 1, 1, 1, 2, 9]),
            type=rng.choice([0, 1, 4, 6, 8, 99]),
            epoch=rng.choice([1, 2]),
            value=bytes([rng.randrange(3)]) * rng.choice([0, 5, 16, 16, 32, 64, 70]),
        )
        for _ in range(rng.choice([0, 1, 3, 8, 70]))
    ]
    request = consortium_pb2.CheckRequest(
        application_ref=rng.choice(["", "ok-1", "bad ref"]),
        consent_ref=rng.choice(["", "c-1"]),
        tokens=tokens,
        applicant_kind=rng.choice([0, 1, 2, 7]),
        product_category=rng.choice(["", "consumer", "Bad", "xwd_20250601", "110101199003077774", "138_0013_8000"]),
        purpose=rng.choice([0, 1, 4, 9]),
    )
    if rng.random() < 0.7:
        request.consent_expires_at.seconds = 4_102_444_800
    return request


def test_violations_match_checking_every_token() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        request = random_request(rng)
        for prefix in ("", "checks[4]."):
            assert check_request(request, prefix) == reference(request, prefix)


def test_a_reference_with_a_trailing_newline_is_refused() -> None:
    out: list[FieldViolation] = []
    check_ref("app-1\n", "application_ref", out)
    assert [v.field for v in out] == ["application_ref"]
