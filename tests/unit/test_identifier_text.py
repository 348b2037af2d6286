"""What the hub refuses in free text (case references, reasons, dispute statements): identifiers
in the forms members actually type them, and not the references lenders and courts use."""

from __future__ import annotations

import pytest

from runtime.errors import FieldViolation
from runtime.identifier_text import check_free_text, check_reason_code, identifier_in, identifier_in_ref


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
        # other separators, brackets, labels typed straight before the number
        "tel 158.9547.2306",
        "158/9547/2306",
        "158—9547—2306",
        "158_9547_2306",
        "(158)9547-2306",
        "tel15895472306",
        "ID320506197003080176",
        "3205 0619 7003 0801 76",
        "320 506 197 003 080 176",
        "320506.19700308.0176",
        "3 2 0 5 0 6 1 9 7 0 0 3 0 8 0 1 7 6",
        "uscc91350100M000100Y43",
        "9135 0100 M000 100Y 43",
        "6222.0202.0011.2233.446",
        "622202 0200112233446",
        "card6222020200112233446",
        "198。51。100。23",
        "IMEI490154203237518",  # a device's IMEI (Luhn-valid), after its label
        "FRAUD_IMEI490154203237518",
        "IMEI: 490154203237518",
        "+8615895472306",
        "+86(158)9547-2306",
        "158 - 9547 - 2306",
        "(158) 9547-2306",
        "+86 (158) 9547-2306",
        "No15895472306",
        "WX15895472306",
        "IMEI号：490154203237518",
        "IMEI1: 490154203237518",
        "IMEI 2：490154203237518",
        "IMEI 49-015420-323751-8",
        "身份证IDcard320506197003080176",
        "身份证NO320506197003080176",
        "手机 1589 547 2306",
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
        "2024.06.01/2024.07.03",  # dates with the separators numbers take
        "v1.2.3-rc.4 build 2024.06.01.1345",
        "CASE_2024_0042_07",
        "deadbeef13800138000",  # a hex id: no label before the digits
        "490154203237518",  # 15 Luhn-valid digits without the label: one serial in ten is
        "order 202211133522457 refunded",
        "Loan of 185 000 000.50 disputed",  # an amount in groups of three, not a mobile's groups
        "150 000 000.00",
        "Contract NO2024395501513693 cancelled",  # "no" is no label: it split serials open
        "158-9547 2306 x",  # mixed separators: a serial and a number, not how a mobile is written
        "case/158/2023-0412",
        "inv-135/2024.1107",
        "LN:139-2024/0613",
        "Invoice 135-2024 1107 paid",
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


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("FORGED_DOCUMENTS", None),
        ("CBIRC_20240601", None),  # a date's worth of digits
        ("forged", "must be upper-case"),  # malformed, not missing
        ("", "is required"),
        ("FRAUD_IMEI356987040", "at most 8 digits"),  # a device's number, shown to every member
        ("ID320506197003080176", "at most 8 digits"),
    ],
)
def test_a_reason_code_names_a_kind_of_fraud_not_a_number(code: str, problem: str | None) -> None:
    violations: list[FieldViolation] = []
    check_reason_code(code, "reason_code", violations)
    assert [v.description for v in violations if problem and problem in v.description] == [
        v.description for v in violations
    ]
    assert len(violations) == (problem is not None)


@pytest.mark.parametrize(
    "ref",
    [
        "loan-15895472306",
        "158.9547.2306",
        "158--9547--2306",
        "158-.9547-.2306",
        "tel:158..9547..2306",
        "+8615895472306",
        "ID320506197003080176",
        "320506.19700308.0176",
        "3-2-0-5-0-6-1-9-7-0-0-3-0-8-0-1-7-6",
        "uscc91350100M000100Y43",
        "6222.0202.0011.2233.446",
        "ip-198.51.100.23",
    ],
)
def test_every_identifier_a_reference_can_hold_passes_the_gate(ref: str) -> None:
    """The gate (``identifier_in_ref``) skips the scan for references without a dense run of
    digits: it must never skip one the scan would find something in."""
    assert identifier_in(ref) is not None
    assert identifier_in_ref(ref) == identifier_in(ref)


def test_a_reference_is_scanned_only_when_it_holds_a_run_of_digits() -> None:
    assert identifier_in_ref("loan-13800138000") == "a mobile number"
    assert identifier_in_ref("auth:320506.19700308.0176") == "a resident ID number"
    assert identifier_in_ref("app_kj53qbbdaaaaaa") is None  # a node's id: no run of six digits
    assert identifier_in_ref("order-20240601-000123") is None  # scanned, and nothing found
