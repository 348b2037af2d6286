"""Give-to-get counted from the consortium log, whatever the age of its filing entries: entries
from before filings named their application count one each; a filing from an application counts
once for the application however many of its markers stand; one from none counts nothing."""

from __future__ import annotations

import json
from typing import Any

from consortium.usage import UsageGuard


def fold(*entries: list[Any]) -> UsageGuard:
    guard = UsageGuard()
    for entry in entries:
        guard.observe(None, json.dumps(entry), entry)
    return guard


def test_filings_of_every_age_count_as_they_were_meant_to() -> None:
    guard = fold(
        ["m", "t1", 1, "old", 100.0],  # before filings named an application: one each
        ["m", "t2", 1, "old", 101.0],
        ["m", "t6", 1, "new", 100.0, "app-1"],  # one application's markers: one contribution
        ["m", "t7", 1, "new", 101.0, "app-1"],
        ["mk", "file", "mk_2", "t8", "new", 5, 102.0, 102.0, "app-1"],
        ["m", "t9", 1, "new", 103.0, ""],  # from no application: nothing
    )
    contributions = {m: f.contributions for m, f in guard.members.items()}
    markers = {m: f.markers for m, f in guard.members.items()}
    assert contributions == {"old": 2, "new": 1}
    assert markers == {"old": 2, "new": 4}


def test_the_last_of_an_applications_markers_withdrawn_takes_its_contribution() -> None:
    guard = fold(
        ["mk", "file", "mk_1", "t1", "a", 5, 100.0, 100.0, "app-1"],
        ["mk", "file", "mk_2", "t2", "a", 5, 101.0, 101.0, "app-1"],
        ["mk", "withdraw", "mk_1", "t1", "a", 5, 100.0, 200.0],
    )
    assert guard.members["a"].contributions == 1
    guard.observe(None, "", ["mk", "withdraw", "mk_2", "t2", "a", 5, 101.0, 201.0])
    assert (guard.members["a"].contributions, guard.members["a"].markers) == (0, 0)
