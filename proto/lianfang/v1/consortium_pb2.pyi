import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianfang.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    ALERT_KIND_CO_DEBT_APPLICATION: _ClassVar[AlertKind]
    ALERT_KIND_CO_DEBT_FUNDED: _ClassVar[AlertKind]
    ALERT_KIND_MARKER_FILED: _ClassVar[AlertKind]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_JSON: _ClassVar[ExportFormat]
    EXPORT_FORMAT_GRAPHML: _ClassVar[ExportFormat]
ALERT_KIND_UNSPECIFIED: AlertKind
ALERT_KIND_CO_DEBT_APPLICATION: AlertKind
ALERT_KIND_CO_DEBT_FUNDED: AlertKind
ALERT_KIND_MARKER_FILED: AlertKind
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_JSON: ExportFormat
EXPORT_FORMAT_GRAPHML: ExportFormat

class RegisterWatchRequest(_message.Message):
    __slots__ = ("application_ref",)
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    def __init__(self, application_ref: _Optional[str] = ...) -> None: ...

class RegisterWatchResponse(_message.Message):
    __slots__ = ("token_types",)
    TOKEN_TYPES_FIELD_NUMBER: _ClassVar[int]
    token_types: _containers.RepeatedScalarFieldContainer[_common_pb2.TokenType]
    def __init__(self, token_types: _Optional[_Iterable[_Union[_common_pb2.TokenType, str]]] = ...) -> None: ...

class UnregisterWatchRequest(_message.Message):
    __slots__ = ("application_ref",)
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    def __init__(self, application_ref: _Optional[str] = ...) -> None: ...

class UnregisterWatchResponse(_message.Message):
    __slots__ = ("was_watching",)
    WAS_WATCHING_FIELD_NUMBER: _ClassVar[int]
    was_watching: bool
    def __init__(self, was_watching: _Optional[bool] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("after",)
    AFTER_FIELD_NUMBER: _ClassVar[int]
    after: str
    def __init__(self, after: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("cursor", "kind", "application_refs", "token_types", "other_members", "other_applications", "occurred_at")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_REFS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPES_FIELD_NUMBER: _ClassVar[int]
    OTHER_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    OTHER_APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    kind: AlertKind
    application_refs: _containers.RepeatedScalarFieldContainer[str]
    token_types: _containers.RepeatedScalarFieldContainer[_common_pb2.TokenType]
    other_members: int
    other_applications: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cursor: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., application_refs: _Optional[_Iterable[str]] = ..., token_types: _Optional[_Iterable[_Union[_common_pb2.TokenType, str]]] = ..., other_members: _Optional[int] = ..., other_applications: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("alerts", "caught_up", "alerts_dropped", "last_dropped")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    ALERTS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    LAST_DROPPED_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    caught_up: bool
    alerts_dropped: int
    last_dropped: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., caught_up: _Optional[bool] = ..., alerts_dropped: _Optional[int] = ..., last_dropped: _Optional[str] = ...) -> None: ...

class AckAlertsRequest(_message.Message):
    __slots__ = ("up_to",)
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    up_to: str
    def __init__(self, up_to: _Optional[str] = ...) -> None: ...

class AckAlertsResponse(_message.Message):
    __slots__ = ("acknowledged",)
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    acknowledged: str
    def __init__(self, acknowledged: _Optional[str] = ...) -> None: ...

class TokenPair(_message.Message):
    __slots__ = ("older", "newer")
    OLDER_FIELD_NUMBER: _ClassVar[int]
    NEWER_FIELD_NUMBER: _ClassVar[int]
    older: _common_pb2.Token
    newer: _common_pb2.Token
    def __init__(self, older: _Optional[_Union[_common_pb2.Token, _Mapping]] = ..., newer: _Optional[_Union[_common_pb2.Token, _Mapping]] = ...) -> None: ...

class LinkTokensRequest(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[TokenPair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[TokenPair, _Mapping]]] = ...) -> None: ...

class LinkTokensResponse(_message.Message):
    __slots__ = ("linked",)
    LINKED_FIELD_NUMBER: _ClassVar[int]
    linked: int
    def __init__(self, linked: _Optional[int] = ...) -> None: ...

class GetMyKeyEpochsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WrappedKeyEpoch(_message.Message):
    __slots__ = ("epoch", "wrapped_key", "created_at", "retired_at", "key_check")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_CHECK_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    wrapped_key: bytes
    created_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    key_check: bytes
    def __init__(self, epoch: _Optional[int] = ..., wrapped_key: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_check: _Optional[bytes] = ...) -> None: ...

class GetMyKeyEpochsResponse(_message.Message):
    __slots__ = ("epochs",)
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    epochs: _containers.RepeatedCompositeFieldContainer[WrappedKeyEpoch]
    def __init__(self, epochs: _Optional[_Iterable[_Union[WrappedKeyEpoch, _Mapping]]] = ...) -> None: ...

class RaiseDisputeRequest(_message.Message):
    __slots__ = ("marker_id", "subject_statement")
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    marker_id: str
    subject_statement: str
    def __init__(self, marker_id: _Optional[str] = ..., subject_statement: _Optional[str] = ...) -> None: ...

class DisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: _common_pb2.Dispute
    def __init__(self, dispute: _Optional[_Union[_common_pb2.Dispute, _Mapping]] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("application_ref", "consent_ref", "tokens", "applicant_kind", "product_category", "purpose", "consent_expires_at")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REF_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    consent_ref: str
    tokens: _containers.RepeatedCompositeFieldContainer[_common_pb2.Token]
    applicant_kind: _common_pb2.ApplicantKind
    product_category: str
    purpose: _common_pb2.Purpose
    consent_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, application_ref: _Optional[str] = ..., consent_ref: _Optional[str] = ..., tokens: _Optional[_Iterable[_Union[_common_pb2.Token, _Mapping]]] = ..., applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ..., product_category: _Optional[str] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., consent_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("token_type", "windows", "shared")
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    token_type: _common_pb2.TokenType
    windows: _containers.RepeatedCompositeFieldContainer[WindowCount]
    shared: bool
    def __init__(self, token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., windows: _Optional[_Iterable[_Union[WindowCount, _Mapping]]] = ..., shared: _Optional[bool] = ...) -> None: ...

class BlacklistHit(_message.Message):
    __slots__ = ("token_type", "marker_type", "polarity", "reason_code", "evidence_level", "filing_members", "first_filed", "last_filed", "disputed_filings")
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POLARITY_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    FILING_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FIRST_FILED_FIELD_NUMBER: _ClassVar[int]
    LAST_FILED_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FILINGS_FIELD_NUMBER: _ClassVar[int]
    token_type: _common_pb2.TokenType
    marker_type: _common_pb2.MarkerType
    polarity: _common_pb2.MarkerPolarity
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    filing_members: int
    first_filed: _timestamp_pb2.Timestamp
    last_filed: _timestamp_pb2.Timestamp
    disputed_filings: int
    def __init__(self, token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., polarity: _Optional[_Union[_common_pb2.MarkerPolarity, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., filing_members: _Optional[int] = ..., first_filed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_filed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disputed_filings: _Optional[int] = ...) -> None: ...

class RingFactor(_message.Message):
    __slots__ = ("name", "value", "contribution", "explanation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    contribution: float
    explanation: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., contribution: _Optional[float] = ..., explanation: _Optional[str] = ...) -> None: ...

class SharedTokenType(_message.Message):
    __slots__ = ("token_type", "tokens")
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    token_type: _common_pb2.TokenType
    tokens: int
    def __init__(self, token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., tokens: _Optional[int] = ...) -> None: ...

class Ring(_message.Message):
    __slots__ = ("ring_id", "size", "lenders", "persons", "blacklisted", "defaulted", "fraud_confirmed", "max_persons_per_device_or_phone", "applications_per_day", "score", "shared_token_types", "factors", "first_seen", "last_seen")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LENDERS_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    BLACKLISTED_FIELD_NUMBER: _ClassVar[int]
    DEFAULTED_FIELD_NUMBER: _ClassVar[int]
    FRAUD_CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    MAX_PERSONS_PER_DEVICE_OR_PHONE_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SHARED_TOKEN_TYPES_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    size: int
    lenders: int
    persons: int
    blacklisted: int
    defaulted: int
    fraud_confirmed: int
    max_persons_per_device_or_phone: int
    applications_per_day: float
    score: float
    shared_token_types: _containers.RepeatedCompositeFieldContainer[SharedTokenType]
    factors: _containers.RepeatedCompositeFieldContainer[RingFactor]
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    def __init__(self, ring_id: _Optional[str] = ..., size: _Optional[int] = ..., lenders: _Optional[int] = ..., persons: _Optional[int] = ..., blacklisted: _Optional[int] = ..., defaulted: _Optional[int] = ..., fraud_confirmed: _Optional[int] = ..., max_persons_per_device_or_phone: _Optional[int] = ..., applications_per_day: _Optional[float] = ..., score: _Optional[float] = ..., shared_token_types: _Optional[_Iterable[_Union[SharedTokenType, _Mapping]]] = ..., factors: _Optional[_Iterable[_Union[RingFactor, _Mapping]]] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("application_ref", "newly_recorded", "stacking", "blacklist", "reasons", "checked_at", "ring")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    NEWLY_RECORDED_FIELD_NUMBER: _ClassVar[int]
    STACKING_FIELD_NUMBER: _ClassVar[int]
    BLACKLIST_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    RING_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    newly_recorded: bool
    stacking: _containers.RepeatedCompositeFieldContainer[Stacking]
    blacklist: _containers.RepeatedCompositeFieldContainer[BlacklistHit]
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    checked_at: _timestamp_pb2.Timestamp
    ring: Ring
    def __init__(self, application_ref: _Optional[str] = ..., newly_recorded: _Optional[bool] = ..., stacking: _Optional[_Iterable[_Union[Stacking, _Mapping]]] = ..., blacklist: _Optional[_Iterable[_Union[BlacklistHit, _Mapping]]] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ring: _Optional[_Union[Ring, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("token", "marker_type", "reason_code", "evidence_level", "event_ended_at", "case_ref", "application_ref")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    EVENT_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    CASE_REF_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    token: _common_pb2.Token
    marker_type: _common_pb2.MarkerType
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    event_ended_at: _timestamp_pb2.Timestamp
    case_ref: str
    application_ref: str
    def __init__(self, token: _Optional[_Union[_common_pb2.Token, _Mapping]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., event_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_ref: _Optional[str] = ..., application_ref: _Optional[str] = ...) -> None: ...

class Marker(_message.Message):
    __slots__ = ("marker_id", "filer_member_id", "token", "marker_type", "polarity", "reason_code", "evidence_level", "status", "filed_at", "event_ended_at", "expires_at", "withdrawn_at", "case_ref", "withdraw_reason")
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
    WITHDRAW_REASON_FIELD_NUMBER: _ClassVar[int]
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
    withdraw_reason: str
    def __init__(self, marker_id: _Optional[str] = ..., filer_member_id: _Optional[str] = ..., token: _Optional[_Union[_common_pb2.Token, _Mapping]] = ..., marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., polarity: _Optional[_Union[_common_pb2.MarkerPolarity, str]] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., status: _Optional[_Union[_common_pb2.MarkerStatus, str]] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_ref: _Optional[str] = ..., withdraw_reason: _Optional[str] = ...) -> None: ...

class FileMarkerResponse(_message.Message):
    __slots__ = ("marker", "counts_as_contribution")
    MARKER_FIELD_NUMBER: _ClassVar[int]
    COUNTS_AS_CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    marker: Marker
    counts_as_contribution: bool
    def __init__(self, marker: _Optional[_Union[Marker, _Mapping]] = ..., counts_as_contribution: _Optional[bool] = ...) -> None: ...

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

class SetEncryptionKeyRequest(_message.Message):
    __slots__ = ("member_id", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class SetEncryptionKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateKeyEpochRequest(_message.Message):
    __slots__ = ("epoch", "wrapped_keys", "key_check")
    class WrappedKeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEYS_FIELD_NUMBER: _ClassVar[int]
    KEY_CHECK_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    wrapped_keys: _containers.ScalarMap[str, bytes]
    key_check: bytes
    def __init__(self, epoch: _Optional[int] = ..., wrapped_keys: _Optional[_Mapping[str, bytes]] = ..., key_check: _Optional[bytes] = ...) -> None: ...

class GrantKeyEpochRequest(_message.Message):
    __slots__ = ("epoch", "wrapped_keys")
    class WrappedKeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEYS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    wrapped_keys: _containers.ScalarMap[str, bytes]
    def __init__(self, epoch: _Optional[int] = ..., wrapped_keys: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class RetireKeyEpochRequest(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class KeyEpochInfo(_message.Message):
    __slots__ = ("epoch", "created_at", "retired_at", "members", "key_check")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    KEY_CHECK_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    created_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    members: _containers.RepeatedScalarFieldContainer[str]
    key_check: bytes
    def __init__(self, epoch: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., members: _Optional[_Iterable[str]] = ..., key_check: _Optional[bytes] = ...) -> None: ...

class ListKeyEpochsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemberEncryptionKey(_message.Message):
    __slots__ = ("member_id", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class ListKeyEpochsResponse(_message.Message):
    __slots__ = ("epochs", "encryption_keys")
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEYS_FIELD_NUMBER: _ClassVar[int]
    epochs: _containers.RepeatedCompositeFieldContainer[KeyEpochInfo]
    encryption_keys: _containers.RepeatedCompositeFieldContainer[MemberEncryptionKey]
    def __init__(self, epochs: _Optional[_Iterable[_Union[KeyEpochInfo, _Mapping]]] = ..., encryption_keys: _Optional[_Iterable[_Union[MemberEncryptionKey, _Mapping]]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("include_resolved",)
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    def __init__(self, include_resolved: _Optional[bool] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes",)
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[_common_pb2.Dispute]
    def __init__(self, disputes: _Optional[_Iterable[_Union[_common_pb2.Dispute, _Mapping]]] = ...) -> None: ...

class ResolveDisputeRequest(_message.Message):
    __slots__ = ("dispute_id", "resolution", "note", "corrected_marker_type", "corrected_reason_code")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_MARKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    resolution: _common_pb2.DisputeResolution
    note: str
    corrected_marker_type: _common_pb2.MarkerType
    corrected_reason_code: str
    def __init__(self, dispute_id: _Optional[str] = ..., resolution: _Optional[_Union[_common_pb2.DisputeResolution, str]] = ..., note: _Optional[str] = ..., corrected_marker_type: _Optional[_Union[_common_pb2.MarkerType, str]] = ..., corrected_reason_code: _Optional[str] = ...) -> None: ...

class ListUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemberUsage(_message.Message):
    __slots__ = ("member_id", "checks", "checks_today", "outcomes_reported", "markers_filed", "contribution_ratio", "flags", "status", "daily_check_quota", "own_quota")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_TODAY_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_REPORTED_FIELD_NUMBER: _ClassVar[int]
    MARKERS_FILED_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_RATIO_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DAILY_CHECK_QUOTA_FIELD_NUMBER: _ClassVar[int]
    OWN_QUOTA_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    checks: int
    checks_today: int
    outcomes_reported: int
    markers_filed: int
    contribution_ratio: float
    flags: _containers.RepeatedScalarFieldContainer[str]
    status: _common_pb2.MemberStatus
    daily_check_quota: int
    own_quota: bool
    def __init__(self, member_id: _Optional[str] = ..., checks: _Optional[int] = ..., checks_today: _Optional[int] = ..., outcomes_reported: _Optional[int] = ..., markers_filed: _Optional[int] = ..., contribution_ratio: _Optional[float] = ..., flags: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ..., daily_check_quota: _Optional[int] = ..., own_quota: _Optional[bool] = ...) -> None: ...

class SetMemberQuotaRequest(_message.Message):
    __slots__ = ("member_id", "daily_check_quota", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    DAILY_CHECK_QUOTA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    daily_check_quota: int
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., daily_check_quota: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ListUsageResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MemberUsage]
    def __init__(self, members: _Optional[_Iterable[_Union[MemberUsage, _Mapping]]] = ...) -> None: ...

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

class RotateMemberKeyRequest(_message.Message):
    __slots__ = ("member_id", "public_key", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., reason: _Optional[str] = ...) -> None: ...

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

class GraphLimits(_message.Message):
    __slots__ = ("max_nodes", "max_edges")
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    MAX_EDGES_FIELD_NUMBER: _ClassVar[int]
    max_nodes: int
    max_edges: int
    def __init__(self, max_nodes: _Optional[int] = ..., max_edges: _Optional[int] = ...) -> None: ...

class GraphNode(_message.Message):
    __slots__ = ("id", "is_token", "member_id", "received_at", "blacklisted", "defaulted", "fraud_confirmed", "ring_id", "token_type", "degree", "hub")
    ID_FIELD_NUMBER: _ClassVar[int]
    IS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    BLACKLISTED_FIELD_NUMBER: _ClassVar[int]
    DEFAULTED_FIELD_NUMBER: _ClassVar[int]
    FRAUD_CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    DEGREE_FIELD_NUMBER: _ClassVar[int]
    HUB_FIELD_NUMBER: _ClassVar[int]
    id: str
    is_token: bool
    member_id: str
    received_at: _timestamp_pb2.Timestamp
    blacklisted: bool
    defaulted: bool
    fraud_confirmed: bool
    ring_id: str
    token_type: _common_pb2.TokenType
    degree: int
    hub: bool
    def __init__(self, id: _Optional[str] = ..., is_token: _Optional[bool] = ..., member_id: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., blacklisted: _Optional[bool] = ..., defaulted: _Optional[bool] = ..., fraud_confirmed: _Optional[bool] = ..., ring_id: _Optional[str] = ..., token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., degree: _Optional[int] = ..., hub: _Optional[bool] = ...) -> None: ...

class GraphEdge(_message.Message):
    __slots__ = ("application", "token")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    application: str
    token: str
    def __init__(self, application: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class Subgraph(_message.Message):
    __slots__ = ("nodes", "edges", "truncated")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[GraphNode]
    edges: _containers.RepeatedCompositeFieldContainer[GraphEdge]
    truncated: bool
    def __init__(self, nodes: _Optional[_Iterable[_Union[GraphNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[GraphEdge, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class Community(_message.Message):
    __slots__ = ("applications",)
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, applications: _Optional[_Iterable[str]] = ...) -> None: ...

class CentralToken(_message.Message):
    __slots__ = ("token", "centrality")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CENTRALITY_FIELD_NUMBER: _ClassVar[int]
    token: str
    centrality: float
    def __init__(self, token: _Optional[str] = ..., centrality: _Optional[float] = ...) -> None: ...

class GetRingRequest(_message.Message):
    __slots__ = ("ring_id", "application", "limits")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    application: str
    limits: GraphLimits
    def __init__(self, ring_id: _Optional[str] = ..., application: _Optional[str] = ..., limits: _Optional[_Union[GraphLimits, _Mapping]] = ...) -> None: ...

class GetRingResponse(_message.Message):
    __slots__ = ("ring", "graph", "communities", "central_tokens")
    RING_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ring: Ring
    graph: Subgraph
    communities: _containers.RepeatedCompositeFieldContainer[Community]
    central_tokens: _containers.RepeatedCompositeFieldContainer[CentralToken]
    def __init__(self, ring: _Optional[_Union[Ring, _Mapping]] = ..., graph: _Optional[_Union[Subgraph, _Mapping]] = ..., communities: _Optional[_Iterable[_Union[Community, _Mapping]]] = ..., central_tokens: _Optional[_Iterable[_Union[CentralToken, _Mapping]]] = ...) -> None: ...

class ListRingsRequest(_message.Message):
    __slots__ = ("min_size", "min_lenders", "min_score", "active_since", "active_until", "limit")
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_LENDERS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SINCE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    min_size: int
    min_lenders: int
    min_score: float
    active_since: _timestamp_pb2.Timestamp
    active_until: _timestamp_pb2.Timestamp
    limit: int
    def __init__(self, min_size: _Optional[int] = ..., min_lenders: _Optional[int] = ..., min_score: _Optional[float] = ..., active_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRingsResponse(_message.Message):
    __slots__ = ("rings", "matched")
    RINGS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    rings: _containers.RepeatedCompositeFieldContainer[Ring]
    matched: int
    def __init__(self, rings: _Optional[_Iterable[_Union[Ring, _Mapping]]] = ..., matched: _Optional[int] = ...) -> None: ...

class GetNeighbourhoodRequest(_message.Message):
    __slots__ = ("entity", "hops", "limits", "expand_hub_tokens")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    EXPAND_HUB_TOKENS_FIELD_NUMBER: _ClassVar[int]
    entity: str
    hops: int
    limits: GraphLimits
    expand_hub_tokens: bool
    def __init__(self, entity: _Optional[str] = ..., hops: _Optional[int] = ..., limits: _Optional[_Union[GraphLimits, _Mapping]] = ..., expand_hub_tokens: _Optional[bool] = ...) -> None: ...

class GetNeighbourhoodResponse(_message.Message):
    __slots__ = ("graph",)
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    graph: Subgraph
    def __init__(self, graph: _Optional[_Union[Subgraph, _Mapping]] = ...) -> None: ...

class FindPathRequest(_message.Message):
    __slots__ = ("source", "target", "max_hops", "through_hub_tokens")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MAX_HOPS_FIELD_NUMBER: _ClassVar[int]
    THROUGH_HUB_TOKENS_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    max_hops: int
    through_hub_tokens: bool
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., max_hops: _Optional[int] = ..., through_hub_tokens: _Optional[bool] = ...) -> None: ...

class FindPathResponse(_message.Message):
    __slots__ = ("path", "truncated", "visited")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    VISITED_FIELD_NUMBER: _ClassVar[int]
    path: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    visited: int
    def __init__(self, path: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ..., visited: _Optional[int] = ...) -> None: ...

class ExportSubgraphRequest(_message.Message):
    __slots__ = ("ring_id", "entity", "hops", "limits", "format")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    entity: str
    hops: int
    limits: GraphLimits
    format: ExportFormat
    def __init__(self, ring_id: _Optional[str] = ..., entity: _Optional[str] = ..., hops: _Optional[int] = ..., limits: _Optional[_Union[GraphLimits, _Mapping]] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportSubgraphResponse(_message.Message):
    __slots__ = ("content", "media_type", "truncated")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    content: str
    media_type: str
    truncated: bool
    def __init__(self, content: _Optional[str] = ..., media_type: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...
