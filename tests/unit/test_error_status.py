"""How an error travels to the caller: within grpc's metadata limits whatever its text."""

from __future__ import annotations

from runtime.errors import FieldViolation, InvalidArgument, LianfangError, NotFound
from runtime.interceptors import rich_status


def test_an_error_s_trailers_fit_grpc_s_metadata_limit_whatever_its_text() -> None:
    """The message is percent-encoded into grpc-message (9 bytes per Chinese character) and the
    details travel base64: cut to fit grpc's 8 KiB default, however long or non-ASCII."""

    def trailer_bytes(error: LianfangError) -> int:
        _, message, trailers = rich_status(error)
        encoded = sum(3 if b < 0x20 or b > 0x7E or b == 0x25 else 1 for b in message.encode())
        return encoded + sum((len(v) + 2) // 3 * 4 for _, v in trailers)

    assert trailer_bytes(NotFound("marker '" + "黑名单" * 3_000 + "' not found")) < 4_000
    many = InvalidArgument([FieldViolation(f"checks[{i}].consent_ref", "授权编号不能为空" * 40) for i in range(200)])
    assert trailer_bytes(many) < 6_000
    _, _, trailers = rich_status(many)
    assert trailers[0][1]  # the first violations still travel
