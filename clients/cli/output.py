"""How commands print an API answer: one JSON object per line, the API's field names (as
protobuf's JSON mapping spells them), non-ASCII text as is."""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.message import Message


def print_message(message: Message) -> None:
    print(json.dumps(json_format.MessageToDict(message), ensure_ascii=False))
