import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianfang.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckRequest(_message.Message):
    __slots__ = ("application_ref", "consent_ref", "tokens", "applicant_kind", "product_category")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REF_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    consent_ref: str
    tokens: _containers.RepeatedCompositeFieldContainer[_common_pb2.Token]
    applicant_kind: _common_pb2.ApplicantKind
    product_category: str
    def __init__(self, application_ref: _Optional[str] = ..., consent_ref: _Optional[str] = ..., tokens: _Optional[_Iterable[_Union[_common_pb2.Token, _Mapping]]] = ..., applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ..., product_category: _Optional[str] = ...) -> None: ...

class WindowCount(_message.Message):
    __slots__ = ("window", "other_members", "other_applications")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    OTHER_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    OTHER_APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    window: _common_pb2.Window
    other_members: int
    other_applications: int
    def __init__(self, window: _Optional[_Union[_common_pb2.Window, str]] = ..., other_members: _Optional[int] = ..., other_applications: _Optional[int] = ...) -> None: ...

class Stacking(_message.Message):
    __slots__ = ("token_type", "windows")
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    token_type: _common_pb2.TokenType
    windows: _containers.RepeatedCompositeFieldContainer[WindowCount]
    def __init__(self, token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., windows: _Optional[_Iterable[_Union[WindowCount, _Mapping]]] = ...) -> None: ...

class BlacklistHit(_message.Message):
    __slots__ = ("token_type", "marker_type", "polarity", "reason_code", "evidence_level", "filing_members", "first_filed", "last_filed")
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POLARITY_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    FILING_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FIRST_FILED_FIELD_NUMBER: _ClassVar[int]
    LAST_FILED_FIELD_NUMBER: _ClassVar[int]
    token_type: _common_pb2.TokenType
    marker_type: _common_pb2.MarkerType
    polarity: _common_pb2.MarkerPolarity
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    filing_members: int
    first_filed: _timestamp_pb2.Timestamp
    last_filed: _timestamp_pb2.Timestamp
    def __init__(self, token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., polarity: _Optional[_Union[_common_pb2.MarkerPolarity, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., filing_members: _Optional[int] = ..., first_filed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_filed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("application_ref", "newly_recorded", "stacking", "blacklist", "reasons", "checked_at")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    NEWLY_RECORDED_FIELD_NUMBER: _ClassVar[int]
    STACKING_FIELD_NUMBER: _ClassVar[int]
    BLACKLIST_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    newly_recorded: bool
    stacking: _containers.RepeatedCompositeFieldContainer[Stacking]
    blacklist: _containers.RepeatedCompositeFieldContainer[BlacklistHit]
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, application_ref: _Optional[str] = ..., newly_recorded: _Optional[bool] = ..., stacking: _Optional[_Iterable[_Union[Stacking, _Mapping]]] = ..., blacklist: _Optional[_Iterable[_Union[BlacklistHit, _Mapping]]] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BatchCheckRequest(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[CheckRequest]
    def __init__(self, checks: _Optional[_Iterable[_Union[CheckRequest, _Mapping]]] = ...) -> None: ...

class BatchCheckResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CheckResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[CheckResponse, _Mapping]]] = ...) -> None: ...

class ReportOutcomeRequest(_message.Message):
    __slots__ = ("application_ref", "outcome", "occurred_at")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    outcome: _common_pb2.Outcome
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, application_ref: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportOutcomeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FileMarkerRequest(_message.Message):
    __slots__ = ("token", "marker_type", "reason_code", "evidence_level", "event_ended_at", "case_ref")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    EVENT_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    CASE_REF_FIELD_NUMBER: _ClassVar[int]
    token: _common_pb2.Token
    marker_type: _common_pb2.MarkerType
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    event_ended_at: _timestamp_pb2.Timestamp
    case_ref: str
    def __init__(self, token: _Optional[_Union[_common_pb2.Token, _Mapping]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., event_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_ref: _Optional[str] = ...) -> None: ...

class Marker(_message.Message):
    __slots__ = ("marker_id", "filer_member_id", "token", "marker_type", "polarity", "reason_code", "evidence_level", "status", "filed_at", "event_ended_at", "expires_at", "withdrawn_at", "case_ref")
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    FILER_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POLARITY_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    CASE_REF_FIELD_NUMBER: _ClassVar[int]
    marker_id: str
    filer_member_id: str
    token: _common_pb2.Token
    marker_type: _common_pb2.MarkerType
    polarity: _common_pb2.MarkerPolarity
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    status: _common_pb2.MarkerStatus
    filed_at: _timestamp_pb2.Timestamp
    event_ended_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    withdrawn_at: _timestamp_pb2.Timestamp
    case_ref: str
    def __init__(self, marker_id: _Optional[str] = ..., filer_member_id: _Optional[str] = ..., token: _Optional[_Union[_common_pb2.Token, _Mapping]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., polarity: _Optional[_Union[_common_pb2.MarkerPolarity, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., status: _Optional[_Union[_common_pb2.MarkerStatus, str]] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_ref: _Optional[str] = ...) -> None: ...

class FileMarkerResponse(_message.Message):
    __slots__ = ("marker",)
    MARKER_FIELD_NUMBER: _ClassVar[int]
    marker: Marker
    def __init__(self, marker: _Optional[_Union[Marker, _Mapping]] = ...) -> None: ...

class WithdrawMarkerRequest(_message.Message):
    __slots__ = ("marker_id", "reason")
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    marker_id: str
    reason: str
    def __init__(self, marker_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawMarkerResponse(_message.Message):
    __slots__ = ("marker",)
    MARKER_FIELD_NUMBER: _ClassVar[int]
    marker: Marker
    def __init__(self, marker: _Optional[_Union[Marker, _Mapping]] = ...) -> None: ...

class ListMyMarkersRequest(_message.Message):
    __slots__ = ("include_inactive",)
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    def __init__(self, include_inactive: _Optional[bool] = ...) -> None: ...

class ListMyMarkersResponse(_message.Message):
    __slots__ = ("markers",)
    MARKERS_FIELD_NUMBER: _ClassVar[int]
    markers: _containers.RepeatedCompositeFieldContainer[Marker]
    def __init__(self, markers: _Optional[_Iterable[_Union[Marker, _Mapping]]] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("member_id", "display_name", "category", "public_key", "status", "status_reason", "created_at", "updated_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    display_name: str
    category: str
    public_key: bytes
    status: _common_pb2.MemberStatus
    status_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[str] = ..., public_key: _Optional[bytes] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ..., status_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterMemberRequest(_message.Message):
    __slots__ = ("member_id", "display_name", "category", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    display_name: str
    category: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class ChangeMemberRequest(_message.Message):
    __slots__ = ("member_id", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.MemberStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...
