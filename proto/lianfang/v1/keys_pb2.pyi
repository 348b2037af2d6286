import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyEpochState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_EPOCH_STATE_UNSPECIFIED: _ClassVar[KeyEpochState]
    KEY_EPOCH_STATE_PENDING: _ClassVar[KeyEpochState]
    KEY_EPOCH_STATE_ACTIVE: _ClassVar[KeyEpochState]
    KEY_EPOCH_STATE_SUPERSEDED: _ClassVar[KeyEpochState]
    KEY_EPOCH_STATE_RETIRED: _ClassVar[KeyEpochState]
KEY_EPOCH_STATE_UNSPECIFIED: KeyEpochState
KEY_EPOCH_STATE_PENDING: KeyEpochState
KEY_EPOCH_STATE_ACTIVE: KeyEpochState
KEY_EPOCH_STATE_SUPERSEDED: KeyEpochState
KEY_EPOCH_STATE_RETIRED: KeyEpochState

class KeyEpoch(_message.Message):
    __slots__ = ("epoch", "public_key", "state", "created_at", "activated_at", "retired_at")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    public_key: bytes
    state: KeyEpochState
    created_at: _timestamp_pb2.Timestamp
    activated_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    def __init__(self, epoch: _Optional[int] = ..., public_key: _Optional[bytes] = ..., state: _Optional[_Union[KeyEpochState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., activated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("blinded_elements",)
    BLINDED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    blinded_elements: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, blinded_elements: _Optional[_Iterable[bytes]] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("epoch", "evaluated_elements", "proof")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    evaluated_elements: _containers.RepeatedScalarFieldContainer[bytes]
    proof: bytes
    def __init__(self, epoch: _Optional[int] = ..., evaluated_elements: _Optional[_Iterable[bytes]] = ..., proof: _Optional[bytes] = ...) -> None: ...

class GetPublicKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPublicKeysResponse(_message.Message):
    __slots__ = ("epochs",)
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    epochs: _containers.RepeatedCompositeFieldContainer[KeyEpoch]
    def __init__(self, epochs: _Optional[_Iterable[_Union[KeyEpoch, _Mapping]]] = ...) -> None: ...

class RotateKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChangeEpochRequest(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class KeyEpochResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: KeyEpoch
    def __init__(self, epoch: _Optional[_Union[KeyEpoch, _Mapping]] = ...) -> None: ...

class GetRekeyDeltaRequest(_message.Message):
    __slots__ = ("from_epoch", "to_epoch")
    FROM_EPOCH_FIELD_NUMBER: _ClassVar[int]
    TO_EPOCH_FIELD_NUMBER: _ClassVar[int]
    from_epoch: int
    to_epoch: int
    def __init__(self, from_epoch: _Optional[int] = ..., to_epoch: _Optional[int] = ...) -> None: ...

class GetRekeyDeltaResponse(_message.Message):
    __slots__ = ("delta", "from_public_key", "to_public_key", "to_state")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    FROM_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    TO_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    delta: bytes
    from_public_key: bytes
    to_public_key: bytes
    to_state: KeyEpochState
    def __init__(self, delta: _Optional[bytes] = ..., from_public_key: _Optional[bytes] = ..., to_public_key: _Optional[bytes] = ..., to_state: _Optional[_Union[KeyEpochState, str]] = ...) -> None: ...

class ListEvaluationAuditRequest(_message.Message):
    __slots__ = ("member_id", "limit")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    limit: int
    def __init__(self, member_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class EvaluationAuditEntry(_message.Message):
    __slots__ = ("seq", "principal", "action", "epoch", "count", "at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    principal: str
    action: str
    epoch: int
    count: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., principal: _Optional[str] = ..., action: _Optional[str] = ..., epoch: _Optional[int] = ..., count: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEvaluationAuditResponse(_message.Message):
    __slots__ = ("entries", "evaluated_today", "epochs")
    class EvaluatedTodayEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_TODAY_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[EvaluationAuditEntry]
    evaluated_today: _containers.ScalarMap[str, int]
    epochs: _containers.RepeatedCompositeFieldContainer[KeyEpoch]
    def __init__(self, entries: _Optional[_Iterable[_Union[EvaluationAuditEntry, _Mapping]]] = ..., evaluated_today: _Optional[_Mapping[str, int]] = ..., epochs: _Optional[_Iterable[_Union[KeyEpoch, _Mapping]]] = ...) -> None: ...
