"""The stacking index (every token's applications, folded from the log) against the reference
definition ``count_activity``: windows, the caller excluded, out-of-order times, retention."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.records import DAY, HOUR
from consortium.stacking_index import StackingIndex, count_activity, counts_from_activity

T0 = 1_767_225_600.0
PHONE, DEVICE = "1.4.1.phone", "1.6.1.device"


def test_windows_count_other_members_and_last_seen() -> None:
    now = T0
    rows = [  # (member, age): counted in the windows it falls in, caller "a" never counted
        ("b", 0.0),
        ("b", HOUR),
        ("c", 5 * HOUR),
        ("b", 3 * DAY),
        ("c", 20 * DAY),
        ("d", 60 * DAY),
        ("d", 90 * DAY),
        ("e", 90 * DAY + 1),
        ("a", 10.0),
        ("a", 2 * DAY),
        ("f", -HOUR),  # after now (another replica's clock): not yet
        ("c", -1.0),
    ]
    index = StackingIndex()
    for m, age in rows:
        index.add([PHONE], m, now - age)
    got = index.activities([PHONE, DEVICE, PHONE], "a", now)
    assert set(got) == {PHONE, DEVICE}
    assert got[PHONE].other_applications == (2, 3, 4, 5, 7)
    assert got[PHONE].member_last_seen == {"a": now - 10, "b": now, "c": now - 5 * HOUR, "d": now - 60 * DAY}
    assert got[DEVICE].other_applications == (0, 0, 0, 0, 0) and got[DEVICE].member_last_seen == {}
    as_b = index.activities([PHONE], "b", now)[PHONE]
    assert as_b.other_applications == (1, 2, 3, 4, 6)
    earlier = index.activities([PHONE], "a", now - 2 * HOUR)[PHONE]  # b's newer apps unseen
    assert earlier.other_applications == (0, 1, 2, 3, 6)
    assert earlier.member_last_seen["b"] == now - 3 * DAY


def test_forget_before_drops_old_applications_only() -> None:
    index = StackingIndex()
    index.add([PHONE, DEVICE], "b", T0 - 400 * DAY)
    index.add([PHONE], "b", T0 - 10 * DAY)
    index.add([DEVICE], "c", T0 - 500 * DAY)
    index.add(["old-once"], "c", T0 - 500 * DAY)  # tokens seen once are kept apart: both kinds go
    index.add(["new-once"], "c", T0)
    index.forget_before(T0 - 100 * DAY)
    assert len(index) == 2  # the device and the old token had nothing newer
    assert index.activities(["new-once"], "a", T0)["new-once"].member_last_seen == {"c": T0}
    assert index.activities([PHONE], "a", T0)[PHONE].other_applications == (0, 0, 0, 1, 1)
    assert index.activities([PHONE], "a", T0 - 399 * DAY)[PHONE].member_last_seen == {}


_members = st.sampled_from("abcde")
_ages = st.one_of(
    st.sampled_from([0.0, 1.0, HOUR, HOUR + 1, DAY, 7 * DAY, 30 * DAY, 90 * DAY, 90 * DAY + 1, -1.0]),
    st.floats(min_value=-DAY, max_value=120 * DAY, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_members, _ages), max_size=60), caller=_members, shift=_ages)
def test_same_as_the_reference_whatever_the_order(rows: list[tuple[str, float]], caller: str, shift: float) -> None:
    """Any order of arrival (the log is only nearly in time order), any caller, any ``now``."""
    index = StackingIndex()
    for m, age in rows:
        index.add([PHONE], m, T0 - age)
    now = T0 - shift
    want = count_activity([(m, T0 - age) for m, age in rows], caller, now)
    assert index.activities([PHONE], caller, now)[PHONE] == want


def test_a_token_never_seen_shares_one_read_only_empty_activity() -> None:
    index = StackingIndex()
    first, second = index.activities(["never-a", "never-b"], "a", T0).values()
    assert first.other_applications == (0, 0, 0, 0, 0) and first.member_last_seen == {}
    with pytest.raises(TypeError):
        first.member_last_seen["a"] = T0  # type: ignore[index]  # would leak into every answer
    assert second.member_last_seen == {}


_tokens = st.sampled_from(["1.3.1.phone-1", "1.3.1.phone-2", "1.5.1.device", "1.1.1.rid", "1.9.1.never"])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.lists(_tokens, min_size=1, max_size=3, unique=True), _members, _ages), max_size=60),
    asked=st.lists(_tokens, min_size=1, max_size=6),
    caller=_members,
    shift=_ages,
)
def test_window_counts_are_the_per_type_fold_of_the_activities(
    rows: list[tuple[list[str], str, float]], asked: list[str], caller: str, shift: float
) -> None:
    """What a Check answers from (``window_counts``) equals stacking's fold of ``activities``:
    one token of a type or several, a token listed twice, single- and multi-member histories."""
    index = StackingIndex()
    for tokens, m, age in rows:
        index.add(tokens, m, T0 - age)
    now = T0 - shift
    want = counts_from_activity(asked, index.activities(asked, caller, now), caller, now)
    got = index.window_counts(asked, caller, now)
    assert [(t, tuple(m), tuple(a)) for t, m, a in got] == [(t, tuple(m), tuple(a)) for t, m, a in want]
