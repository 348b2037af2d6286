"""Identifier normalisation and keyed tokens: equal identifiers must give equal tokens, invalid ones
must be rejected naming the field (never echoing the raw value), and tokens must be keyed."""

from __future__ import annotations

import datetime
import ipaddress
import pickle
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lianfang.v1 import common_pb2, node_pb2

from node.identity import normalise as nm
from node.identity.applicant import tokenise_identifiers
from node.identity.normalise import InvalidIdentifier, InvalidIdentifiers, ip_subnet, normalise
from node.identity.tokens import HmacTokeniser, new_consortium_key

T = common_pb2
KEY = bytes(range(32))
ALL_TYPES = sorted(nm.TYPE_NAMES)
SETTINGS = settings(deadline=None, max_examples=150)

# Independent oracle for the ISO 7064 MOD 11-2 check digit of resident IDs (GB 11643-1999).
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def ric_check(body17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, _RIC_WEIGHTS, strict=True)) % 11]


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(body17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total) % 31]


def full_width(s: str) -> str:
    """ASCII printable -> full-width forms (what Chinese IMEs often produce)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


RID = "360426199101010071"  # from python-stdnum's documentation
RID15 = "360426910101007"
USCC = "91110000600037341L"
PHONE = "+8613800138000"

# ---------------------------------------------------------------------------- strategies

_provinces = st.sampled_from(sorted(nm._PROVINCES))


@st.composite
def resident_ids(draw: st.DrawFn, max_year: int | None = None) -> str:
    area = draw(_provinces) + draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    latest = datetime.date(max_year, 12, 31) if max_year else datetime.date.today()
    born = draw(st.dates(datetime.date(1900, 1, 1), latest))
    body = area + born.strftime("%Y%m%d") + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return body + ric_check(body)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[0-9]{8}", fullmatch=True)) + "".join(
        draw(st.lists(st.sampled_from(_USCC_ALPHABET), min_size=9, max_size=9))
    )
    return body + uscc_check(body)


_mobile_prefixes = (
    [f"13{i}" for i in range(10)]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + [f"18{i}" for i in range(10)]
)
cn_mobiles = st.builds(
    lambda p, rest: p + rest, st.sampled_from(_mobile_prefixes), st.from_regex(r"[0-9]{8}", fullmatch=True)
)
_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True),
    st.lists(_label, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
device_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=4, max_size=128).map(str.lower)
bank_accounts = st.from_regex(r"[0-9]{8,30}", fullmatch=True)
addresses = st.text(
    st.sampled_from("北京市朝阳区建国路号栋单元室广东省深圳南山科技园abcxyz0123456789"), min_size=4, max_size=40
)
separators = st.sampled_from([" ", "-", "－", "—", "　", ".", "/", "_", "·", "\u200b"])


@st.composite
def with_separators(draw: st.DrawFn, s: str) -> str:
    """Insert random separators between characters and randomly convert to full-width."""
    out = []
    for c in s:
        out.append(full_width(c) if draw(st.booleans()) else c)
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(separators))
    return "".join(out)


# ---------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize(
    "raw", [RID15, RID, " 360426-1991-0101-0071 ", full_width(RID), "３６０４２６９１０１０１００７"]
)
def test_resident_id_spellings_collapse(raw: str) -> None:
    assert nm.normalise_resident_id(raw) == RID


def test_fifteen_digit_id_gives_same_token_as_eighteen() -> None:
    tk = HmacTokeniser(KEY, 1)
    a = tk.token(T.TOKEN_TYPE_RESIDENT_ID, nm.normalise_resident_id(RID15))
    assert a == tk.token(T.TOKEN_TYPE_RESIDENT_ID, nm.normalise_resident_id(RID))


def test_resident_id_lower_case_x() -> None:
    body = "11010519491001100"
    assert ric_check(body) == "X"
    assert nm.normalise_resident_id(body + "x") == body + "X"
    assert nm.normalise_resident_id(full_width(body + "x")) == body + "X"


@pytest.mark.parametrize(
    "raw",
    [
        "+86 138-0013-8000",
        "13800138000",
        "0086 138 0013 8000",
        "(+86)13800138000",
        "8613800138000",
        "138.0013.8000",
        "１３８００１３８０００",
        "＋８６　１３８　００１３　８０００",
    ],
)
def test_phone_spellings_collapse(raw: str) -> None:
    assert nm.normalise_phone(raw) == PHONE


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("１．２．３．４", "1.2.3.4"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_ip_spellings_collapse(raw: str, canonical: str) -> None:
    assert nm.normalise_ip(raw) == canonical


def test_subnets() -> None:
    assert ip_subnet("1.2.3.4") == ip_subnet("1.2.3.200") == "1.2.3.0/24"
    assert ip_subnet("1.2.4.4") != ip_subnet("1.2.3.4")
    assert ip_subnet("2001:db8::1") == ip_subnet("2001:db8::ffff:1") == "2001:db8::/64"
    for raw in ["1.2.3.9", "1.2.3.0/24", "1.2.3.7/32", "::ffff:1.2.3.4", "::ffff:1.2.3.0/120"]:
        assert normalise(T.TOKEN_TYPE_IP_SUBNET, raw, "ip_subnet") == "1.2.3.0/24"
    assert normalise(T.TOKEN_TYPE_IP_SUBNET, "2001:DB8::/64", "s") == "2001:db8::/64"
    with pytest.raises(InvalidIdentifier, match="wider"):
        normalise(T.TOKEN_TYPE_IP_SUBNET, "1.2.0.0/16", "s")


def test_bank_account_separators() -> None:
    assert nm.normalise_bank_account("6222 0200-0000 1234") == "6222020000001234"
    assert nm.normalise_bank_account("６２２２０２００００００１２３４") == "6222020000001234"


def test_address_punctuation_and_full_width() -> None:
    a = nm.normalise_address("北京市朝阳区建国路８８号（ＳＯＨＯ现代城）Ａ座，１２０１室。")
    b = nm.normalise_address("北京市 朝阳区 建国路88号 SOHO现代城 A座 1201室")
    c = nm.normalise_address("北京市、朝阳区#建国路88号 (soho现代城) a座-1201室")
    assert a == b == c == "北京市朝阳区建国路88号soho现代城a座1201室"


def test_email_and_device() -> None:
    assert nm.normalise_email("  Foo.Bar@Example.COM ") == "foo.bar@example.com"
    assert nm.normalise_email("ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｎ") == "user@example.cn"
    assert nm.normalise_email("a@Bücher.de") == "a@xn--bcher-kva.de"
    assert nm.normalise_device_id(" IMEI-35-ABCDEF ") == "imei-35-abcdef"
    assert nm.normalise_uscc("9111 0000 6000 3734 1l") == USCC


# ---------------------------------------------------------------------------- rejection


@pytest.mark.parametrize(
    ("fn", "raw", "expect"),
    [
        (nm.normalise_resident_id, "360426199101010072", "check digit"),
        (nm.normalise_resident_id, "36042619910101007", "18"),
        (nm.normalise_resident_id, "36042619910230007" + ric_check("36042619910230007"), "birth date"),  # 30 Feb
        (nm.normalise_resident_id, "00042619910101007" + ric_check("00042619910101007"), "area"),
        (nm.normalise_resident_id, "36042620991231001" + ric_check("36042620991231001"), "range"),
        (nm.normalise_resident_id, "360426910230007", "birth date"),  # 15-digit, 30 Feb
        (nm.normalise_legal_rep, "360426199101010072", "check digit"),
        (nm.normalise_uscc, "91110000600037341M", "credit code"),
        (nm.normalise_uscc, "９１ＩＩ００００６０００３７３４１Ｌ", "credit code"),
        (nm.normalise_phone, "12345", "phone"),
        (nm.normalise_phone, "+86 154 0013 8000", "valid phone"),
        (nm.normalise_phone, "138-ABCD-8000", "digits"),
        (nm.normalise_email, "alice.example.com", "@"),
        (nm.normalise_email, "alice@@example.com", "@"),
        (nm.normalise_email, "@example.com", "local"),
        (nm.normalise_email, "alice@localhost", "domain"),
        (nm.normalise_email, "al ice@example.com", "whitespace"),
        (nm.normalise_device_id, "abc", "4 to 128"),
        (nm.normalise_ip, "256.1.1.1", "address"),
        (nm.normalise_ip, "010.001.002.003", "address"),
        (nm.normalise_bank_account, "6222-020", "8 to 30"),
        (nm.normalise_bank_account, "6222O2000000", "digits"),
        (nm.normalise_address, "北京，。", "4"),
        (nm.normalise_phone, "   ", "empty"),
        (nm.normalise_phone, "1" * 2000, "longer"),
    ],
)
def test_rejection_names_field_and_hides_value(fn, raw: str, expect: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidIdentifier) as info:
        fn(raw, field="applicant.x")
    err = info.value
    assert err.field == "applicant.x"
    assert expect in err.description
    assert str(err) == f"applicant.x: {err.description}"
    # Neither the message nor a logged traceback (incl. chained library errors) carries the raw value.
    logged = "".join(traceback.format_exception(err))
    if raw.strip():
        assert raw.strip() not in logged and raw.strip() not in repr(err)
    assert pickle.loads(pickle.dumps(err)).field == "applicant.x"


def test_default_field_is_type_name() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        nm.normalise_bank_account("12")
    assert info.value.field == "bank_account"
    with pytest.raises(ValueError, match="unsupported"):
        normalise(T.TOKEN_TYPE_UNSPECIFIED, "x", "f")


# ---------------------------------------------------------------------------- tokens


def test_tokens() -> None:
    tk = HmacTokeniser(KEY, 7)
    tok = tk.token(T.TOKEN_TYPE_PHONE, PHONE)
    assert len(tok.value) == 16 and tok.value == tk.digest(T.TOKEN_TYPE_PHONE, PHONE)
    assert tok.scheme == T.TOKEN_SCHEME_HMAC_SHA256_128 and tok.type == T.TOKEN_TYPE_PHONE and tok.epoch == 7
    values = {tk.digest(t, "12345678") for t in ALL_TYPES}
    assert len(values) == len(ALL_TYPES)  # one domain per type
    assert HmacTokeniser(b"\x01" * 32, 7).digest(T.TOKEN_TYPE_PHONE, PHONE) != tok.value
    assert HmacTokeniser(KEY, 8).token(T.TOKEN_TYPE_PHONE, PHONE).epoch == 8
    assert tk.digest(T.TOKEN_TYPE_RESIDENT_ID, RID) != tk.digest(T.TOKEN_TYPE_LEGAL_REP, RID)
    assert KEY.hex() not in repr(tk) and str(list(KEY)) not in repr(tk)


def test_token_is_keyed_hmac() -> None:
    import hashlib
    import hmac

    tk = HmacTokeniser(KEY, 1)
    assert tk.digest(T.TOKEN_TYPE_PHONE, PHONE) == hmac.new(KEY, b"phone|" + PHONE.encode(), "sha256").digest()[:16]
    assert tk.digest(T.TOKEN_TYPE_PHONE, PHONE) != hashlib.sha256(b"phone|" + PHONE.encode()).digest()[:16]


def test_bad_keys_rejected() -> None:
    with pytest.raises(ValueError):
        HmacTokeniser(b"short", 1)
    with pytest.raises(ValueError):
        HmacTokeniser(KEY, -1)
    k1, k2 = new_consortium_key(), new_consortium_key()
    assert len(k1) == 32 and k1 != k2


# ---------------------------------------------------------------------------- applicant


def test_tokenise_dedups_and_splits_ips() -> None:
    tk = HmacTokeniser(KEY, 1)
    ids = node_pb2.Identifiers(
        resident_id=RID15,
        phones=["13800138000", "+86 138 0013 8000", "0086１３８００１３８０００"],
        ips=["1.2.3.4", "1.2.3.5"],
        legal_rep_resident_id=RID,
    )
    tokens = tokenise_identifiers(ids, tk)
    assert [t.type for t in tokens] == [
        T.TOKEN_TYPE_RESIDENT_ID,
        T.TOKEN_TYPE_PHONE,
        T.TOKEN_TYPE_IP,
        T.TOKEN_TYPE_IP,
        T.TOKEN_TYPE_IP_SUBNET,
        T.TOKEN_TYPE_LEGAL_REP,
    ]
    assert tokens[1] == tk.token(T.TOKEN_TYPE_PHONE, PHONE)
    assert tokens[4] == tk.token(T.TOKEN_TYPE_IP_SUBNET, "1.2.3.0/24")
    assert tokenise_identifiers(ids, tk) == tokens  # stable
    one_ip = tokenise_identifiers(node_pb2.Identifiers(ips=["::ffff:9.9.9.9"]), tk)
    assert [t.type for t in one_ip] == [T.TOKEN_TYPE_IP, T.TOKEN_TYPE_IP_SUBNET]
    assert one_ip[0] == tk.token(T.TOKEN_TYPE_IP, "9.9.9.9")


def test_tokenise_collects_all_errors() -> None:
    ids = node_pb2.Identifiers(
        resident_id="360426199101010072",
        phones=["13800138000", "12"],
        emails=["x"],
        ips=["1.2.3.4", "nope"],
        legal_rep_resident_id="1",
    )
    with pytest.raises(InvalidIdentifiers) as info:
        tokenise_identifiers(ids, HmacTokeniser(KEY, 1))
    assert [e.field for e in info.value.errors] == [
        "identifiers.resident_id",
        "identifiers.legal_rep_resident_id",
        "identifiers.phones[1]",
        "identifiers.emails[0]",
        "identifiers.ips[1]",
    ]
    assert "360426199101010072" not in str(info.value) and "nope" not in str(info.value)


def test_tokenise_requires_an_identifier() -> None:
    with pytest.raises(InvalidIdentifiers) as info:
        tokenise_identifiers(node_pb2.Identifiers(), HmacTokeniser(KEY, 1))
    [err] = info.value.errors
    assert (err.field, err.description) == ("identifiers", "at least one identifier is required")


# ---------------------------------------------------------------------------- properties

VALID = {
    T.TOKEN_TYPE_RESIDENT_ID: resident_ids(),
    T.TOKEN_TYPE_LEGAL_REP: resident_ids(),
    T.TOKEN_TYPE_USCC: usccs(),
    T.TOKEN_TYPE_PHONE: cn_mobiles,
    T.TOKEN_TYPE_EMAIL: emails,
    T.TOKEN_TYPE_DEVICE_ID: device_ids,
    T.TOKEN_TYPE_IP: st.ip_addresses().map(str),
    T.TOKEN_TYPE_IP_SUBNET: st.ip_addresses().map(str),
    T.TOKEN_TYPE_BANK_ACCOUNT: bank_accounts,
    T.TOKEN_TYPE_ADDRESS: addresses,
}


@SETTINGS
@given(st.data())
@pytest.mark.parametrize("token_type", ALL_TYPES, ids=lambda t: nm.TYPE_NAMES[t])
def test_valid_inputs_normalise_idempotently(token_type: int, data: st.DataObject) -> None:
    raw = data.draw(VALID[token_type])
    canonical = normalise(token_type, raw, "f")
    assert normalise(token_type, canonical, "f") == canonical


@SETTINGS
@given(resident_ids(), st.data())
def test_resident_id_equivalence(rid: str, data: st.DataObject) -> None:
    assert nm.normalise_resident_id(rid) == rid
    assert nm.normalise_resident_id(data.draw(with_separators(rid.lower()))) == rid


@SETTINGS
@given(resident_ids(max_year=1999))
def test_first_generation_ids_upgrade(rid: str) -> None:
    assert nm.normalise_resident_id(rid[:6] + rid[8:17]) == rid


@SETTINGS
@given(cn_mobiles, st.sampled_from(["", "+86", "0086", "(+86)", "86"]), st.data())
def test_phone_equivalence(mobile: str, prefix: str, data: st.DataObject) -> None:
    assert nm.normalise_phone(data.draw(with_separators(prefix + mobile))) == "+86" + mobile


@SETTINGS
@given(st.ip_addresses())
def test_ip_equivalence(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    canonical = nm.normalise_ip(str(addr))
    if addr.version == 6:
        assert nm.normalise_ip(addr.exploded.upper()) == canonical
    else:
        assert nm.normalise_ip(f"::ffff:{addr}") == nm.normalise_ip(full_width(str(addr))) == canonical
    assert normalise(T.TOKEN_TYPE_IP_SUBNET, canonical, "f") == ip_subnet(canonical)
    assert ipaddress.ip_address(canonical) in ipaddress.ip_network(ip_subnet(canonical))


@SETTINGS
@given(usccs(), bank_accounts, st.data())
def test_uscc_and_bank_account_equivalence(code: str, account: str, data: st.DataObject) -> None:
    assert nm.normalise_uscc(data.draw(with_separators(code.lower()))) == code
    assert nm.normalise_bank_account(data.draw(with_separators(account))) == account


@SETTINGS
@given(addresses, emails, device_ids, st.data())
def test_text_equivalence(address: str, email: str, device: str, data: st.DataObject) -> None:
    canonical = nm.normalise_address(address)
    punctuated = data.draw(with_separators(address)).upper() + data.draw(st.sampled_from(["", "。", "，", "#"]))
    assert nm.normalise_address(punctuated) == canonical
    assert nm.normalise_email(" " + full_width(email).upper() + "\u3000") == nm.normalise_email(email) == email
    assert nm.normalise_device_id(full_width(device).upper()) == device


_tricky = st.text(st.sampled_from(list("0123456789+-.:/()@xX ａＡ１２３：．＠ßİ\u0301\u200b#，。:%")) | st.characters())


@SETTINGS
@given(st.one_of(st.text(), _tricky))
@pytest.mark.parametrize("token_type", ALL_TYPES, ids=lambda t: nm.TYPE_NAMES[t])
def test_arbitrary_text_only_raises_invalid_identifier(token_type: int, raw: str) -> None:
    try:
        canonical = normalise(token_type, raw, "f")
    except InvalidIdentifier as err:
        assert err.field == "f"
        return
    assert normalise(token_type, canonical, "f") == canonical
    HmacTokeniser(KEY, 1).digest(token_type, canonical)  # canonical is always encodable
