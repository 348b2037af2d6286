"""Canonical forms of raw applicant identifiers.

Two lenders must derive the same token from the same person, so every spelling of an identifier
(full-width digits, stray separators, ``+86``/``0086`` prefixes, 15-digit IDs, IPv6 forms) has to
collapse to one canonical string before it is keyed. Invalid input is rejected here, never hashed.
Errors name the field but never echo the raw value: raw personal data must not reach logs.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from lianfang.v1 import common_pb2
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from runtime.errors import FieldViolation

# Longest raw input accepted; NFKC can expand text ~18x, so cap it before doing any work.
MAX_RAW_LENGTH = 1024

TYPE_NAMES: dict[int, str] = {
    common_pb2.TOKEN_TYPE_RESIDENT_ID: "resident_id",
    common_pb2.TOKEN_TYPE_USCC: "uscc",
    common_pb2.TOKEN_TYPE_PHONE: "phone",
    common_pb2.TOKEN_TYPE_EMAIL: "email",
    common_pb2.TOKEN_TYPE_DEVICE_ID: "device_id",
    common_pb2.TOKEN_TYPE_IP: "ip",
    common_pb2.TOKEN_TYPE_IP_SUBNET: "ip_subnet",
    common_pb2.TOKEN_TYPE_BANK_ACCOUNT: "bank_account",
    common_pb2.TOKEN_TYPE_ADDRESS: "address",
    common_pb2.TOKEN_TYPE_LEGAL_REP: "legal_rep",
}


class InvalidIdentifier(ValueError):
    """One identifier that cannot be normalised; ``description`` never contains the raw value."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[str, str]]:
        return (type(self), (self.field, self.description))


class InvalidIdentifiers(ValueError):
    """Every invalid field of one request, so the caller can fix them all in one round trip."""

    def __init__(self, errors: list[InvalidIdentifier]) -> None:
        if not errors:
            raise ValueError("InvalidIdentifiers needs at least one error")
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)

    def __reduce__(self) -> tuple[type[InvalidIdentifiers], tuple[list[InvalidIdentifier]]]:
        return (type(self), (self.errors,))

    def violations(self) -> list[FieldViolation]:
        """The errors as an INVALID_ARGUMENT's field violations (each names its field, never the value)."""
        return [FieldViolation(e.field, e.description) for e in self.errors]


# Stray separators in numeric identifiers: whitespace, dashes of every kind (category Pd),
# invisible format characters (zero-width space, BOM) and the usual punctuation.
_SEPARATORS = frozenset("._/·・")
_ASCII_DIGITS = re.compile(r"[0-9]+")
# First two digits of a PRC area code (provinces, plus HK/MO/TW residence permits). Only this coarse
# check: stdnum's county table (from Wikipedia) would reject real IDs from re-coded counties.
_PROVINCES = frozenset(
    str(code)
    for code in (
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
    )
)


def _preclean(raw: str, field: str) -> str:
    """NFKC (full-width digits, ideographic space -> ASCII) and strip; reject empty/oversized."""
    if not isinstance(raw, str):
        raise InvalidIdentifier(field, "must be a string")
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidIdentifier(field, f"is longer than {MAX_RAW_LENGTH} characters")
    s = unicodedata.normalize("NFKC", raw).strip()
    if not s:
        raise InvalidIdentifier(field, "is empty")
    return s


def _drop_separators(s: str, extra: str = "") -> str:
    return "".join(
        c for c in s if not (c.isspace() or c in _SEPARATORS or c in extra or unicodedata.category(c) in ("Pd", "Cf"))
    )


def _fixpoint(fn: Callable[[str], str], s: str) -> str:
    """Apply ``fn`` until stable, so that normalising a canonical value is a no-op."""
    for _ in range(8):
        t = fn(s)
        if t == s:
            return t
        s = t
    return s


def _fold(s: str) -> str:
    # lower() can yield non-NFKC text (and NFKC can yield upper case), hence the fixpoint.
    return _fixpoint(lambda t: unicodedata.normalize("NFKC", t.lower()), s)


def normalise_resident_id(raw: str, field: str = "resident_id") -> str:
    """18-digit PRC resident ID; a valid 15-digit first-generation ID is upgraded to 18 digits."""
    s = _drop_separators(_preclean(raw, field)).upper()
    if len(s) == 15 and _ASCII_DIGITS.fullmatch(s):
        body = s[:6] + "19" + s[6:]
        s = body + ric.calc_check_digit(body + "0")
    elif len(s) != 18:
        raise InvalidIdentifier(field, "must have 18 characters (or 15 digits for a first-generation ID)")
    elif not _ASCII_DIGITS.fullmatch(s[:17]) or not (s[17].isascii() and (s[17].isdigit() or s[17] == "X")):
        raise InvalidIdentifier(field, "must be 17 digits followed by a digit or X")
    elif s[17] != ric.calc_check_digit(s):
        raise InvalidIdentifier(field, "has an invalid check digit")
    if s[:2] not in _PROVINCES:
        raise InvalidIdentifier(field, "has an unknown area code")
    try:
        born = ric.get_birth_date(s)
    except ValidationError:
        raise InvalidIdentifier(field, "has an invalid birth date") from None
    if not datetime.date(1900, 1, 1) <= born <= datetime.date.today():
        raise InvalidIdentifier(field, "has a birth date out of range")
    return s


def normalise_legal_rep(raw: str, field: str = "legal_rep") -> str:
    """A company's legal representative is a person: same rules as a resident ID."""
    return normalise_resident_id(raw, field)


def normalise_uscc(raw: str, field: str = "uscc") -> str:
    """18-character unified social credit code with its check character."""
    s = _drop_separators(_preclean(raw, field)).upper()
    if not s.isascii():
        raise InvalidIdentifier(field, "must contain only digits and letters")
    try:
        return str(uscc.validate(s))
    except ValidationError:
        raise InvalidIdentifier(field, "is not a valid unified social credit code") from None


def normalise_phone(raw: str, field: str = "phone") -> str:
    """E.164; numbers without a country code are read as mainland China (+86)."""
    s = _drop_separators(_preclean(raw, field), extra="()")
    if not re.fullmatch(r"\+?[0-9]{3,20}", s):
        raise InvalidIdentifier(field, "must contain only digits, separators and a leading +")
    try:
        number = phonenumbers.parse(s, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(field, "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(field, "is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_email(raw: str, field: str = "email") -> str:
    """Lower-cased ``local@domain`` with the domain in IDNA (punycode) form."""
    s = _fold(_preclean(raw, field))
    if any(c.isspace() for c in s) or not s.isprintable():
        raise InvalidIdentifier(field, "must not contain whitespace or control characters")
    if s.count("@") != 1:
        raise InvalidIdentifier(field, "must contain exactly one @")
    local, domain = s.split("@")
    if not local:
        raise InvalidIdentifier(field, "has an empty local part")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise InvalidIdentifier(field, "must have a domain with a dot and no empty labels")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise InvalidIdentifier(field, "has a domain that cannot be IDNA-encoded") from None
    email = f"{local}@{domain}"
    if len(email) > 254:
        raise InvalidIdentifier(field, "is longer than 254 characters")
    return email


def normalise_device_id(raw: str, field: str = "device_id") -> str:
    """Device fingerprint as supplied by the SDK, lower-cased; 4..128 printable characters."""
    s = _fold(_preclean(raw, field))
    if any(c.isspace() for c in s) or not s.isprintable():
        raise InvalidIdentifier(field, "must not contain whitespace or control characters")
    if not 4 <= len(s) <= 128:
        raise InvalidIdentifier(field, "must be 4 to 128 characters long")
    return s


def normalise_ip(raw: str, field: str = "ip") -> str:
    """Compressed address text; IPv4-mapped IPv6 becomes IPv4 and a v6 zone id is dropped."""
    s = _preclean(raw, field)
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        raise InvalidIdentifier(field, "is not an IPv4 or IPv6 address") from None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        addr = ipaddress.IPv6Address(int(addr))  # drops a %zone suffix
    return str(addr)


def ip_subnet(canonical_ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) network of a canonical IP, e.g. ``1.2.3.0/24``."""
    prefix = 24 if ipaddress.ip_address(canonical_ip).version == 4 else 64
    return str(ipaddress.ip_network(f"{canonical_ip}/{prefix}", strict=False))


def normalise_ip_subnet(raw: str, field: str = "ip_subnet") -> str:
    """Subnet of an IP address, or a network at least as narrow as /24 (v4) or /64 (v6)."""
    s = _preclean(raw, field)
    if "/" not in s:
        return ip_subnet(normalise_ip(s, field))
    try:
        net = ipaddress.ip_network(s, strict=False)
    except ValueError:
        raise InvalidIdentifier(field, "is not an IP address or network") from None
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if mapped is not None and net.prefixlen >= 96:
        net = ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    if net.prefixlen < (24 if net.version == 4 else 64):
        raise InvalidIdentifier(field, "is wider than /24 (IPv4) or /64 (IPv6)")
    return ip_subnet(normalise_ip(str(net.network_address), field))


def normalise_bank_account(raw: str, field: str = "bank_account") -> str:
    """8..30 digits; no Luhn check, because corporate settlement accounts do not carry one."""
    s = _drop_separators(_preclean(raw, field))
    if not _ASCII_DIGITS.fullmatch(s):
        raise InvalidIdentifier(field, "must contain only digits and separators")
    if not 8 <= len(s) <= 30:
        raise InvalidIdentifier(field, "must have 8 to 30 digits")
    return s


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _strip_address(s: str) -> str:
    # Drop separators (Z*), punctuation (P*), symbols (S*) and control/format/other (C*).
    kept = "".join(c for c in s if unicodedata.category(c)[0] not in "ZPSC")
    return unicodedata.normalize("NFKC", kept.translate(_ASCII_LOWER))


def normalise_address(raw: str, field: str = "address") -> str:
    """Address text without whitespace, punctuation or symbols (，。、（）# …), ASCII lower-cased."""
    s = _fixpoint(_strip_address, _preclean(raw, field))
    if len(s) < 4:
        raise InvalidIdentifier(field, "must keep at least 4 characters after normalisation")
    if len(s) > 512:
        raise InvalidIdentifier(field, "is longer than 512 characters after normalisation")
    return s


_NORMALISERS: dict[int, Callable[[str, str], str]] = {
    common_pb2.TOKEN_TYPE_RESIDENT_ID: normalise_resident_id,
    common_pb2.TOKEN_TYPE_USCC: normalise_uscc,
    common_pb2.TOKEN_TYPE_PHONE: normalise_phone,
    common_pb2.TOKEN_TYPE_EMAIL: normalise_email,
    common_pb2.TOKEN_TYPE_DEVICE_ID: normalise_device_id,
    common_pb2.TOKEN_TYPE_IP: normalise_ip,
    common_pb2.TOKEN_TYPE_IP_SUBNET: normalise_ip_subnet,
    common_pb2.TOKEN_TYPE_BANK_ACCOUNT: normalise_bank_account,
    common_pb2.TOKEN_TYPE_ADDRESS: normalise_address,
    common_pb2.TOKEN_TYPE_LEGAL_REP: normalise_legal_rep,
}


def normalise(token_type: int, raw: str, field: str) -> str:
    """Canonical form of ``raw`` as an identifier of ``token_type`` (a ``TokenType`` value)."""
    try:
        fn = _NORMALISERS[token_type]
    except KeyError:
        raise ValueError(f"unsupported token type {token_type}") from None
    return fn(raw, field)
