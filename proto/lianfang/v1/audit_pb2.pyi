import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianfang.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListQueriesOnMyDataRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CategoryCount(_message.Message):
    __slots__ = ("member_category", "checks")
    MEMBER_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    member_category: str
    checks: int
    def __init__(self, member_category: _Optional[str] = ..., checks: _Optional[int] = ...) -> None: ...

class ListQueriesOnMyDataResponse(_message.Message):
    __slots__ = ("by_category", "total")
    BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    by_category: _containers.RepeatedCompositeFieldContainer[CategoryCount]
    total: int
    def __init__(self, by_category: _Optional[_Iterable[_Union[CategoryCount, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class SubjectAccessRequest(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_common_pb2.Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[_common_pb2.Token, _Mapping]]] = ...) -> None: ...

class SubjectQuery(_message.Message):
    __slots__ = ("leaf_index", "leaf_hash", "member_category", "at", "inclusion_proof")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    MEMBER_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_PROOF_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    leaf_hash: bytes
    member_category: str
    at: _timestamp_pb2.Timestamp
    inclusion_proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaf_index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., member_category: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., inclusion_proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubjectAccessResponse(_message.Message):
    __slots__ = ("queries", "tree_head")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    TREE_HEAD_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[SubjectQuery]
    tree_head: SignedTreeHead
    def __init__(self, queries: _Optional[_Iterable[_Union[SubjectQuery, _Mapping]]] = ..., tree_head: _Optional[_Union[SignedTreeHead, _Mapping]] = ...) -> None: ...

class GetTreeHeadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignedTreeHead(_message.Message):
    __slots__ = ("tree_size", "root_hash", "timestamp", "signature", "key_id")
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    root_hash: bytes
    timestamp: _timestamp_pb2.Timestamp
    signature: bytes
    key_id: str
    def __init__(self, tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("old_size", "tree_size")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    tree_size: int
    def __init__(self, old_size: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("proof", "tree_head")
    PROOF_FIELD_NUMBER: _ClassVar[int]
    TREE_HEAD_FIELD_NUMBER: _ClassVar[int]
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    tree_head: SignedTreeHead
    def __init__(self, proof: _Optional[_Iterable[bytes]] = ..., tree_head: _Optional[_Union[SignedTreeHead, _Mapping]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("leaf_index", "tree_size")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    tree_size: int
    def __init__(self, leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("leaf_hash", "proof", "tree_head")
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    TREE_HEAD_FIELD_NUMBER: _ClassVar[int]
    leaf_hash: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    tree_head: SignedTreeHead
    def __init__(self, leaf_hash: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ..., tree_head: _Optional[_Union[SignedTreeHead, _Mapping]] = ...) -> None: ...

class GetEntriesRequest(_message.Message):
    __slots__ = ("start", "count")
    START_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    start: int
    count: int
    def __init__(self, start: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class GetEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, entries: _Optional[_Iterable[bytes]] = ...) -> None: ...
