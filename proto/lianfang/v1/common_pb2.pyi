import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TokenType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_TYPE_UNSPECIFIED: _ClassVar[TokenType]
    TOKEN_TYPE_RESIDENT_ID: _ClassVar[TokenType]
    TOKEN_TYPE_USCC: _ClassVar[TokenType]
    TOKEN_TYPE_PHONE: _ClassVar[TokenType]
    TOKEN_TYPE_EMAIL: _ClassVar[TokenType]
    TOKEN_TYPE_DEVICE_ID: _ClassVar[TokenType]
    TOKEN_TYPE_IP: _ClassVar[TokenType]
    TOKEN_TYPE_IP_SUBNET: _ClassVar[TokenType]
    TOKEN_TYPE_BANK_ACCOUNT: _ClassVar[TokenType]
    TOKEN_TYPE_ADDRESS: _ClassVar[TokenType]
    TOKEN_TYPE_LEGAL_REP: _ClassVar[TokenType]

class TokenScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_SCHEME_UNSPECIFIED: _ClassVar[TokenScheme]
    TOKEN_SCHEME_HMAC_SHA256_128: _ClassVar[TokenScheme]
    TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512: _ClassVar[TokenScheme]

class ApplicantKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLICANT_KIND_UNSPECIFIED: _ClassVar[ApplicantKind]
    APPLICANT_KIND_PERSON: _ClassVar[ApplicantKind]
    APPLICANT_KIND_INDIVIDUAL_BUSINESS: _ClassVar[ApplicantKind]
    APPLICANT_KIND_COMPANY: _ClassVar[ApplicantKind]

class Window(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WINDOW_UNSPECIFIED: _ClassVar[Window]
    WINDOW_1H: _ClassVar[Window]
    WINDOW_24H: _ClassVar[Window]
    WINDOW_7D: _ClassVar[Window]
    WINDOW_30D: _ClassVar[Window]
    WINDOW_90D: _ClassVar[Window]

class MarkerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKER_TYPE_UNSPECIFIED: _ClassVar[MarkerType]
    MARKER_TYPE_CONFIRMED_FRAUD: _ClassVar[MarkerType]
    MARKER_TYPE_SUSPECT: _ClassVar[MarkerType]
    MARKER_TYPE_COURT_DISHONEST: _ClassVar[MarkerType]
    MARKER_TYPE_VICTIM_OF_IMPERSONATION: _ClassVar[MarkerType]
    MARKER_TYPE_PROTECTIVE_REGISTRATION: _ClassVar[MarkerType]

class MarkerPolarity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKER_POLARITY_UNSPECIFIED: _ClassVar[MarkerPolarity]
    MARKER_POLARITY_NEGATIVE: _ClassVar[MarkerPolarity]
    MARKER_POLARITY_PROTECTIVE: _ClassVar[MarkerPolarity]

class EvidenceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_LEVEL_UNSPECIFIED: _ClassVar[EvidenceLevel]
    EVIDENCE_LEVEL_INTERNAL_INVESTIGATION: _ClassVar[EvidenceLevel]
    EVIDENCE_LEVEL_DOCUMENTARY: _ClassVar[EvidenceLevel]
    EVIDENCE_LEVEL_POLICE_REPORT: _ClassVar[EvidenceLevel]
    EVIDENCE_LEVEL_COURT_JUDGMENT: _ClassVar[EvidenceLevel]

class MarkerStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKER_STATUS_UNSPECIFIED: _ClassVar[MarkerStatus]
    MARKER_STATUS_ACTIVE: _ClassVar[MarkerStatus]
    MARKER_STATUS_WITHDRAWN: _ClassVar[MarkerStatus]
    MARKER_STATUS_EXPIRED: _ClassVar[MarkerStatus]
    MARKER_STATUS_DISPUTED: _ClassVar[MarkerStatus]

class DisputeResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_RESOLUTION_UNSPECIFIED: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_WITHDRAW: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_CORRECT: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_UPHOLD: _ClassVar[DisputeResolution]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_APPROVED: _ClassVar[Outcome]
    OUTCOME_DECLINED: _ClassVar[Outcome]
    OUTCOME_FUNDED: _ClassVar[Outcome]
    OUTCOME_REPAID: _ClassVar[Outcome]
    OUTCOME_DEFAULTED: _ClassVar[Outcome]
    OUTCOME_FRAUD_CONFIRMED: _ClassVar[Outcome]

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_PENDING: _ClassVar[MemberStatus]
    MEMBER_STATUS_ACTIVE: _ClassVar[MemberStatus]
    MEMBER_STATUS_SUSPENDED: _ClassVar[MemberStatus]
    MEMBER_STATUS_REVOKED: _ClassVar[MemberStatus]

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_CREDIT_APPLICATION: _ClassVar[Purpose]
    PURPOSE_CREDIT_LIMIT_REVIEW: _ClassVar[Purpose]
    PURPOSE_POST_LOAN_MONITORING: _ClassVar[Purpose]
    PURPOSE_FRAUD_INVESTIGATION: _ClassVar[Purpose]
TOKEN_TYPE_UNSPECIFIED: TokenType
TOKEN_TYPE_RESIDENT_ID: TokenType
TOKEN_TYPE_USCC: TokenType
TOKEN_TYPE_PHONE: TokenType
TOKEN_TYPE_EMAIL: TokenType
TOKEN_TYPE_DEVICE_ID: TokenType
TOKEN_TYPE_IP: TokenType
TOKEN_TYPE_IP_SUBNET: TokenType
TOKEN_TYPE_BANK_ACCOUNT: TokenType
TOKEN_TYPE_ADDRESS: TokenType
TOKEN_TYPE_LEGAL_REP: TokenType
TOKEN_SCHEME_UNSPECIFIED: TokenScheme
TOKEN_SCHEME_HMAC_SHA256_128: TokenScheme
TOKEN_SCHEME_OPRF_RISTRETTO255_SHA512: TokenScheme
APPLICANT_KIND_UNSPECIFIED: ApplicantKind
APPLICANT_KIND_PERSON: ApplicantKind
APPLICANT_KIND_INDIVIDUAL_BUSINESS: ApplicantKind
APPLICANT_KIND_COMPANY: ApplicantKind
WINDOW_UNSPECIFIED: Window
WINDOW_1H: Window
WINDOW_24H: Window
WINDOW_7D: Window
WINDOW_30D: Window
WINDOW_90D: Window
MARKER_TYPE_UNSPECIFIED: MarkerType
MARKER_TYPE_CONFIRMED_FRAUD: MarkerType
MARKER_TYPE_SUSPECT: MarkerType
MARKER_TYPE_COURT_DISHONEST: MarkerType
MARKER_TYPE_VICTIM_OF_IMPERSONATION: MarkerType
MARKER_TYPE_PROTECTIVE_REGISTRATION: MarkerType
MARKER_POLARITY_UNSPECIFIED: MarkerPolarity
MARKER_POLARITY_NEGATIVE: MarkerPolarity
MARKER_POLARITY_PROTECTIVE: MarkerPolarity
EVIDENCE_LEVEL_UNSPECIFIED: EvidenceLevel
EVIDENCE_LEVEL_INTERNAL_INVESTIGATION: EvidenceLevel
EVIDENCE_LEVEL_DOCUMENTARY: EvidenceLevel
EVIDENCE_LEVEL_POLICE_REPORT: EvidenceLevel
EVIDENCE_LEVEL_COURT_JUDGMENT: EvidenceLevel
MARKER_STATUS_UNSPECIFIED: MarkerStatus
MARKER_STATUS_ACTIVE: MarkerStatus
MARKER_STATUS_WITHDRAWN: MarkerStatus
MARKER_STATUS_EXPIRED: MarkerStatus
MARKER_STATUS_DISPUTED: MarkerStatus
DISPUTE_RESOLUTION_UNSPECIFIED: DisputeResolution
DISPUTE_RESOLUTION_WITHDRAW: DisputeResolution
DISPUTE_RESOLUTION_CORRECT: DisputeResolution
DISPUTE_RESOLUTION_UPHOLD: DisputeResolution
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_APPROVED: Outcome
OUTCOME_DECLINED: Outcome
OUTCOME_FUNDED: Outcome
OUTCOME_REPAID: Outcome
OUTCOME_DEFAULTED: Outcome
OUTCOME_FRAUD_CONFIRMED: Outcome
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_PENDING: MemberStatus
MEMBER_STATUS_ACTIVE: MemberStatus
MEMBER_STATUS_SUSPENDED: MemberStatus
MEMBER_STATUS_REVOKED: MemberStatus
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_CREDIT_APPLICATION: Purpose
PURPOSE_CREDIT_LIMIT_REVIEW: Purpose
PURPOSE_POST_LOAN_MONITORING: Purpose
PURPOSE_FRAUD_INVESTIGATION: Purpose

class Token(_message.Message):
    __slots__ = ("scheme", "type", "epoch", "value")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    scheme: TokenScheme
    type: TokenType
    epoch: int
    value: bytes
    def __init__(self, scheme: _Optional[_Union[TokenScheme, str]] = ..., type: _Optional[_Union[TokenType, str]] = ..., epoch: _Optional[int] = ..., value: _Optional[bytes] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("dispute_id", "marker_id", "raised_by", "subject_statement", "opened_at", "deadline", "overdue", "resolution", "resolved_at", "resolution_note", "corrected_marker_id", "suspends_marker")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    RAISED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    SUSPENDS_MARKER_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    marker_id: str
    raised_by: str
    subject_statement: str
    opened_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    overdue: bool
    resolution: DisputeResolution
    resolved_at: _timestamp_pb2.Timestamp
    resolution_note: str
    corrected_marker_id: str
    suspends_marker: bool
    def __init__(self, dispute_id: _Optional[str] = ..., marker_id: _Optional[str] = ..., raised_by: _Optional[str] = ..., subject_statement: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., resolution: _Optional[_Union[DisputeResolution, str]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_note: _Optional[str] = ..., corrected_marker_id: _Optional[str] = ..., suspends_marker: _Optional[bool] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("code", "token_type", "detail")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    code: str
    token_type: TokenType
    detail: str
    def __init__(self, code: _Optional[str] = ..., token_type: _Optional[_Union[TokenType, str]] = ..., detail: _Optional[str] = ...) -> None: ...
