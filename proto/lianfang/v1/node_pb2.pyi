import datetime

from lianfang.v1 import common_pb2 as _common_pb2
from lianfang.v1 import consortium_pb2 as _consortium_pb2
from lianfang.v1 import audit_pb2 as _audit_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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
    __slots__ = ("application_ref", "consent_ref", "applicant_kind", "product_category", "identifiers", "purpose", "consent_expires_at")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REF_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    consent_ref: str
    applicant_kind: _common_pb2.ApplicantKind
    product_category: str
    identifiers: Identifiers
    purpose: _common_pb2.Purpose
    consent_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, application_ref: _Optional[str] = ..., consent_ref: _Optional[str] = ..., applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ..., product_category: _Optional[str] = ..., identifiers: _Optional[_Union[Identifiers, _Mapping]] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., consent_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("consortium", "tokens_sent")
    CONSORTIUM_FIELD_NUMBER: _ClassVar[int]
    TOKENS_SENT_FIELD_NUMBER: _ClassVar[int]
    consortium: _consortium_pb2.CheckResponse
    tokens_sent: int
    def __init__(self, consortium: _Optional[_Union[_consortium_pb2.CheckResponse, _Mapping]] = ..., tokens_sent: _Optional[int] = ...) -> None: ...

class ConfirmFraudRequest(_message.Message):
    __slots__ = ("application_id", "reason_code", "evidence_level", "case_ref")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CASE_REF_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    case_ref: str
    def __init__(self, application_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ..., case_ref: _Optional[str] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("applicant_kind",)
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    applicant_kind: _common_pb2.ApplicantKind
    def __init__(self, applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ...) -> None: ...

class ProductView(_message.Message):
    __slots__ = ("code", "name", "applicant_kinds", "min_amount_fen", "max_amount_fen", "min_term_months", "max_term_months", "repayment_methods", "min_annual_rate", "max_annual_rate", "collateral_ratio", "entrusted_payment_threshold_fen", "min_drawdown_fen", "approval_valid_days", "availability_months")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KINDS_FIELD_NUMBER: _ClassVar[int]
    MIN_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    MAX_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    MIN_TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    MAX_TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    MIN_ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    COLLATERAL_RATIO_FIELD_NUMBER: _ClassVar[int]
    ENTRUSTED_PAYMENT_THRESHOLD_FEN_FIELD_NUMBER: _ClassVar[int]
    MIN_DRAWDOWN_FEN_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_MONTHS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    applicant_kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.ApplicantKind]
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    repayment_methods: _containers.RepeatedScalarFieldContainer[str]
    min_annual_rate: float
    max_annual_rate: float
    collateral_ratio: float
    entrusted_payment_threshold_fen: int
    min_drawdown_fen: int
    approval_valid_days: int
    availability_months: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., applicant_kinds: _Optional[_Iterable[_Union[_common_pb2.ApplicantKind, str]]] = ..., min_amount_fen: _Optional[int] = ..., max_amount_fen: _Optional[int] = ..., min_term_months: _Optional[int] = ..., max_term_months: _Optional[int] = ..., repayment_methods: _Optional[_Iterable[str]] = ..., min_annual_rate: _Optional[float] = ..., max_annual_rate: _Optional[float] = ..., collateral_ratio: _Optional[float] = ..., entrusted_payment_threshold_fen: _Optional[int] = ..., min_drawdown_fen: _Optional[int] = ..., approval_valid_days: _Optional[int] = ..., availability_months: _Optional[int] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products",)
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[ProductView]
    def __init__(self, products: _Optional[_Iterable[_Union[ProductView, _Mapping]]] = ...) -> None: ...

class SubmitApplicationRequest(_message.Message):
    __slots__ = ("application_ref", "product_code", "applicant_kind", "applicant_name", "identifiers", "industry", "locality", "amount_fen", "term_months", "repayment_method", "consent_ref", "collateral_value_fen")
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_KIND_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    LOCALITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REF_FIELD_NUMBER: _ClassVar[int]
    COLLATERAL_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    application_ref: str
    product_code: str
    applicant_kind: _common_pb2.ApplicantKind
    applicant_name: str
    identifiers: Identifiers
    industry: str
    locality: str
    amount_fen: int
    term_months: int
    repayment_method: str
    consent_ref: str
    collateral_value_fen: int
    def __init__(self, application_ref: _Optional[str] = ..., product_code: _Optional[str] = ..., applicant_kind: _Optional[_Union[_common_pb2.ApplicantKind, str]] = ..., applicant_name: _Optional[str] = ..., identifiers: _Optional[_Union[Identifiers, _Mapping]] = ..., industry: _Optional[str] = ..., locality: _Optional[str] = ..., amount_fen: _Optional[int] = ..., term_months: _Optional[int] = ..., repayment_method: _Optional[str] = ..., consent_ref: _Optional[str] = ..., collateral_value_fen: _Optional[int] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("name", "status", "reason_code", "elapsed_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    reason_code: str
    elapsed_ms: float
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., reason_code: _Optional[str] = ..., elapsed_ms: _Optional[float] = ...) -> None: ...

class RuleHitView(_message.Message):
    __slots__ = ("rule_id", "reason_code", "action", "source")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    reason_code: str
    action: str
    source: str
    def __init__(self, rule_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., action: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class DecisionView(_message.Message):
    __slots__ = ("outcome", "reasons", "anti_fraud_score", "credit_score", "grade", "pre_credit_limit_fen", "annual_rate", "hits", "sources", "consortium", "rule_set_version", "consortium_pending", "consortium_late", "consortium_given_up")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ANTI_FRAUD_SCORE_FIELD_NUMBER: _ClassVar[int]
    CREDIT_SCORE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    PRE_CREDIT_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CONSORTIUM_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONSORTIUM_PENDING_FIELD_NUMBER: _ClassVar[int]
    CONSORTIUM_LATE_FIELD_NUMBER: _ClassVar[int]
    CONSORTIUM_GIVEN_UP_FIELD_NUMBER: _ClassVar[int]
    outcome: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    anti_fraud_score: float
    credit_score: float
    grade: str
    pre_credit_limit_fen: int
    annual_rate: float
    hits: _containers.RepeatedCompositeFieldContainer[RuleHitView]
    sources: _containers.RepeatedCompositeFieldContainer[SourceStatus]
    consortium: _consortium_pb2.CheckResponse
    rule_set_version: str
    consortium_pending: bool
    consortium_late: _consortium_pb2.CheckResponse
    consortium_given_up: str
    def __init__(self, outcome: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., anti_fraud_score: _Optional[float] = ..., credit_score: _Optional[float] = ..., grade: _Optional[str] = ..., pre_credit_limit_fen: _Optional[int] = ..., annual_rate: _Optional[float] = ..., hits: _Optional[_Iterable[_Union[RuleHitView, _Mapping]]] = ..., sources: _Optional[_Iterable[_Union[SourceStatus, _Mapping]]] = ..., consortium: _Optional[_Union[_consortium_pb2.CheckResponse, _Mapping]] = ..., rule_set_version: _Optional[str] = ..., consortium_pending: _Optional[bool] = ..., consortium_late: _Optional[_Union[_consortium_pb2.CheckResponse, _Mapping]] = ..., consortium_given_up: _Optional[str] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("from_state", "to_state", "actor", "reason", "at")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    from_state: str
    to_state: str
    actor: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplicationView(_message.Message):
    __slots__ = ("application_id", "application_ref", "state", "product_code", "applicant_name", "amount_fen", "term_months", "decision", "final_limit_fen", "final_rate", "history", "assigned_to", "collateral_value_fen")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FINAL_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_TO_FIELD_NUMBER: _ClassVar[int]
    COLLATERAL_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    application_ref: str
    state: str
    product_code: str
    applicant_name: str
    amount_fen: int
    term_months: int
    decision: DecisionView
    final_limit_fen: int
    final_rate: float
    history: _containers.RepeatedCompositeFieldContainer[Transition]
    assigned_to: str
    collateral_value_fen: int
    def __init__(self, application_id: _Optional[str] = ..., application_ref: _Optional[str] = ..., state: _Optional[str] = ..., product_code: _Optional[str] = ..., applicant_name: _Optional[str] = ..., amount_fen: _Optional[int] = ..., term_months: _Optional[int] = ..., decision: _Optional[_Union[DecisionView, _Mapping]] = ..., final_limit_fen: _Optional[int] = ..., final_rate: _Optional[float] = ..., history: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., assigned_to: _Optional[str] = ..., collateral_value_fen: _Optional[int] = ...) -> None: ...

class GetApplicationRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "kind", "application_id", "assignee", "state", "checklist", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    kind: str
    application_id: str
    assignee: str
    state: str
    checklist: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., kind: _Optional[str] = ..., application_id: _Optional[str] = ..., assignee: _Optional[str] = ..., state: _Optional[str] = ..., checklist: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("assignee", "include_done")
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DONE_FIELD_NUMBER: _ClassVar[int]
    assignee: str
    include_done: bool
    def __init__(self, assignee: _Optional[str] = ..., include_done: _Optional[bool] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class DueDiligenceFindings(_message.Message):
    __slots__ = ("electricity_fen", "water_fen", "customs_fen", "peak_customers_per_hour", "purchase_records_consistent", "monthly_wallet_receipts_fen", "photos", "soft_assessment", "notes")
    ELECTRICITY_FEN_FIELD_NUMBER: _ClassVar[int]
    WATER_FEN_FIELD_NUMBER: _ClassVar[int]
    CUSTOMS_FEN_FIELD_NUMBER: _ClassVar[int]
    PEAK_CUSTOMERS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_RECORDS_CONSISTENT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_WALLET_RECEIPTS_FEN_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    SOFT_ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    electricity_fen: _containers.RepeatedScalarFieldContainer[int]
    water_fen: _containers.RepeatedScalarFieldContainer[int]
    customs_fen: _containers.RepeatedScalarFieldContainer[int]
    peak_customers_per_hour: int
    purchase_records_consistent: bool
    monthly_wallet_receipts_fen: int
    photos: _containers.RepeatedCompositeFieldContainer[PhotoEvidence]
    soft_assessment: int
    notes: str
    def __init__(self, electricity_fen: _Optional[_Iterable[int]] = ..., water_fen: _Optional[_Iterable[int]] = ..., customs_fen: _Optional[_Iterable[int]] = ..., peak_customers_per_hour: _Optional[int] = ..., purchase_records_consistent: _Optional[bool] = ..., monthly_wallet_receipts_fen: _Optional[int] = ..., photos: _Optional[_Iterable[_Union[PhotoEvidence, _Mapping]]] = ..., soft_assessment: _Optional[int] = ..., notes: _Optional[str] = ...) -> None: ...

class PhotoEvidence(_message.Message):
    __slots__ = ("sha256", "latitude", "longitude", "taken_at", "subject")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    latitude: float
    longitude: float
    taken_at: _timestamp_pb2.Timestamp
    subject: str
    def __init__(self, sha256: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ...) -> None: ...

class SubmitDueDiligenceRequest(_message.Message):
    __slots__ = ("task_id", "findings")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    findings: DueDiligenceFindings
    def __init__(self, task_id: _Optional[str] = ..., findings: _Optional[_Union[DueDiligenceFindings, _Mapping]] = ...) -> None: ...

class DecideReferralRequest(_message.Message):
    __slots__ = ("application_id", "approve", "comment", "final_limit_fen")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    FINAL_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    approve: bool
    comment: str
    final_limit_fen: int
    def __init__(self, application_id: _Optional[str] = ..., approve: _Optional[bool] = ..., comment: _Optional[str] = ..., final_limit_fen: _Optional[int] = ...) -> None: ...

class GetContractRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class ContractView(_message.Message):
    __slots__ = ("contract_id", "application_id", "document", "document_sha256", "state", "borrower_public_key", "signature", "signature_valid")
    CONTRACT_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BORROWER_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VALID_FIELD_NUMBER: _ClassVar[int]
    contract_id: str
    application_id: str
    document: str
    document_sha256: str
    state: str
    borrower_public_key: bytes
    signature: bytes
    signature_valid: bool
    def __init__(self, contract_id: _Optional[str] = ..., application_id: _Optional[str] = ..., document: _Optional[str] = ..., document_sha256: _Optional[str] = ..., state: _Optional[str] = ..., borrower_public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signature_valid: _Optional[bool] = ...) -> None: ...

class SendSigningCodeRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class SendSigningCodeResponse(_message.Message):
    __slots__ = ("sent_to", "expires_at")
    SENT_TO_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    sent_to: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, sent_to: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignContractRequest(_message.Message):
    __slots__ = ("application_id", "face_verified", "sms_code", "borrower_public_key", "signature")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    FACE_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    SMS_CODE_FIELD_NUMBER: _ClassVar[int]
    BORROWER_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    face_verified: bool
    sms_code: str
    borrower_public_key: bytes
    signature: bytes
    def __init__(self, application_id: _Optional[str] = ..., face_verified: _Optional[bool] = ..., sms_code: _Optional[str] = ..., borrower_public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RequestDrawdownRequest(_message.Message):
    __slots__ = ("application_id", "amount_fen", "payee_account", "request_id")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYEE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    amount_fen: int
    payee_account: str
    request_id: str
    def __init__(self, application_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., payee_account: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DrawdownView(_message.Message):
    __slots__ = ("drawdown_id", "application_id", "amount_fen", "payment_mode", "state", "loan_id")
    DRAWDOWN_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_MODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    drawdown_id: str
    application_id: str
    amount_fen: int
    payment_mode: str
    state: str
    loan_id: str
    def __init__(self, drawdown_id: _Optional[str] = ..., application_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., payment_mode: _Optional[str] = ..., state: _Optional[str] = ..., loan_id: _Optional[str] = ...) -> None: ...

class ReviewDisbursementRequest(_message.Message):
    __slots__ = ("drawdown_id", "approve", "comment")
    DRAWDOWN_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    drawdown_id: str
    approve: bool
    comment: str
    def __init__(self, drawdown_id: _Optional[str] = ..., approve: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class GetLoanRequest(_message.Message):
    __slots__ = ("loan_id",)
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    def __init__(self, loan_id: _Optional[str] = ...) -> None: ...

class Instalment(_message.Message):
    __slots__ = ("number", "due", "principal_fen", "interest_fen")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FEN_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FEN_FIELD_NUMBER: _ClassVar[int]
    number: int
    due: _timestamp_pb2.Timestamp
    principal_fen: int
    interest_fen: int
    def __init__(self, number: _Optional[int] = ..., due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal_fen: _Optional[int] = ..., interest_fen: _Optional[int] = ...) -> None: ...

class LoanView(_message.Message):
    __slots__ = ("loan_id", "application_id", "principal_fen", "annual_rate", "term_months", "repayment_method", "payment_mode", "schedule", "state", "paid_fen", "days_past_due")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FEN_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_MODE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    application_id: str
    principal_fen: int
    annual_rate: float
    term_months: int
    repayment_method: str
    payment_mode: str
    schedule: _containers.RepeatedCompositeFieldContainer[Instalment]
    state: str
    paid_fen: int
    days_past_due: int
    def __init__(self, loan_id: _Optional[str] = ..., application_id: _Optional[str] = ..., principal_fen: _Optional[int] = ..., annual_rate: _Optional[float] = ..., term_months: _Optional[int] = ..., repayment_method: _Optional[str] = ..., payment_mode: _Optional[str] = ..., schedule: _Optional[_Iterable[_Union[Instalment, _Mapping]]] = ..., state: _Optional[str] = ..., paid_fen: _Optional[int] = ..., days_past_due: _Optional[int] = ...) -> None: ...

class RunMonitoringRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PostLoanAlert(_message.Message):
    __slots__ = ("alert_id", "loan_id", "application_id", "rule", "level", "detail", "raised_at", "task_id")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    loan_id: str
    application_id: str
    rule: str
    level: str
    detail: str
    raised_at: _timestamp_pb2.Timestamp
    task_id: str
    def __init__(self, alert_id: _Optional[str] = ..., loan_id: _Optional[str] = ..., application_id: _Optional[str] = ..., rule: _Optional[str] = ..., level: _Optional[str] = ..., detail: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_id: _Optional[str] = ...) -> None: ...

class RunMonitoringResponse(_message.Message):
    __slots__ = ("loans_checked", "alerts", "frozen", "unfrozen", "reminders_sent", "defaulted", "expired", "bureau_reports", "bureau_failed")
    LOANS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    UNFROZEN_FIELD_NUMBER: _ClassVar[int]
    REMINDERS_SENT_FIELD_NUMBER: _ClassVar[int]
    DEFAULTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    BUREAU_REPORTS_FIELD_NUMBER: _ClassVar[int]
    BUREAU_FAILED_FIELD_NUMBER: _ClassVar[int]
    loans_checked: int
    alerts: _containers.RepeatedCompositeFieldContainer[PostLoanAlert]
    frozen: _containers.RepeatedScalarFieldContainer[str]
    unfrozen: _containers.RepeatedScalarFieldContainer[str]
    reminders_sent: int
    defaulted: _containers.RepeatedScalarFieldContainer[str]
    expired: _containers.RepeatedScalarFieldContainer[str]
    bureau_reports: int
    bureau_failed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, loans_checked: _Optional[int] = ..., alerts: _Optional[_Iterable[_Union[PostLoanAlert, _Mapping]]] = ..., frozen: _Optional[_Iterable[str]] = ..., unfrozen: _Optional[_Iterable[str]] = ..., reminders_sent: _Optional[int] = ..., defaulted: _Optional[_Iterable[str]] = ..., expired: _Optional[_Iterable[str]] = ..., bureau_reports: _Optional[int] = ..., bureau_failed: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPostLoanAlertsRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("at", "actor", "action", "subject", "detail")
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    actor: str
    action: str
    subject: str
    detail: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., subject: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ListPostLoanAlertsResponse(_message.Message):
    __slots__ = ("alerts", "audit")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[PostLoanAlert]
    audit: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, alerts: _Optional[_Iterable[_Union[PostLoanAlert, _Mapping]]] = ..., audit: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...

class RecordDispositionRequest(_message.Message):
    __slots__ = ("task_id", "outcome", "note", "unfreeze", "reason_code", "evidence_level")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    UNFREEZE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    outcome: str
    note: str
    unfreeze: str
    reason_code: str
    evidence_level: _common_pb2.EvidenceLevel
    def __init__(self, task_id: _Optional[str] = ..., outcome: _Optional[str] = ..., note: _Optional[str] = ..., unfreeze: _Optional[str] = ..., reason_code: _Optional[str] = ..., evidence_level: _Optional[_Union[_common_pb2.EvidenceLevel, str]] = ...) -> None: ...

class DispositionView(_message.Message):
    __slots__ = ("task_id", "application_id", "outcome", "note", "unfreeze", "limit_frozen", "actor", "at")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    UNFREEZE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FROZEN_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    application_id: str
    outcome: str
    note: str
    unfreeze: str
    limit_frozen: bool
    actor: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., application_id: _Optional[str] = ..., outcome: _Optional[str] = ..., note: _Optional[str] = ..., unfreeze: _Optional[str] = ..., limit_frozen: _Optional[bool] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RepayLoanRequest(_message.Message):
    __slots__ = ("loan_id", "comment", "amount_fen", "payment_id")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    comment: str
    amount_fen: int
    payment_id: str
    def __init__(self, loan_id: _Optional[str] = ..., comment: _Optional[str] = ..., amount_fen: _Optional[int] = ..., payment_id: _Optional[str] = ...) -> None: ...

class GetKpisRequest(_message.Message):
    __slots__ = ("chart",)
    CHART_FIELD_NUMBER: _ClassVar[int]
    chart: bool
    def __init__(self, chart: _Optional[bool] = ...) -> None: ...

class StageTime(_message.Message):
    __slots__ = ("stage", "average_hours", "applications")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_HOURS_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    average_hours: float
    applications: int
    def __init__(self, stage: _Optional[str] = ..., average_hours: _Optional[float] = ..., applications: _Optional[int] = ...) -> None: ...

class KpiReport(_message.Message):
    __slots__ = ("average_ticket_yuan", "loans", "approval_rate", "decided", "fund_utilisation", "repeat_borrowing_rate_6m", "borrowers", "stages", "warnings", "chart_png")
    AVERAGE_TICKET_YUAN_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_RATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_FIELD_NUMBER: _ClassVar[int]
    FUND_UTILISATION_FIELD_NUMBER: _ClassVar[int]
    REPEAT_BORROWING_RATE_6M_FIELD_NUMBER: _ClassVar[int]
    BORROWERS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    CHART_PNG_FIELD_NUMBER: _ClassVar[int]
    average_ticket_yuan: float
    loans: int
    approval_rate: float
    decided: int
    fund_utilisation: float
    repeat_borrowing_rate_6m: float
    borrowers: int
    stages: _containers.RepeatedCompositeFieldContainer[StageTime]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    chart_png: bytes
    def __init__(self, average_ticket_yuan: _Optional[float] = ..., loans: _Optional[int] = ..., approval_rate: _Optional[float] = ..., decided: _Optional[int] = ..., fund_utilisation: _Optional[float] = ..., repeat_borrowing_rate_6m: _Optional[float] = ..., borrowers: _Optional[int] = ..., stages: _Optional[_Iterable[_Union[StageTime, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., chart_png: _Optional[bytes] = ...) -> None: ...

class ListOutboxRequest(_message.Message):
    __slots__ = ("state", "limit")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    state: str
    limit: int
    def __init__(self, state: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class OutboxItem(_message.Message):
    __slots__ = ("id", "kind", "idempotency_key", "application_id", "state", "attempts", "created_at", "next_attempt_at", "last_error", "settled_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    kind: str
    idempotency_key: str
    application_id: str
    state: str
    attempts: int
    created_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    last_error: str
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., kind: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., application_id: _Optional[str] = ..., state: _Optional[str] = ..., attempts: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListOutboxResponse(_message.Message):
    __slots__ = ("items", "pending", "dead", "circuit")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[OutboxItem]
    pending: int
    dead: int
    circuit: str
    def __init__(self, items: _Optional[_Iterable[_Union[OutboxItem, _Mapping]]] = ..., pending: _Optional[int] = ..., dead: _Optional[int] = ..., circuit: _Optional[str] = ...) -> None: ...

class RetryOutboxRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class DiscardOutboxRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    reason: str
    def __init__(self, id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class BorrowerRecordsRequest(_message.Message):
    __slots__ = ("identifiers", "request_ref")
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_REF_FIELD_NUMBER: _ClassVar[int]
    identifiers: Identifiers
    request_ref: str
    def __init__(self, identifiers: _Optional[_Union[Identifiers, _Mapping]] = ..., request_ref: _Optional[str] = ...) -> None: ...

class ListMarkersRequest(_message.Message):
    __slots__ = ("include_inactive",)
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    def __init__(self, include_inactive: _Optional[bool] = ...) -> None: ...

class FiledMarker(_message.Message):
    __slots__ = ("marker", "application_id", "withdrawn_by")
    MARKER_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_BY_FIELD_NUMBER: _ClassVar[int]
    marker: _consortium_pb2.Marker
    application_id: str
    withdrawn_by: str
    def __init__(self, marker: _Optional[_Union[_consortium_pb2.Marker, _Mapping]] = ..., application_id: _Optional[str] = ..., withdrawn_by: _Optional[str] = ...) -> None: ...

class ListMarkersResponse(_message.Message):
    __slots__ = ("markers",)
    MARKERS_FIELD_NUMBER: _ClassVar[int]
    markers: _containers.RepeatedCompositeFieldContainer[FiledMarker]
    def __init__(self, markers: _Optional[_Iterable[_Union[FiledMarker, _Mapping]]] = ...) -> None: ...

class WithdrawFiledMarkerRequest(_message.Message):
    __slots__ = ("marker_id", "reason")
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    marker_id: str
    reason: str
    def __init__(self, marker_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DisputeMarkerRequest(_message.Message):
    __slots__ = ("marker_id", "subject_statement")
    MARKER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    marker_id: str
    subject_statement: str
    def __init__(self, marker_id: _Optional[str] = ..., subject_statement: _Optional[str] = ...) -> None: ...
