"""What the hub refuses in free text (case references, reasons, dispute statements): identifiers
in the forms members actually type them, and not the references lenders and courts use."""

from __future__ import annotations

import pytest

from runtime.errors import FieldViolation
from runtime.identifier_text import check_free_text, identifier_in


@pytest.mark.parametrize(
    "text",
    [
        "刘德明 320506197003080176",
        "ID 32050619700308017x",
        "FORGED_15895472306",
        "customer called from 15895472306",
        "call 158-9547-2306 after 6pm",
        "+86 158 9547 2306",
        "手机１５８９５４７２３０６",  # full-width digits
        "card 6222020200112233445",
        "old ID 310115780512031",
        "mail liu.deming@example.cn",
        "login from 203.0.113.77",
        "本人刘德明，身份证320506197003080176，手机15895472306，从未申请",
    ],
)
def test_identifiers_are_found(text: str) -> None:
    assert identifier_in(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "FORGED_DOCUMENTS",
        "CASE-2024-0042",
        "(2024)京0105执1234号",
        "police report 2024-06-01 no. 88",
        "借款人称从未申请该笔贷款，已报警",
        "version 1.2.3",
        "resolved after review of 3 documents",
    ],
)
def test_ordinary_references_pass(text: str) -> None:
    assert identifier_in(text) is None


def test_the_violation_names_the_field_and_never_quotes_the_value() -> None:
    violations: list[FieldViolation] = []
    check_free_text("tel 15895472306", "reason", violations)
    [v] = violations
    assert v.field == "reason" and "15895472306" not in v.description and "phone" in v.description
