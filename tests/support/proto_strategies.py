"""Hypothesis strategies built from protobuf descriptors: any message of the contract, with
hostile field values (odd and huge unicode, extreme integers, unknown enum numbers, NaN, long
repeated fields), so a fuzz test covers a new RPC or field without being edited."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor as d
from google.protobuf import symbol_database
from google.protobuf.message import Message
from hypothesis import strategies as st

ODD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "../../../etc/passwd",
    "'; DROP TABLE members; --",
    "%s%n%x",
    "\u202e\u200b\ufeff",
    "\U0001f4a9" * 40,
    "贷款" * 300,
    "ｆｕｌｌ－ｗｉｄｔｈ　１２３",
    "x" * 5000,
    "1" * 18,
    "+8613800000000",
]

_INT_RANGES = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def message_class(descriptor: d.Descriptor) -> type[Message]:
    return symbol_database.Default().GetSymbol(descriptor.full_name)  # type: ignore[no-any-return]


def text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=40), st.text(min_size=200, max_size=2000))


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = sorted({low, high, 0, 1, -1 if low < 0 else 2, 1_000, 2**31 - 1 if high >= 2**31 - 1 else high})
    return st.one_of(
        st.sampled_from(edges), st.integers(-10, 1_000).filter(lambda v: low <= v <= high), st.integers(low, high)
    )


def scalar(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t == d.FieldDescriptor.TYPE_STRING:
        return text()
    if t == d.FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=70), st.binary(min_size=16, max_size=16))
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (d.FieldDescriptor.TYPE_FLOAT, d.FieldDescriptor.TYPE_DOUBLE):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if t == d.FieldDescriptor.TYPE_FLOAT else 64)
    if t == d.FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))
    low, high = _INT_RANGES[t]
    return _integers(low, high)


def _is_map(field: d.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _set_field(draw: st.DrawFn, message: Message, field: d.FieldDescriptor, depth: int, max_items: int) -> None:
    """Gives ``field`` of ``message`` a hostile value (maps and repeated fields: some items)."""
    value = getattr(message, field.name)
    if _is_map(field):
        key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        for _ in range(draw(st.integers(0, 3))):
            k = draw(scalar(key_field))
            if value_field.message_type is None:
                value[k] = draw(scalar(value_field))
            elif depth > 0:
                value[k].CopyFrom(draw(_fill(value_field.message_type, depth - 1, max_items)))
    elif field.is_repeated:
        count = draw(st.one_of(st.integers(0, 3), st.integers(0, max_items)))
        if field.message_type is not None:
            if depth > 0:
                item = draw(_fill(field.message_type, depth - 1, max_items))
                for _ in range(count):  # many copies of one item: cheap to draw, still "many"
                    value.add().CopyFrom(item)
        else:
            items = draw(st.lists(scalar(field), min_size=min(count, 1), max_size=min(count, 8)))
            value.extend((items * (count // max(len(items), 1) + 1))[:count])
    elif field.message_type is not None:
        if depth > 0:
            value.CopyFrom(draw(_fill(field.message_type, depth - 1, max_items)))
    else:
        setattr(message, field.name, draw(scalar(field)))


@st.composite
def _fill(draw: st.DrawFn, descriptor: d.Descriptor, depth: int, max_items: int) -> Message:
    message = message_class(descriptor)()
    for field in descriptor.fields:
        if draw(st.booleans()):  # else left unset: missing fields are as hostile as odd ones
            _set_field(draw, message, field, depth, max_items)
    return message


def messages(descriptor: d.Descriptor, *, depth: int = 3, max_items: int = 700) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor``'s type with random fields set; repeated fields up to ``max_items``."""
    return _fill(descriptor, depth, max_items)


Path_ = tuple[d.FieldDescriptor, ...]


def _paths(descriptor: d.Descriptor, prefix: Path_, depth: int) -> list[Path_]:
    out: list[Path_] = []
    for field in descriptor.fields:
        out.append((*prefix, field))
        if field.message_type is not None and not field.is_repeated and depth > 0:
            out += _paths(field.message_type, (*prefix, field), depth - 1)
    return out


@st.composite
def _mutate(draw: st.DrawFn, seed: Message, max_items: int) -> Message:
    message = type(seed)()
    message.CopyFrom(seed)
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(seed.DESCRIPTOR, (), 2)))
        parent = message
        for step in path[:-1]:
            parent = getattr(parent, step.name)
        parent.ClearField(path[-1].name)
        _set_field(draw, parent, path[-1], 2, max_items)
    return message


def mutations(seed: Message, *, max_items: int = 700) -> st.SearchStrategy[Message]:
    """``seed`` (a valid request) with one or two fields, possibly nested, set to hostile values:
    the way to reach the code behind a request's first validation step."""
    return _mutate(seed, max_items)
