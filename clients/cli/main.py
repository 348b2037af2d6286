"""lianfang: serve a hub or a node, administer members, explore rings, make keys and certificates, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from google.protobuf import json_format

from clients.cli.analyst_commands import add_commands as add_analyst_commands
from clients.cli.audit_commands import add_commands as add_audit_commands
from clients.cli.governance_commands import add_commands as add_governance_commands
from clients.cli.hub_connection import (
    add_admin_principal,
    admin_signer,
    finish_connection_options,
    hub_channel,
    on_every_verb,
)
from clients.cli.marker_commands import add_commands as add_marker_commands
from clients.cli.node_commands import add_commands as add_node_commands
from clients.cli.node_commands import run as run_node_command
from clients.cli.oprf_commands import add_commands as add_oprf_commands
from clients.cli.outbox_commands import add_commands as add_outbox_commands
from clients.cli.output import print_message
from clients.cli.post_loan_commands import add_commands as add_post_loan_commands
from clients.credentials import generate_key_file, public_key_arg, write_secret
from clients.errors import LianfangRpcError
from clients.hub import AdminClient
from runtime import event_loop
from runtime.config import ConfigError, load_config
from runtime.errors import LianfangError
from runtime.logs import configure_logging

ACTIONS = ("approve", "suspend", "reinstate", "revoke")


def _hub_serve(args: argparse.Namespace) -> int:
    from consortium.config import HubConfig
    from consortium.server import run_hub

    config = load_config(
        HubConfig,
        section="hub",
        file=args.config,
        overrides={"listen": args.listen, "store": args.store, "plaintext": args.plaintext or None},
    )
    configure_logging(config.log_level)
    event_loop.run(run_hub(config), config.event_loop)
    return 0


def _hub_purge(args: argparse.Namespace) -> int:
    import time

    from consortium.config import HubConfig
    from consortium.server import purge_once

    config = load_config(HubConfig, section="hub", file=args.config, overrides={"store": args.store, "plaintext": True})
    report = asyncio.run(purge_once(config, time.time()))
    print(json.dumps({"applications_purged": report.applications, "markers_purged": report.markers}))
    return 0


def _node_serve(args: argparse.Namespace) -> int:
    from node.config import NodeConfig
    from node.server import run_node

    config = load_config(
        NodeConfig,
        section="node",
        file=args.config,
        overrides={"listen": args.listen, "hub_address": args.hub, "database": args.database},
    )
    configure_logging(config.log_level)
    event_loop.run(run_node(config), config.event_loop)
    return 0


def _admin_client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(hub_channel(args), admin_signer(args))


async def _admin_members(args: argparse.Namespace) -> int:
    client = _admin_client(args)
    try:
        if args.action == "register":
            key = args.public_key
            raw = public_key_arg(key, "--public-key")
            members = [await client.register_member(args.member_id, args.name, args.category, raw)]
        elif args.action == "list":
            members = await client.list_members()
        elif args.action == "rotate-key":
            members = [
                await client.rotate_member_key(
                    args.member_id, public_key_arg(args.public_key, "--public-key"), args.reason
                )
            ]
        elif args.action == "set-quota":
            daily = None if args.daily == "default" else int(args.daily)
            print_message(await client.set_member_quota(args.member_id, daily, args.reason), zeros=True)
            return 0
        else:
            members = [await client.change_member(args.action, args.member_id, args.reason)]
    finally:
        await client.close()
    for m in members:
        print_message(m)
    return 0


def _epoch_key(path: str, *, create: bool) -> bytes:
    """An epoch's token key from the file ``path`` (64 hex characters, as ``lianfang keys new
    consortium`` and a node's ``consortium_key_file`` hold it); ``create``: where there is no
    such file, a new key, written there (0600) before anything is sent."""
    from node.identity.tokens import new_consortium_key

    file = Path(path)
    if create and not file.exists():
        key = new_consortium_key()
        write_secret(file, key.hex().encode())
        print(
            f"lianfang: made a new token key and wrote it to {path} (a rerun uses it): keep it secret and safe",
            file=sys.stderr,
        )
        return key
    try:
        key = bytes.fromhex(file.read_text(encoding="ascii", errors="replace").strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"{path}: expected 64 hex characters (a 32-byte token key)")
    return key


async def _admin_keys(args: argparse.Namespace) -> int:
    client = _admin_client(args)
    try:
        if args.action == "set-encryption-key":
            await client.set_encryption_key(args.member_id, public_key_arg(args.public_key, "--public-key"))
            print(json.dumps({"member_id": args.member_id, "encryption_key": "set"}))
            return 0
        if args.action == "new-epoch":  # the key is wrapped here: the hub never holds it
            if not Path(args.key_file).exists() and not args.fresh and not (await client.list_key_epochs()).epochs:
                raise ValueError(
                    "the hub has no key epoch yet, so its nodes tokenise with a consortium_key_file: a new key "
                    "would match none of their tokens. Adopt theirs (new-epoch <their key_epoch> --key-file "
                    "<their consortium_key_file>), or pass --fresh if no node uses one"
                )
            result = await client.create_key_epoch(args.epoch, _epoch_key(args.key_file, create=True))
        elif args.action == "grant":
            from clients.key_epochs import NothingToGrant

            key = _epoch_key(args.key_file, create=False)
            try:
                result = await client.grant_key_epoch(args.epoch, key, args.member or ())
            except NothingToGrant as done:  # a rerun: what was asked for is so
                print(f"lianfang: {done}: nothing to do", file=sys.stderr)
                return 0
        elif args.action == "retire":
            result = await client.retire_key_epoch(args.epoch)
        else:
            listed = await client.list_key_epochs()
            for epoch in listed.epochs:
                print_message(epoch)
            return 0
        print_message(result)
        return 0
    finally:
        await client.close()


def _keys_new(args: argparse.Namespace) -> int:
    if Path(args.path).exists() and not args.force:
        print(
            f"lianfang: {args.path} exists: a new key would replace it, and what the old one signed, "
            "encrypted or tokenised could no longer be verified or matched; use --force to replace it",
            file=sys.stderr,
        )
        return 2
    if args.kind == "signing":
        public = generate_key_file(args.path)
        print(base64.b64encode(public).decode())
    elif args.kind == "encryption":
        from clients.key_epochs import generate_encryption_key_file

        print(base64.b64encode(generate_encryption_key_file(args.path)).decode())
    else:
        from node.identity.tokens import new_consortium_key

        path = Path(args.path)
        write_secret(path, new_consortium_key().hex().encode())
        print(f"wrote consortium key to {path}")
    return 0


def _certs(args: argparse.Namespace) -> int:
    from runtime.tls import DevCertificateAuthority

    if args.action != "init" and not (Path(args.dir) / "ca-key.pem").exists():
        # issuing from a new CA nobody trusts would only fail later, at the TLS handshake
        raise ConfigError(f"no CA in {args.dir}: run `lianfang certs init --dir {args.dir}` first")
    ca = DevCertificateAuthority(args.dir)
    if args.action == "init":
        print(ca.ca_file)
    else:
        if args.client:
            issued = ca.issue_client(args.name)
        else:
            issued = ca.issue(args.name, tuple(args.host or ("localhost", "127.0.0.1", "::1")))
        print(issued.cert_file)
        print(issued.key_file)
    return 0


def _quota_arg(text: str) -> str:
    """``default``, or a whole number of at least 0 that fits the API's field (the hub judges
    the rest); argparse reports anything else."""
    if text != "default" and not (text.isdigit() and text.isascii() and int(text) < 2**64):
        raise argparse.ArgumentTypeError(f"a whole number of Checks per day (0: unlimited) or 'default', got {text!r}")
    return text


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``low`` (argparse reports the bad value)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _demo(args: argparse.Namespace) -> int:
    from clients.demo.run import print_report, run_demo

    configure_logging("WARNING")
    result = asyncio.run(
        run_demo(
            args.applicants,
            args.lenders,
            seed=args.seed,
            weeks=args.weeks,
            store_url=args.store or "",
            page=args.page,
            tokens=args.tokens,
        )
    )
    print_report(result, sys.stdout)
    return 0


def _up(args: argparse.Namespace) -> int:
    from clients.up.plan import load_plan, prepare
    from clients.up.supervisor import run

    plan = load_plan(args.config, args.state_dir)
    return asyncio.run(run(plan, prepare(plan)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lianfang", description=__doc__)
    nouns = parser.add_subparsers(dest="noun", required=True, metavar="COMMAND")

    hub = nouns.add_parser("hub", help="the consortium hub").add_subparsers(dest="verb", required=True)
    hub_serve = hub.add_parser("serve", help="serve the hub until SIGTERM")
    hub_serve.add_argument("--config", help="TOML file with a [hub] table (env LIANFANG_HUB_* overrides)")
    hub_serve.add_argument("--listen", help="host:port (default 127.0.0.1:7443)")
    hub_serve.add_argument(
        "--store",
        help="sqlite:///path.db (default), redis://host:port/db (rediss:// with TLS, unix:///path.sock?db=0), "
        "or redis+cluster://host:port (rediss+cluster:// with TLS)",
    )
    hub_serve.add_argument("--plaintext", action="store_true", help="serve without TLS (local only)")
    hub_serve.set_defaults(run=_hub_serve, long_running=True)
    hub_purge = hub.add_parser("purge", help="run the retention purge once (applications, expired markers)")
    hub_purge.add_argument("--config", help="TOML file with a [hub] table")
    hub_purge.add_argument("--store", help="store URL (default from the config)")
    hub_purge.set_defaults(run=_hub_purge)

    node = nouns.add_parser("node", help="a member node").add_subparsers(dest="verb", required=True)
    node_serve = node.add_parser(
        "serve",
        help="serve the node API until SIGTERM",
        description="Serves the node API until SIGTERM. SIGHUP reads the rule set and scorecards again "
        "(rules_file, antifraud_scorecard_file, credit_scorecard_file); files that do not load change nothing.",
    )
    node_serve.add_argument("--config", help="TOML file with a [node] table (env LIANFANG_NODE_* overrides)")
    node_serve.add_argument("--listen", help="host:port (default 127.0.0.1:7444)")
    node_serve.add_argument("--hub", help="hub host:port")
    node_serve.add_argument("--database", help="SQLite file of the node's records")
    node_serve.set_defaults(run=_node_serve, long_running=True)
    add_node_commands(node, lambda a: asyncio.run(run_node_command(a)))
    add_post_loan_commands(node)
    add_outbox_commands(node)
    add_marker_commands(node)

    admin = nouns.add_parser("admin", help="consortium administration").add_subparsers(dest="verb", required=True)
    members = admin.add_parser("members", help="member lifecycle")
    add_admin_principal(members)
    actions = members.add_subparsers(dest="action", required=True)
    register = actions.add_parser("register", help="register a member (status pending)")
    register.add_argument("member_id")
    register.add_argument("--name", required=True, help="display name")
    register.add_argument("--category", required=True, help="the kind of lender: bank, consumer_finance, microloan, …")
    register.add_argument(
        "--public-key",
        required=True,
        help="the member's Ed25519 public key: base64 raw, or a file holding it (base64, or a PEM key: "
        "a private key's public half is taken)",
    )
    for action in ACTIONS:
        p = actions.add_parser(action, help=f"{action} a member")
        p.add_argument("member_id")
        p.add_argument("--reason", default="", help="recorded with the status change")
    rotate = actions.add_parser(
        "rotate-key",
        help="replace a member's signing key (a leaked key); in OPRF mode also update the key service's member_keys "
        "and send it SIGHUP",
    )
    rotate.add_argument("member_id")
    rotate.add_argument("--public-key", required=True, help="the new base64 raw Ed25519 key, or a file holding it")
    rotate.add_argument("--reason", default="", help="recorded in the audit log")
    quota = actions.add_parser(
        "set-quota",
        help="a member's own daily Check quota, instead of the hub's default (prints its usage line)",
    )
    quota.add_argument("member_id")
    quota.add_argument(
        "--daily",
        required=True,
        type=_quota_arg,
        help="Checks per UTC day (0: unlimited), or 'default' for the hub's daily_check_quota again",
    )
    quota.add_argument("--reason", default="", help="recorded in the audit log")
    actions.add_parser("list", help="list members as JSON lines")
    on_every_verb(actions, add_admin_principal)
    members.set_defaults(run=lambda a: asyncio.run(_admin_members(a)))

    epochs = admin.add_parser("keys", help="consortium key epochs: wrapped to each member, rotated, retired")
    add_admin_principal(epochs)
    key_actions = epochs.add_subparsers(dest="action", required=True)
    enc = key_actions.add_parser("set-encryption-key", help="register a member's X25519 public key")
    enc.add_argument("member_id")
    enc.add_argument("--public-key", required=True, help="base64 raw X25519 key, or a file holding it")
    new_epoch = key_actions.add_parser(
        "new-epoch",
        help="wrap a new epoch's key to every member",
        description="Wraps epoch EPOCH's token key, here, to every ACTIVE member with an encryption key.",
    )
    new_epoch.add_argument("epoch", type=int)
    new_epoch.add_argument(
        "--key-file",
        required=True,
        help="the epoch's key: read from this file if it exists (to adopt the key nodes already use "
        "from their consortium_key_file, with its key_epoch as EPOCH), else made here and written to it "
        "(0600). Keep it secret and safe: members enrolled later are given the epoch from it (grant)",
    )
    new_epoch.add_argument(
        "--fresh",
        action="store_true",
        help="allow a new key for the hub's first epoch (no node tokenises with a consortium_key_file)",
    )
    grant = key_actions.add_parser(
        "grant",
        help="wrap a live epoch's key to members that lack it (enrolled or reinstated since)",
        description="Wraps a live epoch's key, from the file new-epoch kept, to members it was not given "
        "to (or to --member, again: after a new encryption key). The key is checked against the epoch's.",
    )
    grant.add_argument("epoch", type=int)
    grant.add_argument("--key-file", required=True, help="the file new-epoch read or wrote the epoch's key to")
    grant.add_argument(
        "--member", action="append", help="a member to give it to (repeatable; default: every one that lacks it)"
    )
    retire = key_actions.add_parser("retire", help="retire an epoch once its overlap is over")
    retire.add_argument("epoch", type=int)
    key_actions.add_parser("list", help="list epochs as JSON lines")
    on_every_verb(key_actions, add_admin_principal)
    epochs.set_defaults(run=lambda a: asyncio.run(_admin_keys(a)))

    add_governance_commands(admin)
    add_analyst_commands(nouns)
    add_audit_commands(nouns)

    keys = nouns.add_parser("keys", help="key material").add_subparsers(dest="verb", required=True)
    new = keys.add_parser("new", help="create a key file")
    new.add_argument(
        "kind",
        choices=("signing", "encryption", "consortium"),
        help="Ed25519 signing key, X25519 encryption key (key epochs), or a token key file",
    )
    new.add_argument("path")
    new.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key file (everything signed, encrypted or tokenised with it is lost)",
    )
    new.set_defaults(run=_keys_new)
    public = keys.add_parser(
        "public",
        help="print the base64 public key of a key file",
        description="Prints, in base64, the raw public key of an Ed25519 or X25519 PEM key file (what "
        "register, set-encryption-key and audit verify --hub-audit-key take): to hand to the admin or "
        "the auditors without the private key.",
    )
    public.add_argument("path")
    public.set_defaults(run=lambda a: print(base64.b64encode(public_key_arg(a.path, "key file")).decode()) or 0)
    add_oprf_commands(hub, admin, keys)

    certs = nouns.add_parser("certs", help="development certificate authority").add_subparsers(
        dest="action", required=True
    )
    init = certs.add_parser("init", help="create the CA in --dir")
    init.add_argument("--dir", default="certs")
    issue = certs.add_parser("issue", help="issue a certificate signed by the CA")
    issue.add_argument("name", help="server name, or with --client the principal: lender-a, admin/ops, analyst/x")
    issue.add_argument("--client", action="store_true", help="a client certificate for mutual TLS with the hub")
    issue.add_argument("--dir", default="certs")
    issue.add_argument("--host", action="append", help="DNS name or IP (repeatable)")
    init.set_defaults(run=_certs)
    issue.set_defaults(run=_certs)

    up = nouns.add_parser(
        "up",
        help="run a local multi-process consortium (hub + nodes) until Ctrl-C",
        description="Bootstraps certificates and keys into a state directory, starts `lianfang hub serve` and one "
        "`lianfang node serve` per member, enrols the members through the admin API, prints the addresses and "
        "stays in the foreground; Ctrl-C or SIGTERM stops every child.",
    )
    up.add_argument("--config", default="deploy/local/consortium.toml", help="launcher TOML (members, ports)")
    up.add_argument("--state-dir", help="where certificates, keys, configs, databases and logs go")
    up.set_defaults(run=_up, long_running=True)

    demo = nouns.add_parser("demo", help="run a whole consortium on a synthetic workload")
    demo.add_argument("--applicants", type=_at_least(1), default=1000, help="synthetic applicants (default 1000)")
    demo.add_argument(
        "--lenders", type=_at_least(2), default=3, help="member lenders, at least 2: stacking is across lenders (3)"
    )
    demo.add_argument("--weeks", type=_at_least(1), default=8, help="simulated weeks of traffic (default 8)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the synthetic workload: same seed, same run (7)")
    demo.add_argument("--store", help="hub store URL (default: SQLite in a temp dir)")
    demo.add_argument(
        "--page", default="lianfang-top-ring.html", help="where to write the top ring's graph page ('' to skip)"
    )
    demo.add_argument(
        "--tokens", choices=("hmac", "oprf"), default="hmac", help="token mode (oprf: with a key service, Δ rotation)"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    finish_connection_options(args, parser)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        if os.environ.get("LIANFANG_DEBUG"):
            raise
        print(f"lianfang: configuration error: {exc}", file=sys.stderr)
        return 2
    except LianfangRpcError as exc:
        print(f"lianfang: {exc}", file=sys.stderr)
        for v in exc.violations:
            if f"{v.field}: {v.description}" not in exc.message:  # not said twice
                print(f"  {v.field}: {v.description}", file=sys.stderr)
        return 1
    except LianfangError as exc:  # raised here, e.g. a store the command cannot reach
        if os.environ.get("LIANFANG_DEBUG"):
            raise
        print(f"lianfang: {exc.code.name}: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError, json_format.ParseError) as exc:  # a file, an argument, a JSON body
        # a server's own failure while serving is a bug to see whole (set-up errors are ConfigErrors)
        if os.environ.get("LIANFANG_DEBUG") or getattr(args, "long_running", False):
            raise
        print(f"lianfang: {_plain(exc)} (LIANFANG_DEBUG=1 shows where)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _plain(error: BaseException) -> str:
    """An error for a person: a file error names the file; a ValueError with a message is ours or
    a parser's saying what is wrong with an argument, so it goes as it is; anything else says
    what kind of error it is."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    if isinstance(error, ValueError) and str(error):
        return str(error)
    return f"{type(error).__name__}: {error}"


if __name__ == "__main__":
    sys.exit(main())
