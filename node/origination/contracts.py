"""E-contracts: the document generated from the decision, its SHA-256, and the borrower's
Ed25519 signature over that digest — verifiable by anyone holding the document later."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.origination.products import Product
from node.origination.store import Application


def contract_document(app: Application, product: Product, contract_id: str) -> str:
    """The contract text; everything the borrower agrees to is in it, so its hash binds them."""
    yuan = app.final_limit_fen / 100
    return "\n".join(
        [
            f"借款合同 / Loan contract {contract_id}",
            f"产品 Product: {product.name} ({product.code})",
            f"借款人 Borrower: {app.applicant_name}",
            f"申请编号 Application: {app.application_id} (ref {app.application_ref})",
            f"授信额度 Credit limit: {yuan:,.2f} 元",
            f"年利率 Annual rate: {app.final_rate:.4%}",
            f"期限 Term: {app.term_months} months; 还款方式 Repayment: {app.repayment_method}",
            f"受托支付起点 Entrusted payment at or above: {product.entrusted_payment_threshold_fen / 100:,.2f} 元",
            "借款人确认已阅读并同意全部条款。The borrower has read and agrees to all terms.",
        ]
    )


def document_digest(document: str) -> bytes:
    return hashlib.sha256(document.encode("utf-8")).digest()


def verify_signature(document: str, public_key: bytes, signature: bytes) -> bool:
    """True only if ``signature`` is the key holder's Ed25519 signature of this exact document."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, document_digest(document))
    except (InvalidSignature, ValueError):
        return False
    return True
