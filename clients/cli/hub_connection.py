"""The options every hub-facing command shares (address, TLS, client certificate, the admin who
signs), in one place."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import grpc

from clients.channel import open_channel
from clients.credentials import JwtSigner, load_private_key

DEFAULTS: dict[str, object] = {
    "hub": "localhost:7443",
    "ca": None,
    "cert": None,
    "key": None,
    "plaintext": False,
    "admin_key": None,
    "admin_name": "ops",
    "analyst_key": None,
    "analyst_name": "fraud",
}
"""What the connection options mean when not given. They are declared without argparse defaults
(``SUPPRESS``) on a command group and on each of its verbs, so they may come before or after the
verb; ``finish_connection_options`` fills in these afterwards."""

_REQUIRED = "connection_options_required"  # the options a command cannot run without
_PARSER = "connection_options_parser"  # the (sub)command's parser: its usage line goes with an error


def add_hub_connection(parser: argparse.ArgumentParser, principal: str) -> None:
    """``--hub --ca --cert --key --plaintext``; ``principal`` names the certificate's subject."""
    unset = argparse.SUPPRESS
    parser.add_argument("--hub", default=unset, help=f"hub host:port (default: {DEFAULTS['hub']})")
    parser.add_argument("--ca", default=unset, help="CA certificate of the hub")
    parser.add_argument("--cert", default=unset, help=f"client certificate for mutual TLS (common name {principal})")
    parser.add_argument("--key", default=unset, help="private key of --cert")
    parser.add_argument(
        "--plaintext", action="store_true", default=unset, help="hub without TLS (local experiments only)"
    )
    parser.set_defaults(**{_PARSER: parser})


def hub_channel(args: argparse.Namespace) -> grpc.aio.Channel:
    return open_channel(
        args.hub,
        ca_file=args.ca or "",
        cert_file=args.cert or "",
        key_file=args.key or "",
        plaintext=args.plaintext,
        settings=("--ca", "--cert", "--key"),  # a bad file is named by the option that gave it
    )


def add_admin_principal(parser: argparse.ArgumentParser) -> None:
    """How an admin command reaches the hub (:func:`add_hub_connection`) and whom it signs as."""
    _add_principal(parser, "admin")


def add_analyst_principal(parser: argparse.ArgumentParser) -> None:
    """How an analyst command reaches the hub and whom it signs as."""
    _add_principal(parser, "analyst")


def _add_principal(parser: argparse.ArgumentParser, kind: str) -> None:
    """``--<kind>-key`` (required) and ``--<kind>-name``: calls are signed as ``<kind>/<name>``."""
    add_hub_connection(parser, f"{kind}/<name>")
    parser.add_argument(f"--{kind}-key", default=argparse.SUPPRESS, help=f"{kind} Ed25519 private key (PEM); required")
    parser.add_argument(
        f"--{kind}-name",
        default=argparse.SUPPRESS,
        help=f"{kind} name configured at the hub: calls are signed as {kind}/<name> "
        f"(default: {DEFAULTS[f'{kind}_name']})",
    )
    parser.set_defaults(**{_REQUIRED: (f"{kind}_key",)})


def on_every_verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], add: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Adds a group's connection options (``add``) to each of its verbs too, so that
    ``admin members list --hub H`` works as well as ``admin members --hub H list``."""
    for verb in dict.fromkeys(verbs.choices.values()):  # aliases name one parser twice
        add(verb)


def finish_connection_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fills in the defaults of connection options a command has and was not given, and refuses
    a command missing one it requires (wherever it may be given, before or after the verb)."""
    if not hasattr(args, _PARSER):
        return  # a command without hub connection options
    for name in getattr(args, _REQUIRED, ()):
        if getattr(args, name, None) is None:
            command = getattr(args, _PARSER)
            (command if command.prog.startswith("lianfang ") else parser).error(
                f"--{name.replace('_', '-')} is required"
            )
    for name, default in DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)


def admin_signer(args: argparse.Namespace) -> JwtSigner:
    """Signs calls as ``admin/<--admin-name>`` with ``--admin-key``."""
    return JwtSigner(f"admin/{args.admin_name}", load_private_key(args.admin_key))
