"""E-contracts: the document generated from the decision, its SHA-256, and the borrower's
Ed25519 signature over that digest — verifiable by anyone holding the document later."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.origination.products import Product
from node.origination.store import Application

CONTRACT_TERMS = 2
"""The terms a contract states (kept with it): 2 puts the drawdown rules (sums, period, minimum)
and the signing deadline in the text; a contract of terms 1 (earlier versions) stated only a
per-drawdown 受托支付 threshold, and is held to what it says."""


def contract_document(app: Application, product: Product, contract_id: str, sign_by: dt.date) -> str:
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
            f"受托支付 Entrusted payment: once drawdowns paid to the borrower reach "
            f"{product.entrusted_payment_threshold_fen / 100:,.2f} 元 in all, drawdowns are paid to the counterparty",
            f"放款审核 Disbursement review: once drawdowns not yet reviewed reach "
            f"{product.disbursement_review_at_fen / 100:,.2f} 元 in all",
            f"用款期 Drawdown period: {product.availability_months} months from signing; "
            f"最低提款 Minimum drawdown: {product.min_drawdown_fen / 100:,.2f} 元 (or what is left)",
            f"签约期限 Sign by: {sign_by.isoformat()}",
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
