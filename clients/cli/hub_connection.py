"""The options every hub-facing command shares (address, TLS, client certificate, the admin who
signs), in one place."""

from __future__ import annotations

import argparse

import grpc

from clients.channel import open_channel
from clients.credentials import JwtSigner, load_private_key


def add_hub_connection(parser: argparse.ArgumentParser, principal: str) -> None:
    """``--hub --ca --cert --key --plaintext``; ``principal`` names the certificate's subject."""
    parser.add_argument("--hub", default="localhost:7443", help="hub host:port")
    parser.add_argument("--ca", help="CA certificate of the hub")
    parser.add_argument("--cert", help=f"client certificate for mutual TLS (common name {principal})")
    parser.add_argument("--key", help="private key of --cert")
    parser.add_argument("--plaintext", action="store_true", help="hub without TLS (local experiments only)")


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
    add_hub_connection(parser, "admin/<name>")
    parser.add_argument("--admin-key", required=True, help="admin Ed25519 private key (PEM)")
    parser.add_argument("--admin-name", default="ops", help="admin name configured at the hub")


def admin_signer(args: argparse.Namespace) -> JwtSigner:
    """Signs calls as ``admin/<--admin-name>`` with ``--admin-key``."""
    return JwtSigner(f"admin/{args.admin_name}", load_private_key(args.admin_key))
