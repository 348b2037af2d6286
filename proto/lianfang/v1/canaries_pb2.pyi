import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianfang.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlantCanariesRequest(_message.Message):
    __slots__ = ("tokens", "label")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_common_pb2.Token]
    label: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[_common_pb2.Token, _Mapping]]] = ..., label: _Optional[str] = ...) -> None: ...

class PlantCanariesResponse(_message.Message):
    __slots__ = ("planted",)
    PLANTED_FIELD_NUMBER: _ClassVar[int]
    planted: int
    def __init__(self, planted: _Optional[int] = ...) -> None: ...

class ListCanaryAlertsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CanaryAlert(_message.Message):
    __slots__ = ("member_id", "application_ref", "label", "token_type", "received_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_REF_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    application_ref: str
    label: str
    token_type: _common_pb2.TokenType
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., application_ref: _Optional[str] = ..., label: _Optional[str] = ..., token_type: _Optional[_Union[_common_pb2.TokenType, str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCanaryAlertsResponse(_message.Message):
    __slots__ = ("alerts", "canaries")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    CANARIES_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[CanaryAlert]
    canaries: int
    def __init__(self, alerts: _Optional[_Iterable[_Union[CanaryAlert, _Mapping]]] = ..., canaries: _Optional[int] = ...) -> None: ...
