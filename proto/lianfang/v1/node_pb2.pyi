from lianfang.v1 import common_pb2 as _common_pb2
from lianfang.v1 import consortium_pb2 as _consortium_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Identifiers(_message.Message):
    __slots__ = ("resident_id", "uscc", "phones", "emails", "device_ids", "ips", "bank_accounts", "addresses", "legal_rep_resident_id")
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    USCC_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    IPS_FIELD_NUMBER: _ClassVar[int]
    BANK_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REP_RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    resident_id: str
    uscc: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    emails: _containers.RepeatedScalarFieldContainer[str]
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    ips: _containers.RepeatedScalarFieldContainer[str]
    bank_accounts: _containers.RepeatedScalarFieldContainer[str]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    legal_rep_resident_id: str
    def __init__(self, resident_id: _Optional[str] = ..., uscc: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., emails: _Optional[_Iterable[str]] = ..., device_ids: _Optional[_Iterable[str]] = ..., ips: _Optional[_Iterable[str]] = ..., bank_accounts: _Optional[_Iterable[str]] = ..., addresses: _Optional[_Iterable[str]] = ..., legal_rep_resident_id: _Optional[str] = ...) -> None: ...

class ScreenRequest(_message.Message):
    __slots__ = ("application_ref", "consent_ref", "applicant_kind", "product_category", "identifiers")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REF_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    consent_ref: str
    applicant_kind: _common_pb2.ApplicantKind
    product_category: str
    identifiers: Identifiers
    def __init__(self, application_ref: _Optional[str] = ..., consent_ref: _Optional[str] = ..., applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ..., product_category: _Optional[str] = ..., identifiers: _Optional[_Union[Identifiers, _Mapping]] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("consortium", "tokens_sent")
    CONSORTIUM_FIELD_NUMBER: _ClassVar[int]
    TOKENS_SENT_FIELD_NUMBER: _ClassVar[int]
    consortium: _consortium_pb2.CheckResponse
    tokens_sent: int
    def __init__(self, consortium: _Optional[_Union[_consortium_pb2.CheckResponse, _Mapping]] = ..., tokens_sent: _Optional[int] = ...) -> None: ...
