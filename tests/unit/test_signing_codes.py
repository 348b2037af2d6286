"""One-time signing codes: what is kept (never the code), how tries and expiry end a code, and
how the phone is shown back."""

from __future__ import annotations

import json

from node.origination.signing_codes import (
    CODE_TTL_SECONDS,
    MAX_ATTEMPTS,
    code_problem,
    code_state,
    masked_phone,
    sent_today,
)


def test_only_a_salted_digest_is_kept_and_each_code_has_its_own_salt() -> None:
    state, again = code_state("482913", 0.0), code_state("482913", 0.0)
    assert "482913" not in json.dumps(state) and state["digest"] != again["digest"]


def test_a_code_signs_once_in_time_and_wrong_tries_use_it_up() -> None:
    state = code_state("482913", 100.0)
    assert code_problem(state, "482913", 100.0 + CODE_TTL_SECONDS) is None
    assert "expired" in (code_problem(state, "482913", 100.0 + CODE_TTL_SECONDS + 1) or "")
    for left in range(MAX_ATTEMPTS - 1, 0, -1):
        assert code_problem(state, "000000", 101.0) == f"not the code sent ({left} tries left)"
    assert code_problem(state, "000000", 101.0) == "not the code sent: ask for a new one"
    assert "too many" in (code_problem(state, "482913", 101.0) or "")
    assert "no signing code" in (code_problem(None, "482913", 101.0) or "")


def test_the_phone_is_shown_masked() -> None:
    assert masked_phone("+8615895472306") == "+86 158****2306"
    assert masked_phone("+85291234567") == "+852****4567"


def test_codes_sent_are_counted_per_day() -> None:
    day = 86_400.0
    assert sent_today(None, 5 * day) == 0
    third = code_state("123456", 5 * day + 10, today=3)
    assert sent_today(third, 5 * day + 20) == 3 and sent_today(third, 6 * day) == 0


def test_the_daily_allowance_renews_at_the_lender_s_midnight() -> None:
    """Ten codes a day are a day in China: 23:50 and 00:10 Beijing time are two days (in UTC both
    fall on one, 15:50 and 16:10), and the allowance renews at 16:00 UTC."""
    import datetime as dt

    from node.origination.signing_codes import next_day_starts, sent_today

    late = dt.datetime(2026, 3, 1, 15, 50, tzinfo=dt.UTC).timestamp()  # 23:50 in Beijing
    state = {"sent_at": late, "today": 10}
    assert sent_today(state, late + 5 * 60) == 10
    assert sent_today(state, late + 20 * 60) == 0  # 00:10 the next day in Beijing
    assert next_day_starts(late) == dt.datetime(2026, 3, 1, 16, 0, tzinfo=dt.UTC).timestamp()
