"""Building node requests for the seed's personas, and signing as a borrower."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import common_pb2, node_pb2

from clients.demo.consortium import LocalMember
from clients.node import NodeClient
from node.origination.contracts import document_digest
from node.server import RunningNode
from node.sources.personas import Persona

KINDS = {
    "person": common_pb2.APPLICANT_KIND_PERSON,
    "individual_business": common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS,
    "company": common_pb2.APPLICANT_KIND_COMPANY,
}
PRODUCTS = {"catering": "xiaowei_puhui", "software": "keji_liudong", "manufacturing": "shebei_diya"}
METHODS = {"catering": "equal_instalments", "software": "interest_first", "manufacturing": "equal_instalments"}


def application(
    p: Persona, ref: str, *, amount_yuan: int | None = None, product: str = ""
) -> node_pb2.SubmitApplicationRequest:
    return node_pb2.SubmitApplicationRequest(
        application_ref=ref,
        product_code=product or PRODUCTS[p.industry],
        applicant_kind=KINDS[p.applicant_kind],
        applicant_name=p.name,
        identifiers=node_pb2.Identifiers(uscc=p.uscc, legal_rep_resident_id=p.legal_rep_resident_id, phones=[p.phone]),
        industry=p.industry,
        locality=p.locality,
        amount_fen=(amount_yuan or p.requested_amount_yuan) * 100,
        term_months=p.term_months,
        repayment_method=METHODS[p.industry],
        consent_ref=f"auth-{ref}",
        collateral_value_fen=p.collateral_value_yuan * 100,
    )


def findings(
    now: float, *, soft: int, consistent: bool, wallet_yuan: int, customs: bool = False
) -> node_pb2.DueDiligenceFindings:
    taken = Timestamp(seconds=int(now) - 3600)
    photos = [
        node_pb2.PhotoEvidence(sha256=f"{i:064x}", latitude=31.22, longitude=121.54, taken_at=taken, subject=s)
        for i, s in enumerate(["signboard", "kitchen", "dining_area"])
    ]
    return node_pb2.DueDiligenceFindings(
        electricity_fen=[320_000, 305_000, 331_000],
        water_fen=[41_000, 39_500, 42_300],
        customs_fen=[9_000_000, 8_600_000, 9_400_000] if customs else [],
        peak_customers_per_hour=46,
        purchase_records_consistent=consistent,
        monthly_wallet_receipts_fen=wallet_yuan * 100,
        photos=photos,
        soft_assessment=soft,
        notes="field visit",
    )


def texted_code(node: RunningNode) -> str:
    """The signing code the node last texted (as the borrower reads it on the phone: the shipped
    SMS channel records what it sends)."""
    (*_, (_, _, text, _)) = node.engine.store.query("SELECT message_id, phone, text, sent_at FROM sms_messages")
    (code,) = re.findall(r"\b\d{6}\b", text)
    return code


async def signing_code(customer: NodeClient, node: RunningNode, application_id: str) -> str:
    """Asks the node to text a signing code, and reads it off the borrower's phone."""
    await customer.send_signing_code(application_id)
    return texted_code(node)


def sign(contract: node_pb2.ContractView, key: Ed25519PrivateKey, sms_code: str = "") -> node_pb2.SignContractRequest:
    return node_pb2.SignContractRequest(
        application_id=contract.application_id,
        face_verified=True,
        sms_code=sms_code,
        borrower_public_key=key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        signature=key.sign(document_digest(contract.document)),
    )


GAMED_FIELDS = [
    "findings.photos[0].sha256",
    "findings.photos[1].latitude",
    "findings.photos[1].longitude",
    "findings.photos[2].taken_at",
    "findings.photos[3].sha256",
    "findings.notes",
]
"""The violations ``game`` makes, in order."""


def game(f: node_pb2.DueDiligenceFindings) -> node_pb2.DueDiligenceFindings:
    """``f`` with evidence no visit produces: a digest that is no SHA-256, a position off the
    globe, a photo from 2100, one image twice (in upper case: the same digest), endless notes."""
    f.photos.add().CopyFrom(f.photos[2])  # photos[3]: the same image again
    f.photos[3].sha256 = f.photos[3].sha256.upper()
    f.photos[0].sha256 = "x"
    f.photos[1].latitude, f.photos[1].longitude = 999.0, -999.0
    f.photos[2].taken_at.seconds = 4_102_444_800  # 2100
    f.notes = "n" * 200_000
    return f


async def staff_view(m: LocalMember, view: node_pb2.ApplicationView) -> node_pb2.ApplicationView:
    """The application as the lender's staff see it: a customer's own view (what the borrower's
    front end gets) hides the risk picture (``node.origination.loan_service.customer_view``)."""
    return await m.as_role("risk_manager", "risk-staff").get_application(view.application_id)
