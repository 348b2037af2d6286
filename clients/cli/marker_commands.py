"""``lianfang node markers list|withdraw|dispute|disputes|records``: this member's blacklist markers at the hub,
through the node (which holds the member key). Risk managers list and withdraw; customer
managers and risk managers pass on a borrower's dispute (with ``--identity-key``, say the role
with ``--as``). Output is JSON, one object per line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from clients.cli.node_commands import add_identifier_options, connection_options, identifiers, node_client
from clients.cli.output import print_message


async def run(args: argparse.Namespace) -> int:
    client = node_client(args)
    try:
        if args.what == "withdraw":
            print_message(await client.withdraw_marker(args.marker_id, args.reason))
        elif args.what == "dispute":
            print_message(await client.dispute_marker(args.marker_id, args.statement), zeros=True)
        elif args.what == "records":
            print_message(await client.borrower_records(identifiers(args), args.request_ref))
        elif args.what == "disputes":
            for dispute in await client.list_disputes(include_resolved=args.all):
                print_message(dispute, zeros=True)
        else:
            for marker in await client.list_markers(include_inactive=args.all):
                print_message(marker)
        return 0
    finally:
        await client.close()


def add_commands(node: Any) -> None:
    """Adds ``markers list|withdraw|dispute|disputes|records`` to the ``lianfang node`` group."""
    common = connection_options()
    markers = node.add_parser(
        "markers", help="this member's blacklist markers at the hub: list, withdraw, dispute"
    ).add_subparsers(dest="what", required=True)
    listing = markers.add_parser(
        "list",
        parents=[common],
        help="risk_manager: markers this member filed, each with the application it was filed for",
    )
    listing.add_argument("--all", action="store_true", help="withdrawn and expired ones too")
    withdraw = markers.add_parser(
        "withdraw",
        parents=[common],
        help="risk_manager: withdraw a marker this member filed (in error, or no longer true)",
    )
    withdraw.add_argument("marker_id")
    withdraw.add_argument("--reason", required=True, help="why (kept at the hub; no personal data), 1..500 characters")
    dispute = markers.add_parser(
        "dispute",
        parents=[common],
        help="customer_manager or risk_manager: pass a borrower's dispute of a marker (any member's) to the "
        "consortium admin",
    )
    dispute.add_argument("marker_id")
    dispute.add_argument(
        "--statement", required=True, help="the borrower's own words, 1..2000 characters, no identifiers"
    )
    disputes = markers.add_parser(
        "disputes",
        parents=[common],
        help="customer_manager or risk_manager: disputes this member raised and those of its markers, oldest first",
    )
    disputes.add_argument("--all", action="store_true", help="resolved ones too (with their resolution)")
    records = markers.add_parser(
        "records",
        parents=[common],
        help="customer_manager or risk_manager: a borrower's access request — the markers standing on their "
        "identifiers (ids to dispute; filers not named) and the queries on them",
    )
    add_identifier_options(records)
    records.add_argument(
        "--request-ref",
        required=True,
        help="your reference of the borrower's own written request (kept with who asked)",
    )
    for parser in (listing, withdraw, dispute, disputes, records):
        parser.set_defaults(run=lambda a: asyncio.run(run(a)))
