"""Stage 1's input check: a SubmitApplicationRequest is refused whole, with every field
violation named, before anything is stored or sent (invalid identifiers are never hashed)."""

from __future__ import annotations

import unicodedata

from lianfang.v1 import common_pb2, node_pb2

from node.identity.applicant import canonical_identifiers, tokenise_canonicals
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers
from node.origination.products import Product
from runtime.contract_limits import MAX_CHECK_TOKENS
from runtime.errors import FieldViolation, InvalidArgument

KIND_NAMES = {
    common_pb2.APPLICANT_KIND_PERSON: "person",
    common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS: "individual_business",
    common_pb2.APPLICANT_KIND_COMPANY: "company",
}
MAX_TEXT_CHARS = 100
"""The applicant's name, industry and locality (kept with the application; the name goes into
the contract)."""
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode categories refused in those: control (NUL, line breaks), format (bidi overrides,
zero-width characters) and line/paragraph separators, which would forge or hide lines of the
contract document or of a reviewer's screen."""


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in _CONTROL for ch in text)


def validate_application(
    r: node_pb2.SubmitApplicationRequest, products: dict[str, Product], tokeniser: KeyRing
) -> tuple[Product, list[common_pb2.Token], list[tuple[int, str]]]:
    """The product, the HMAC tokens (none in OPRF mode: computed with the hub call) and the
    canonical identifiers."""
    v: list[FieldViolation] = []
    product = products.get(r.product_code)
    kind = KIND_NAMES.get(r.applicant_kind, "")
    if not r.application_ref or len(r.application_ref) > 64:
        v.append(FieldViolation("application_ref", "1-64 characters required"))
    if not r.consent_ref:
        v.append(FieldViolation("consent_ref", "the borrower's signed authorisation is required"))
    if not r.applicant_name or len(r.applicant_name) > MAX_TEXT_CHARS:
        v.append(FieldViolation("applicant_name", f"1-{MAX_TEXT_CHARS} characters required"))
    for field, text in (("industry", r.industry), ("locality", r.locality)):
        if len(text) > MAX_TEXT_CHARS:
            v.append(FieldViolation(field, f"at most {MAX_TEXT_CHARS} characters"))
    for field, text in (("applicant_name", r.applicant_name), ("industry", r.industry), ("locality", r.locality)):
        if len(text) <= MAX_TEXT_CHARS and _has_control(text):
            v.append(FieldViolation(field, "must not hold control or format characters (line breaks, NUL, bidi marks)"))
    if product is None:
        v.append(FieldViolation("product_code", f"unknown product (known: {', '.join(sorted(products))})"))
    else:
        if kind not in product.applicant_kinds:
            v.append(FieldViolation("applicant_kind", f"{product.code} lends to {', '.join(product.applicant_kinds)}"))
        if not product.min_amount_fen <= r.amount_fen <= product.max_amount_fen:
            v.append(FieldViolation("amount_fen", f"must be within {product.min_amount_fen}-{product.max_amount_fen}"))
        if not product.min_term_months <= r.term_months <= product.max_term_months:
            v.append(
                FieldViolation("term_months", f"must be within {product.min_term_months}-{product.max_term_months}")
            )
        if r.repayment_method not in product.repayment_methods:
            v.append(FieldViolation("repayment_method", f"one of {', '.join(product.repayment_methods)}"))
    if r.collateral_value_fen < 0 or r.collateral_value_fen > 10**13:
        v.append(FieldViolation("collateral_value_fen", "0..10^13 fen"))
    elif product is not None and product.collateral_ratio and not r.collateral_value_fen:
        v.append(
            FieldViolation(
                "collateral_value_fen",
                f"{product.code} lends against collateral (up to {product.collateral_ratio:.0%} of its value): "
                "the pledged asset's value is required, in fen (lianfang node apply --collateral-value YUAN)",
            )
        )
    if kind != "person" and not r.identifiers.uscc:
        v.append(FieldViolation("identifiers.uscc", "a business applicant needs its unified social credit code"))
    if kind == "person" and not (r.identifiers.resident_id or r.identifiers.legal_rep_resident_id):
        v.append(FieldViolation("identifiers.resident_id", "a person applicant needs a resident ID number"))
    if not r.identifiers.phones:  # an approval without one could never be signed (SendSigningCode)
        v.append(
            FieldViolation("identifiers.phones", "a phone is required: the contract is signed with a code sent to it")
        )
    tokens: list[common_pb2.Token] = []
    canonicals: list[tuple[int, str]] = []
    try:
        canonicals = canonical_identifiers(r.identifiers)
        if tokeniser.oprf is None:
            tokens = tokenise_canonicals(canonicals, tokeniser)  # normalised once
    except InvalidIdentifiers as exc:
        v += exc.violations()
    sent = len(canonicals) if tokeniser.oprf is not None else len(tokens)
    if sent > MAX_CHECK_TOKENS:  # the hub would refuse the Check, after the application was stored
        v.append(
            FieldViolation(
                "identifiers",
                f"make {sent} tokens, a Check takes at most {MAX_CHECK_TOKENS} (each IP adds its subnet, "
                "a key rotation's overlap doubles them)",
            )
        )
    if v:
        raise InvalidArgument(v)
    assert product is not None
    return product, tokens, canonicals
