"""One-time SMS codes for signing the e-contract (seed 002 stage 3: 人脸识别 + 短信验证码 +
数字签名): the node sends a six-digit code to the applicant's own phone and the signature is
accepted only with that code, so signing proves the phone is in the borrower's hand.

A code lives ``CODE_TTL_SECONDS``; a new one may be asked for after ``RESEND_AFTER_SECONDS``
(it replaces the old), at most ``MAX_CODES_PER_DAY`` a day (the lender's calendar day); ``MAX_ATTEMPTS`` wrong codes use
it up — so at most 50 guesses a day at one contract, one chance in 20,000. Only a salted digest
is kept with the contract, never the code (the SMS gateway's own record is the provider's
business; the shipped recording channel keeps the text in the node's database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from node.origination.lender_calendar import day_starts, lender_date

CODE_TTL_SECONDS = 300.0
RESEND_AFTER_SECONDS = 60.0
MAX_ATTEMPTS = 5
MAX_CODES_PER_DAY = 10
DAY = 86_400.0


def sent_today(state: dict[str, Any] | None, now: float) -> int:
    """Codes sent for the contract this day (the lender's), the last one's ``state`` counting them."""
    if state is None or lender_date(float(state["sent_at"])) != lender_date(now):
        return 0
    return int(state["today"])


def next_day_starts(now: float) -> float:
    """When the lender's next calendar day begins (the daily code allowance renews)."""
    return day_starts(lender_date(now) + dt.timedelta(days=1))


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + code.encode()).hexdigest()


def code_state(code: str, now: float, today: int = 1) -> dict[str, Any]:
    """What the contract keeps of a code sent at ``now``, the ``today``-th this UTC day."""
    salt = secrets.token_hex(16)
    expires_at = now + CODE_TTL_SECONDS
    digest = _digest(salt, code)
    return {"salt": salt, "digest": digest, "sent_at": now, "expires_at": expires_at, "tries": 0, "today": today}


def code_problem(state: dict[str, Any] | None, given: str, now: float) -> str | None:
    """Why ``given`` does not sign (None: it is the code sent, in time). A wrong code counts as
    one of its ``MAX_ATTEMPTS`` (the caller saves ``state``)."""
    if state is None:
        return "no signing code was sent: ask for one (SendSigningCode)"
    if now > state["expires_at"]:
        return "the signing code expired: ask for a new one"
    if state["tries"] >= MAX_ATTEMPTS:
        return "too many wrong codes: ask for a new one"
    if hmac.compare_digest(_digest(state["salt"], given), state["digest"]):
        return None
    state["tries"] += 1
    left = MAX_ATTEMPTS - state["tries"]
    return f"not the code sent ({left} tries left)" if left else "not the code sent: ask for a new one"


def masked_phone(e164: str) -> str:
    """``+8615895472306`` → ``+86 158****2306``: enough for the borrower to know which phone."""
    if e164.startswith("+86") and len(e164) == 14:
        return f"+86 {e164[3:6]}****{e164[-4:]}"
    return f"{e164[:4]}****{e164[-4:]}"


def message_text(code: str) -> str:
    minutes = int(CODE_TTL_SECONDS // 60)
    return f"【联防】您的借款合同签署验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。"
