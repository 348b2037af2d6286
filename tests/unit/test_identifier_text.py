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
        "ID 110101199003071233",
        "FORGED_15895472306",
        "customer called from 15895472306",
        "call 158-9547-2306 after 6pm",
        "+86 158 9547 2306",
        "手机１５８９５４７２３０６",  # full-width digits
        "card 6222020200112233446",  # Luhn-valid
        "old ID 310115780512031",
        "mail liu.deming@example.cn",
        "请联系我们的客服人员" * 7 + "abc@qq.com",  # Chinese text has no spaces before it
        "login from 203.0.113.77",
        "本人刘德明，身份证320506197003080176，手机15895472306，从未申请",
        "ID 320506 19700308 0176",  # in the groups people write it in
        "ID 320506-1970-0308-0176",
        "card 6222 0202 0011 2233 446",
        "公司代码91350100M000100Y43有误",  # a business's unified social credit code
        "uscc 91110000600037341L",
        "uscc 91350100m000100y43",  # in lower case
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
        "mk_3f2a9c1e8b7d6051a4c2",  # a hub marker id
        "9f2c4e1a-07b3-4d5e-8a6f-1b2c3d4e5f60",  # a UUID
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # a SHA-256 digest
        "task_83749201837a4c2e",  # a legacy hex node id with 11 digits in a row
        "HT202406010001",  # a date-prefixed contract serial
        "20240601134530",
        "1717221330123",  # a millisecond timestamp
        "release 1.2.3.4",
        "tel15895472306abc",  # inside a run of letters and digits
        "91350100M000100Y44",  # a social credit code's shape with a wrong check character
        "ABCDEF0123456789AB",  # 18 upper-case characters that are not one
        "2024 0506 0708 0910",  # groups of four that fail the card check
        "123456 78901234 5678",  # groups of an ID number that fail its check
    ],
)
def test_ordinary_references_pass(text: str) -> None:
    assert identifier_in(text) is None


def test_the_violation_names_the_field_and_never_quotes_the_value() -> None:
    violations: list[FieldViolation] = []
    check_free_text("tel 15895472306", "reason", violations)
    [v] = violations
    assert v.field == "reason" and "15895472306" not in v.description and "mobile" in v.description


def test_a_hex_id_is_never_taken_for_an_identifier() -> None:
    """Ids and digests are random hex: judged by the identifiers' shapes, outside runs of letters
    and digits, none is refused."""
    import secrets

    refused = [i for i in (f"mk_{secrets.token_hex(10)}" for _ in range(20_000)) if identifier_in(i)]
    assert refused == []  # a run of 11 digits anywhere refused 1 in 40


def test_text_over_its_limit_is_refused_for_its_length_without_being_scanned() -> None:
    """A request may carry megabytes: the length refuses it, the identifier scan is skipped
    (the violation says nothing of what the text holds)."""
    violations: list[FieldViolation] = []
    check_free_text("ID 110101199003071233 " * 100, "case_ref", violations, max_chars=128)
    assert violations == [FieldViolation("case_ref", "at most 128 characters")]
