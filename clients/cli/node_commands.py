"""``lianfang node products|apply|tasks|dd|approve|confirm-fraud|sign-code|sign|drawdown|disburse|show``:
the origination pipeline from a terminal. Output is JSON (one object per line)."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from lianfang.v1 import common_pb2, node_pb2

from clients.channel import open_channel
from clients.cli.output import print_message
from clients.credentials import JwtSigner, load_private_key, public_key_bytes
from clients.errors import LianfangRpcError
from clients.node import NODE_AUDIENCE, NodeClient
from node.origination.contracts import document_digest

KINDS = {
    "person": common_pb2.APPLICANT_KIND_PERSON,
    "individual_business": common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS,
    "company": common_pb2.APPLICANT_KIND_COMPANY,
}


class StaticToken(JwtSigner):
    """A token obtained from the lender's identity provider, used as is."""

    def __init__(self, token: str) -> None:
        self._static = token

    def token(self, now: float | None = None) -> str:
        return self._static


def node_client(args: argparse.Namespace) -> NodeClient:
    channel = open_channel(args.node, ca_file=args.ca or "", plaintext=args.plaintext, settings=("--ca", "", ""))
    if args.token:
        return NodeClient(channel, StaticToken(args.token))
    if not args.identity_key:
        raise SystemExit("lianfang: pass --token (from your identity provider) or --identity-key with --as")
    signer = JwtSigner(
        args.user or args.role,
        load_private_key(args.identity_key),
        audience=NODE_AUDIENCE,
        claims={"role": args.role},
        lifetime_seconds=600,
    )
    return NodeClient(channel, signer)


def add_identifier_options(parser: argparse.ArgumentParser) -> None:
    """An applicant's raw identifiers (they stay at the node; only tokens reach the hub)."""
    parser.add_argument("--uscc")
    parser.add_argument("--resident-id")
    parser.add_argument("--legal-rep", help="legal representative's resident ID")
    for flag in ("--phone", "--device", "--ip", "--bank-account", "--address"):
        parser.add_argument(flag, action="append", help="repeatable")


EVIDENCE = {
    name.removeprefix("EVIDENCE_LEVEL_").lower(): value
    for name, value in common_pb2.EvidenceLevel.items()
    if value != common_pb2.EVIDENCE_LEVEL_UNSPECIFIED
}
"""A marker's evidence levels by the name a command line gives them (``police_report``…)."""


def identifiers(args: argparse.Namespace) -> node_pb2.Identifiers:
    """What ``add_identifier_options`` read, as the API's message."""
    return node_pb2.Identifiers(
        uscc=args.uscc or "",
        resident_id=args.resident_id or "",
        legal_rep_resident_id=args.legal_rep or "",
        phones=args.phone or [],
        device_ids=args.device or [],
        ips=args.ip or [],
        bank_accounts=args.bank_account or [],
        addresses=args.address or [],
    )


async def run(args: argparse.Namespace) -> int:
    client = node_client(args)
    try:
        result: Any
        if args.verb == "products":
            for product in await client.list_products(KINDS[args.kind] if args.kind else 0):
                print_message(product, zeros=True)  # collateralRatio 0: unsecured
            return 0
        if args.verb == "apply":
            ids = identifiers(args)
            result = await client.submit_application(
                node_pb2.SubmitApplicationRequest(
                    application_ref=args.ref,
                    product_code=args.product,
                    applicant_kind=KINDS[args.kind],
                    applicant_name=args.name,
                    identifiers=ids,
                    industry=args.industry,
                    locality=args.locality,
                    amount_fen=round(args.amount * 100),
                    term_months=args.term,
                    repayment_method=args.method,
                    consent_ref=args.consent,
                    collateral_value_fen=round(args.collateral_value * 100),
                )
            )
        elif args.verb == "tasks":
            for task in await client.list_tasks(assignee=args.assignee or "", include_done=args.all):
                print_message(task)
            return 0
        elif args.verb == "dd":
            findings = json_format.Parse(Path(args.findings).read_text(), node_pb2.DueDiligenceFindings())
            result = await client.submit_due_diligence(args.task_id, findings)
        elif args.verb == "approve":
            limit = round(args.limit * 100) if args.limit else 0
            result = await client.decide_referral(
                args.application_id, not args.decline, args.comment, final_limit_fen=limit
            )
        elif args.verb == "confirm-fraud":
            result = await client.confirm_fraud(
                args.application_id, args.reason_code, EVIDENCE[args.evidence], args.case_ref or ""
            )
        elif args.verb == "sign-code":
            result = await client.send_signing_code(args.application_id)
        elif args.verb == "sign":
            contract = await client.get_contract(args.application_id)
            key = load_private_key(args.borrower_key)
            result = await client.sign_contract(
                node_pb2.SignContractRequest(
                    application_id=args.application_id,
                    face_verified=args.face_verified,
                    sms_code=args.sms_code,
                    borrower_public_key=public_key_bytes(key),
                    signature=key.sign(document_digest(contract.document)),
                )
            )
        elif args.verb == "drawdown":
            request_id = args.request_id or uuid.uuid4().hex
            try:
                result = await client.request_drawdown(
                    args.application_id, round(args.amount * 100), args.payee or "", request_id=request_id
                )
            except LianfangRpcError:
                if not args.request_id:  # whether it was paid is only known by asking again with its id
                    print(
                        f"lianfang: the drawdown's request id was {request_id}: run the command again with "
                        f"--request-id {request_id} to get its answer without paying twice",
                        file=sys.stderr,
                    )
                raise
        elif args.verb == "disburse":
            result = await client.review_disbursement(args.drawdown_id, not args.reject, args.comment)
        elif args.loan:
            result = await client.get_loan(args.id)
        elif args.contract:
            result = await client.get_contract(args.id)
        else:
            result = await client.get_application(args.id)
        print_message(result, zeros=isinstance(result, node_pb2.LoanView))  # paidFen 0, daysPastDue 0 say so
        return 0
    finally:
        await client.close()


def connection_options() -> argparse.ArgumentParser:
    """The options every node verb shares: where the node is and who is calling."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--node", default="localhost:7444", help="node host:port")
    common.add_argument("--ca", help="CA certificate of the node")
    common.add_argument("--plaintext", action="store_true", help="node without TLS")
    common.add_argument("--token", help="a JWT from the lender's identity provider")
    common.add_argument("--identity-key", help="dev only: sign a token locally with the identity provider's key")
    common.add_argument(
        "--as", dest="role", default="customer", help="role claim for --identity-key (default: customer)"
    )
    common.add_argument("--user", help="subject for --identity-key (default: the role)")
    return common


def add_commands(node: Any, runner: Any) -> None:
    """Adds the pipeline verbs to the ``lianfang node`` sub-parser group."""
    common = connection_options()

    products = node.add_parser(
        "products", parents=[common], help="list the products on offer and their terms (any role)"
    )
    products.add_argument("--kind", choices=sorted(KINDS), help="only products open to this kind of applicant")
    apply = node.add_parser("apply", parents=[common], help="submit an application (stage 1)")
    apply.add_argument("--ref", required=True, help="your application reference")
    apply.add_argument("--product", required=True, help="product code, e.g. xiaowei_puhui")
    apply.add_argument("--kind", choices=sorted(KINDS), default="individual_business")
    apply.add_argument("--name", required=True)
    add_identifier_options(apply)
    apply.add_argument("--industry", default="")
    apply.add_argument("--locality", default="")
    apply.add_argument("--amount", type=float, required=True, help="yuan")
    apply.add_argument("--term", type=int, required=True, help="months")
    apply.add_argument("--method", default="equal_instalments", choices=("equal_instalments", "interest_first"))
    apply.add_argument("--consent", required=True, help="reference of the signed authorisation")
    apply.add_argument(
        "--collateral-value",
        type=float,
        default=0.0,
        help="yuan: the pledged asset's value (e.g. the equipment's price), for products lending against collateral",
    )

    tasks = node.add_parser("tasks", parents=[common], help="list open tasks (due diligence, reviews)")
    tasks.add_argument("--assignee", help="default: yourself")
    tasks.add_argument("--all", action="store_true", help="include done tasks")

    dd = node.add_parser("dd", parents=[common], help="submit due-diligence findings (stage 2)")
    dd.add_argument("task_id")
    dd.add_argument("--findings", required=True, help="JSON file of a DueDiligenceFindings message")

    approve = node.add_parser("approve", parents=[common], help="credit approver: decide a referral")
    approve.add_argument("application_id")
    approve.add_argument("--comment", required=True)
    approve.add_argument("--decline", action="store_true")
    approve.add_argument(
        "--limit",
        type=float,
        help="yuan: the limit granted (default: the due diligence's, else the pre-credit limit; "
        "required when the evidence gives none)",
    )

    fraud = node.add_parser(
        "confirm-fraud",
        parents=[common],
        help="risk manager: confirm an application as fraud (markers filed at the hub)",
        description="Confirms an application as fraud: a confirmed-fraud marker on each identifier of the "
        "person or business (resident ID, USCC, legal representative's ID, phones) is filed at the hub, its "
        "open tasks close and its pending drawdowns are rejected.",
    )
    fraud.add_argument("application_id")
    fraud.add_argument("--reason-code", required=True, help="what kind of fraud, e.g. FORGED_DOCUMENTS")
    fraud.add_argument("--evidence", required=True, choices=sorted(EVIDENCE), help="the evidence level")
    fraud.add_argument("--case-ref", help="e.g. the police report's number (no personal data)")

    sign_code = node.add_parser(
        "sign-code", parents=[common], help="customer (the borrower): have the signing code texted to their phone"
    )
    sign_code.add_argument("application_id")

    sign = node.add_parser("sign", parents=[common], help="customer (the borrower): sign the contract (stage 3)")
    sign.add_argument("application_id")
    sign.add_argument("--borrower-key", required=True, help="borrower's Ed25519 private key (PEM)")
    sign.add_argument("--sms-code", required=True, help="the code `sign-code` had texted (valid 5 minutes)")
    sign.add_argument("--face-verified", action="store_true")

    drawdown = node.add_parser("drawdown", parents=[common], help="customer (the borrower): draw down within the limit")
    drawdown.add_argument("application_id")
    drawdown.add_argument("--amount", type=float, required=True, help="yuan")
    drawdown.add_argument("--payee", help="counterparty account (entrusted payment)")
    drawdown.add_argument(
        "--request-id",
        help="your id for this drawdown: run the command again with it after a timeout and the node "
        "answers the drawdown it made instead of paying out twice (default: a new id)",
    )

    disburse = node.add_parser("disburse", parents=[common], help="disbursement reviewer: approve a drawdown")
    disburse.add_argument("drawdown_id")
    disburse.add_argument("--comment", required=True)
    disburse.add_argument("--reject", action="store_true")

    show = node.add_parser("show", parents=[common], help="show an application, its contract or a loan")
    show.add_argument("id")
    what = show.add_mutually_exclusive_group()
    what.add_argument("--loan", action="store_true", help="id is a loan id")
    what.add_argument("--contract", action="store_true", help="id is an application id; show its contract")

    for parser in (products, apply, tasks, dd, approve, fraud, sign_code, sign, drawdown, disburse, show):
        parser.set_defaults(run=runner)
