"""``lianfang node outbox list|retry|discard``: the node's queue of hub submissions from a
terminal (role system_admin; risk_manager may list). Output is JSON, one object per line."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from clients.cli.node_commands import connection_options, node_client
from clients.cli.output import print_message


async def run(args: argparse.Namespace) -> int:
    client = node_client(args)
    try:
        if args.what == "retry":
            print_message(await client.retry_outbox(args.item_id))
            return 0
        if args.what == "discard":
            print_message(await client.discard_outbox(args.item_id, args.reason))
            return 0
        listing = await client.list_outbox(args.state or "", args.limit)
        summary = {"pending": listing.pending, "dead": listing.dead, "circuit": listing.circuit}
        print(json.dumps(summary))
        for item in listing.items:
            print_message(item)
        return 0
    finally:
        await client.close()


def add_commands(node: Any) -> None:
    """Adds ``outbox list``, ``retry`` and ``discard`` to the ``lianfang node`` sub-parser group."""
    common = connection_options()
    outbox = node.add_parser("outbox", help="the node's outbox of hub submissions").add_subparsers(
        dest="what", required=True
    )
    listing = outbox.add_parser(
        "list", parents=[common], help="summary line (pending, dead, circuit), then items newest first"
    )
    listing.add_argument("--state", choices=("pending", "sent", "dead", "discarded"), help="only items in this state")
    listing.add_argument("--limit", type=int, default=100)
    retry = outbox.add_parser(
        "retry",
        parents=[common],
        help="put a dead-lettered item back in the queue, or send a pending one now instead of after its back-off",
    )
    retry.add_argument("item_id", type=int, metavar="ID")
    discard = outbox.add_parser(
        "discard",
        parents=[common],
        help="give a dead-lettered item up for good (it stops holding its application's later items back)",
    )
    discard.add_argument("item_id", type=int, metavar="DEAD_ID")
    discard.add_argument("--reason", required=True, help="why it is given up (kept with the item)")
    for parser in (listing, retry, discard):
        parser.set_defaults(run=lambda a: asyncio.run(run(a)))
