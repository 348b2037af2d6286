"""``lianfang audit head|verify``: check the hub's verifiable audit log from a member's side.

``verify`` checks the signed tree head with the hub's audit public key and, given ``--state``
(the head saved by the previous run), that the log still extends it — then saves the new head.
Run it on a schedule: a hub that rewrote or dropped an entry since the last run fails it.
Admins add ``--entries`` to download every entry and re-hash the tree.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from clients.audit import AuditClient, AuditFailure, describe, load_head, public_key_of, save_head, verify_log
from clients.cli.hub_connection import add_hub_connection, hub_channel
from clients.credentials import JwtSigner, load_private_key


def _client(args: argparse.Namespace) -> AuditClient:
    return AuditClient(hub_channel(args), JwtSigner(args.subject, load_private_key(args.signing_key)))


async def run(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        if args.verb == "head":
            print(describe(await client.tree_head()))
            return 0
        previous = load_head(args.state) if args.state else None
        try:
            verified = await verify_log(client, public_key_of(args.hub_audit_key), previous, entries=args.entries)
        except AuditFailure as failure:
            print(f"lianfang: AUDIT FAILED: {failure}", file=sys.stderr)
            return 1
        if args.state:
            save_head(verified.head, args.state)
        print(describe(verified.head))
        extends = f"extends the saved head of {verified.checked_against}" if verified.checked_against else "first head"
        print(f"ok: signature valid; {extends}; {verified.entries_checked} entries re-hashed", file=sys.stderr)
        return 0
    finally:
        await client.close()


def add_commands(nouns: Any) -> None:
    audit = nouns.add_parser("audit", help="verify the hub's audit log (signed tree heads, consistency)")
    verbs = audit.add_subparsers(dest="verb", required=True)
    common = argparse.ArgumentParser(add_help=False)
    add_hub_connection(common, "the --subject")
    common.add_argument("--subject", required=True, help="who is asking: a member id or admin/<name>")
    common.add_argument("--signing-key", required=True, help="that principal's Ed25519 private key (PEM)")
    head = verbs.add_parser("head", parents=[common], help="print the current signed tree head")
    verify = verbs.add_parser("verify", parents=[common], help="verify the head and that it extends the saved one")
    verify.add_argument(
        "--hub-audit-key",
        required=True,
        help="the hub's audit public key: base64, a file holding it, or a PEM key file",
    )
    verify.add_argument("--state", help="file with the head from the last run (created, then updated)")
    verify.add_argument("--entries", action="store_true", help="admins: download and re-hash every entry")
    for parser in (head, verify):
        parser.set_defaults(run=lambda a: asyncio.run(run(a)))
