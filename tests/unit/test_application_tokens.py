"""Observers of the consortium log see every token of an application event, not only the ones
that link rings: an IP's /24 never links, and with rings off no type does."""

from __future__ import annotations

import json

from lianfang.v1 import common_pb2

from consortium.canaries import CanaryBook, canary_event
from consortium.log_format import encode_event
from consortium.records import ApplicationRecord, token_key
from consortium.rings import application_event_body
from graph import LinkPolicy

SUBNET = token_key(1, common_pb2.TOKEN_TYPE_IP_SUBNET, 1, b"\x07" * 16)
PHONE = token_key(1, common_pb2.TOKEN_TYPE_PHONE, 1, b"\x01" * 16)


def test_a_canary_on_a_token_that_never_links_still_raises_its_alert() -> None:
    for policy in (LinkPolicy(), LinkPolicy({})):  # the default; rings off (no type links)
        book = CanaryBook()
        book.observe((1, 0), "", json.loads(canary_event("admin/ops", "subnet-canary", 1.0, [SUBNET])))
        app = ApplicationRecord("lender-a", "app-1", 2.0, (PHONE, SUBNET))
        body = application_event_body(app, policy)
        book.observe((2, 0), encode_event(body), body)
        assert [a.label for a in book.alerts] == ["subnet-canary"]
