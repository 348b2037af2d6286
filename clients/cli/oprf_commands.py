"""CLI of the OPRF token mode: ``keys serve``, ``keys admin …`` (key service administration),
``hub rekey`` (re-key the hub's store with Δ) and ``admin canaries …`` (plant, list alerts)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from lianfang.v1 import keys_pb2

from clients.canaries import CanaryClient
from clients.channel import open_channel
from clients.cli.hub_connection import add_admin_principal, admin_signer, hub_channel, on_every_verb
from clients.credentials import KEYS_AUDIENCE, JwtSigner, load_private_key
from clients.keys import KeyServiceClient, key_service_signer
from runtime.config import load_config
from runtime.logs import configure_logging


def _add_key_service_connection(parser: argparse.ArgumentParser, principal: str) -> None:
    parser.add_argument("--key-service", default="localhost:7445", help="key service host:port")
    parser.add_argument("--ks-ca", help="CA certificate of the key service")
    parser.add_argument("--ks-cert", help=f"client certificate for mutual TLS (common name {principal})")
    parser.add_argument("--ks-key", help="private key of --ks-cert")
    parser.add_argument("--ks-plaintext", action="store_true", help="key service without TLS (local only)")
    parser.add_argument("--signing-key", required=True, help=f"Ed25519 private key (PEM) of {principal}")
    parser.add_argument("--name", default="ops", help="the principal's name configured at the key service")


def _key_client(args: argparse.Namespace, prefix: str, scope: str) -> KeyServiceClient:
    channel = open_channel(
        args.key_service,
        ca_file=args.ks_ca or "",
        cert_file=args.ks_cert or "",
        key_file=args.ks_key or "",
        plaintext=args.ks_plaintext,
        settings=("--ks-ca", "--ks-cert", "--ks-key"),
    )
    signer = JwtSigner(f"{prefix}{args.name}", load_private_key(args.signing_key), audience=KEYS_AUDIENCE)
    return KeyServiceClient(channel, key_service_signer(signer, scope))


def epoch_dict(e: keys_pb2.KeyEpoch) -> dict[str, object]:
    """A key service epoch as the CLI prints it: its state by name, its public key in hex (what a
    node's ``key_service_public_keys`` pin takes, as it takes base64)."""
    state = keys_pb2.KeyEpochState.Name(e.state).removeprefix("KEY_EPOCH_STATE_").lower()
    return {"epoch": e.epoch, "state": state, "public_key": e.public_key.hex()}


def _keys_serve(args: argparse.Namespace) -> int:
    from consortium.key_service.config import KeyServiceConfig
    from consortium.key_service.server import run_key_service

    def read() -> KeyServiceConfig:  # at start, and again on SIGHUP
        return load_config(
            KeyServiceConfig,
            section="keys",
            file=args.config,
            overrides={"listen": args.listen, "database": args.database, "plaintext": args.plaintext or None},
        )

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # not the default (exit) while starting: see run_key_service
    config = read()
    configure_logging(config.log_level)
    asyncio.run(run_key_service(config, reload=read))
    return 0


async def _keys_admin(args: argparse.Namespace) -> int:
    client = _key_client(args, "admin/", "admin")
    try:
        if args.action == "rotate":
            print(json.dumps(epoch_dict(await client.rotate())))
        elif args.action == "activate":
            print(json.dumps(epoch_dict(await client.activate(args.epoch))))
        elif args.action == "retire":
            if not args.rekeyed:
                print(
                    f"lianfang: retiring epoch {args.epoch} destroys its secret for good: no Δ can be derived from "
                    f"it afterwards, so the hub's epoch-{args.epoch} tokens can never be re-keyed. Run `lianfang hub "
                    f"rekey --from {args.epoch} --to <new> --finish` first, then retire with --rekeyed",
                    file=sys.stderr,
                )
                return 2
            print(json.dumps(epoch_dict(await client.retire(args.epoch))))
        else:
            audit = await client.audit(args.member, args.limit)
            for e in audit.epochs:
                print(json.dumps({"kind": "epoch", **epoch_dict(e)}))
            for entry in audit.entries:
                print(
                    json.dumps(
                        {
                            "kind": "audit",
                            "principal": entry.principal,
                            "action": entry.action,
                            "epoch": entry.epoch,
                            "count": entry.count,
                            "at": entry.at.seconds,
                        }
                    )
                )
    finally:
        await client.close()
    return 0


async def _hub_rekey(args: argparse.Namespace) -> int:
    from consortium.config import HubConfig
    from consortium.rekey import Rekeyer, require_active_target
    from consortium.store.registry import store_from_url

    config = load_config(HubConfig, section="hub", file=args.config, overrides={"store": args.store, "plaintext": True})
    operator = _key_client(args, "hub/", "rekey")
    store = store_from_url(config.store, config.application_retention_days, must_exist=True)
    try:
        rekey = await operator.rekey_delta(args.from_epoch, args.to_epoch)
        delta = rekey.delta
        if args.finish:
            require_active_target(rekey, args.from_epoch, args.to_epoch)
        between = None
        if bool(args.activate_cert) != bool(args.activate_cert_key):
            raise ValueError("--activate-cert and --activate-cert-key go together")
        if args.activate_cert and not args.activate_key:
            raise ValueError("--activate-cert is the certificate of --activate-key's admin: give both")
        if args.activate_key:
            as_admin = {"signing_key": args.activate_key, "name": args.admin_name}
            if args.activate_cert:  # mutual TLS: the admin's own certificate, not the hub operator's
                as_admin |= {"ks_cert": args.activate_cert, "ks_key": args.activate_cert_key}
            admin = _key_client(argparse.Namespace(**{**vars(args), **as_admin}), "admin/", "admin")

            async def between() -> None:
                try:
                    await admin.activate(args.to_epoch)
                finally:
                    await admin.close()

        finish = between is not None or args.finish
        report = await Rekeyer(store, delta, args.from_epoch, args.to_epoch).run(between, finish=finish)
        if not report.passes:
            print(f"the re-keying from {args.from_epoch} to {args.to_epoch} was finished already", file=sys.stderr)
        elif not finish:
            print(
                f"pass 1 done; activate epoch {args.to_epoch} on the key service, then run again with --finish",
                file=sys.stderr,
            )
        del delta
        print(
            json.dumps(
                {
                    "from": report.from_epoch,
                    "to": report.to_epoch,
                    "linked": report.linked,
                    "skipped": report.skipped,
                    "passes": report.passes,
                }
            )
        )
    finally:
        await operator.close()
        await store.close()
    return 0


async def _admin_canaries(args: argparse.Namespace) -> int:
    from consortium.records import token_from_key

    client = CanaryClient(hub_channel(args), admin_signer(args))
    try:
        if args.action == "plant":
            print(json.dumps({"planted": await client.plant([token_from_key(k) for k in args.tokens], args.label)}))
        else:
            answer = await client.alerts()
            for a in answer.alerts:
                print(
                    json.dumps(
                        {
                            "member": a.member_id,
                            "application_ref": a.application_ref,
                            "label": a.label,
                            "token_type": a.token_type,
                            "received_at": a.received_at.seconds,
                        }
                    )
                )
    finally:
        await client.close()
    return 0


def add_commands(hub: Any, admin: Any, keys: Any) -> None:
    """Adds the commands to the ``hub``, ``admin`` and ``keys`` subparser groups."""
    serve = keys.add_parser(
        "serve",
        help="serve the OPRF key service until SIGTERM",
        description="Serves the OPRF key service until SIGTERM. SIGHUP reads --config again and applies its "
        "member_keys, admin_keys, hub_keys and quotas at once (a member's replaced key, a new member); a file that "
        "does not load changes nothing; other settings wait for a restart.",
    )
    serve.add_argument("--config", help="TOML file with a [keys] table (env LIANFANG_KEYS_* overrides)")
    serve.add_argument("--listen", help="host:port (default 127.0.0.1:7445)")
    serve.add_argument("--database", help="SQLite file of epochs and the evaluation audit")
    serve.add_argument("--plaintext", action="store_true", help="serve without TLS (local only)")
    serve.set_defaults(run=_keys_serve, long_running=True)

    ks_admin = keys.add_parser("admin", help="key service administration: rotate, activate, retire, audit")
    _add_key_service_connection(ks_admin, "admin/<name>")
    actions = ks_admin.add_subparsers(dest="action", required=True)
    actions.add_parser("rotate", help="create a new PENDING key epoch (the hub re-keys into it)")
    for verb, text in (
        ("activate", "evaluate under a PENDING epoch from now on"),
        ("retire", "destroy a superseded epoch's secret"),
    ):
        p = actions.add_parser(verb, help=text)
        p.add_argument("epoch", type=int)
        if verb == "retire":
            p.add_argument(
                "--rekeyed",
                action="store_true",
                help="confirm that `lianfang hub rekey --from EPOCH ... --finish` has run: retiring destroys the "
                "epoch's secret, after which its tokens can never be carried into a later epoch",
            )
    audit = actions.add_parser("audit", help="epochs and the evaluation audit as JSON lines")
    audit.add_argument("--member", default="", help="only this member's batches")
    audit.add_argument("--limit", type=int, default=100)
    ks_admin.set_defaults(run=lambda a: asyncio.run(_keys_admin(a)))

    rekey = hub.add_parser("rekey", help="re-key the hub's OPRF elements into a new epoch with Δ (while serving)")
    rekey.add_argument("--config", help="TOML file with a [hub] table")
    rekey.add_argument("--store", help="store URL (default from the config)")
    rekey.add_argument("--from", dest="from_epoch", type=int, required=True, help="the epoch stored now")
    rekey.add_argument("--to", dest="to_epoch", type=int, required=True, help="the new (pending) epoch")
    rekey.add_argument("--activate-key", help="key-service admin key (PEM): activate --to between the passes")
    rekey.add_argument("--admin-name", default="ops", help="that admin's name at the key service")
    rekey.add_argument(
        "--activate-cert",
        help="with mutual TLS: that admin's client certificate (common name admin/<name>); --ks-cert is the "
        "hub operator's, and the key service matches a token's subject to its certificate",
    )
    rekey.add_argument("--activate-cert-key", help="private key of --activate-cert")
    rekey.add_argument(
        "--finish",
        action="store_true",
        help="--to is already active on the key service: run the second pass and mark the switch complete "
        "(without it and without --activate-key only the first pass runs)",
    )
    _add_key_service_connection(rekey, "hub/<name>")
    rekey.set_defaults(run=lambda a: asyncio.run(_hub_rekey(a)))

    canaries = admin.add_parser("canaries", help="canary tokens: plant synthetic identities, list alerts")
    add_admin_principal(canaries)
    canary_actions = canaries.add_subparsers(dest="action", required=True)
    plant = canary_actions.add_parser("plant", help="plant tokens (scheme.type.epoch.hex) of synthetic identities")
    plant.add_argument("--label", required=True, help="name of this batch of canaries")
    plant.add_argument("tokens", nargs="+", help="token keys, e.g. 2.3.1.<64 hex>")
    canary_actions.add_parser("alerts", help="Checks that hit a canary, as JSON lines")
    on_every_verb(canary_actions, add_admin_principal)
    canaries.set_defaults(run=lambda a: asyncio.run(_admin_canaries(a)))
