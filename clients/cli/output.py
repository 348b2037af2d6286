"""How commands print an API answer: one JSON object per line, the API's field names (as
protobuf's JSON mapping spells them), non-ASCII text as is."""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.message import Message


def print_message(message: Message, *, zeros: bool = False) -> None:
    """``zeros``: also the fields at their zero value (a quota of 0, unlimited, says so)."""
    as_dict = json_format.MessageToDict(message, always_print_fields_with_no_presence=zeros)
    print(json.dumps(as_dict, ensure_ascii=False))
