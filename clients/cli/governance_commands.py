"""``lianfang admin disputes list|open|resolve`` and ``lianfang admin usage``: the consortium
admin's governance work from a terminal. Output is JSON, one object per line (the API's field
names, as ``admin members`` prints them)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from lianfang.v1 import common_pb2

from clients.cli.hub_connection import add_admin_principal, admin_signer, hub_channel, on_every_verb
from clients.cli.output import print_message
from clients.hub import AdminClient

RESOLUTIONS = {
    "withdraw": common_pb2.DISPUTE_RESOLUTION_WITHDRAW,
    "correct": common_pb2.DISPUTE_RESOLUTION_CORRECT,
    "uphold": common_pb2.DISPUTE_RESOLUTION_UPHOLD,
}
MARKER_TYPES = {
    name.removeprefix("MARKER_TYPE_").lower(): number
    for name, number in common_pb2.MarkerType.items()
    if number != common_pb2.MARKER_TYPE_UNSPECIFIED
}
"""``confirmed_fraud``, ``suspect``… as the CLI spells the proto's marker types."""


async def _disputes(args: argparse.Namespace) -> int:
    if args.action == "resolve" and args.resolution != "correct" and (args.marker_type or args.reason_code):
        raise SystemExit("lianfang: --marker-type and --reason-code only go with a correct resolution")  # else ignored
    client = AdminClient(hub_channel(args), admin_signer(args))
    try:
        if args.action == "open":
            print_message(await client.open_dispute(args.marker_id, args.statement), zeros=True)
        elif args.action == "resolve":
            print_message(
                await client.resolve_dispute(
                    args.dispute_id,
                    RESOLUTIONS[args.resolution],
                    args.note,
                    corrected_marker_type=MARKER_TYPES.get(args.marker_type or "", 0),
                    corrected_reason_code=args.reason_code or "",
                ),
                zeros=True,
            )
        else:
            for dispute in await client.list_disputes(include_resolved=args.all):
                print_message(dispute, zeros=True)
    finally:
        await client.close()
    return 0


async def _usage(args: argparse.Namespace) -> int:
    client = AdminClient(hub_channel(args), admin_signer(args))
    try:
        for usage in await client.list_usage():
            if not args.flagged or usage.flags:
                print_message(usage, zeros=True)
    finally:
        await client.close()
    return 0


def add_commands(admin: Any) -> None:
    """Adds ``disputes`` and ``usage`` to the ``lianfang admin`` sub-parser group."""
    disputes = admin.add_parser(
        "disputes",
        help="disputes of markers: list, open for a data subject, resolve (20-day deadline)",
        description="A data subject disputes a marker filed on them; the admin opens the case, the marker shows as "
        "DISPUTED to every member until it is resolved: withdraw (the marker was wrong), correct (replaced by a "
        "marker of another type or reason) or uphold (it stands).",
    )
    add_admin_principal(disputes)
    actions = disputes.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="open disputes as JSON lines, oldest first (overdue: past the deadline)")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    opened = actions.add_parser("open", help="open a dispute of a marker for its data subject")
    opened.add_argument("marker_id")
    opened.add_argument(
        "--statement", required=True, help="the data subject's own words, kept with the case (1..2000 characters)"
    )
    resolve = actions.add_parser("resolve", help="resolve an open dispute")
    resolve.add_argument("dispute_id")
    resolve.add_argument("resolution", choices=tuple(RESOLUTIONS), help="what becomes of the marker")
    resolve.add_argument("--note", required=True, help="why, kept with the case (1..2000 characters)")
    resolve.add_argument("--marker-type", choices=tuple(MARKER_TYPES), help="correct (required): the new marker's type")
    resolve.add_argument(
        "--reason-code", help="correct (required): the new marker's reason code, e.g. DOCUMENTS_UNVERIFIED"
    )
    on_every_verb(actions, add_admin_principal)
    disputes.set_defaults(run=lambda a: asyncio.run(_disputes(a)))

    usage = admin.add_parser(
        "usage",
        help="what each member takes and gives: Checks, outcomes, markers, give-to-get ratio, scraping flags",
    )
    add_admin_principal(usage)
    usage.add_argument("--flagged", action="store_true", help="only members with a flag")
    usage.set_defaults(run=lambda a: asyncio.run(_usage(a)))
