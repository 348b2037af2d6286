"""The post-loan credit bureau pull (seed 002 stage 4: 若发现客户在他行新增大额贷款, 触发共债风险预警)
on a real node SQLite file, at injected times: due every 30 days from the first drawdown; new
loans elsewhere since the application that reach half the limit → one red co-debt alert and a
risk-check task; the lender's own loans and older ones ignored; a failed pull asked again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from node.monitoring.batch import BUREAU_PULL, BureauRecheck, MonitoringBatch
from node.monitoring.bureau import BureauFeed, CreditLine, PinnedLine, SimulatedBureauFeed, load_bureau_lines
from node.sources.base import SourceError, SourceRequest
from node.sources.overrides import ScenarioError
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG
from node.sources.simulators import SEED_PERSONAS_FILE
from runtime.errors import NotFound
from tests.unit.test_post_loan_batch import START, USCC, setup

DAY = 86_400.0
WAN = 10_000 * 100  # the facility's limit is 18万: half is 9万


class BureauReport(BureauFeed):
    """A bureau gateway answering a fixed report (or failing), counting the pulls."""

    def __init__(self, lines: Sequence[CreditLine] = (), fail: Exception | None = None) -> None:
        self.lines, self.fail = list(lines), fail
        self.pulls: list[tuple[SourceRequest, float]] = []

    async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
        self.pulls.append((request, now))
        if self.fail is not None:
            raise self.fail
        return [x for x in self.lines if x.opened_at <= now]


def with_bureau(tmp_path: Path, feed: BureauFeed, **settings: float) -> MonitoringBatch:
    batch = setup(tmp_path, {})
    batch.bureau = BureauRecheck(feed, **settings)  # type: ignore[arg-type]
    return batch


async def test_a_large_new_loan_elsewhere_raises_one_red_alert_and_a_task(tmp_path: Path) -> None:
    feed = BureauReport([CreditLine("acct-889", START + 40 * DAY, 10 * WAN)])
    batch = with_bureau(tmp_path, feed)
    assert (await batch.run(START + 29 * DAY)).bureau_reports == 0  # the first pull: 30 days after drawdown
    first = await batch.run(START + 31 * DAY)
    assert first.bureau_reports == 1 and first.alerts == []  # not taken yet
    (request, _) = feed.pulls[0]
    assert request.applicant_key == USCC and request.applicant_kind == "individual_business"
    assert (await batch.run(START + 45 * DAY)).bureau_reports == 0  # pulled 14 days ago: not due
    second = await batch.run(START + 61 * DAY)
    (alert,) = second.alerts
    assert (alert.rule, alert.level, alert.loan_id) == ("bureau_co_debt", "red", "loan_1")
    assert "1 new loan(s)" in alert.detail and "100000 yuan" in alert.detail and "acct-889" not in alert.alert_id
    (task,) = batch.store.tasks("xiao-li")
    assert task.kind == "risk_check" and task.task_id == alert.task_id
    assert not second.frozen and not batch.store.get_application("app_1").limit_frozen  # the manager decides
    third = await batch.run(START + 92 * DAY)
    assert third.bureau_reports == 1 and third.alerts == []  # the same loan: alerted once


async def test_small_loans_alert_once_they_add_up_to_half_the_limit(tmp_path: Path) -> None:
    lines = [
        CreditLine("own", START + 5 * DAY, 50 * WAN, own=True),  # this lender's own loan on the report
        CreditLine("old", START - 1, 50 * WAN),  # there at the pre-screen: priced in
        CreditLine("a", START + 10 * DAY, 5 * WAN),  # between screening and the first pull: counts
        CreditLine("b", START + 50 * DAY, 3 * WAN),
        CreditLine("c", START + 70 * DAY, 2 * WAN),
        CreditLine("d", START + 100 * DAY, 1 * WAN),
    ]
    batch = with_bureau(tmp_path, BureauReport(lines))
    assert (await batch.run(START + 31 * DAY)).alerts == []  # 5万 < 9万
    assert (await batch.run(START + 61 * DAY)).alerts == []  # 8万
    (alert,) = (await batch.run(START + 91 * DAY)).alerts  # 10万
    assert "3 new loan(s) at other lenders since the application, 100000 yuan (largest 50000 yuan)" in alert.detail
    (again,) = (await batch.run(START + 121 * DAY)).alerts  # one more loan past the threshold: news again
    assert "1 new loan(s) at other lenders since the last alert, 10000 yuan" in again.detail
    assert "4 since the application, 110000 yuan in all" in again.detail
    assert again.task_id == alert.task_id  # the same open task, which says both
    (task,) = batch.store.tasks("xiao-li")
    assert alert.detail in task.reason and again.detail in task.reason


async def test_a_loan_the_bureau_reports_late_is_alerted_when_it_appears(tmp_path: Path) -> None:
    """Bureaus report a month or more late: a loan opened before one already alerted, seen only
    now, is news (the alerts name lines, not the newest date)."""
    feed = BureauReport([CreditLine("day-40", START + 40 * DAY, 20 * WAN)])
    batch = with_bureau(tmp_path, feed)
    assert [a.rule for a in (await batch.run(START + 61 * DAY)).alerts] == ["bureau_co_debt"]
    feed.lines.append(CreditLine("day-35", START + 35 * DAY, 20 * WAN))  # on the next report only
    (late,) = (await batch.run(START + 91 * DAY)).alerts
    assert "1 new loan(s) at other lenders since the last alert, 200000 yuan" in late.detail
    assert (await batch.run(START + 121 * DAY)).alerts == []  # both named: nothing new


async def test_a_batch_started_a_little_earlier_next_month_still_pulls(tmp_path: Path) -> None:
    feed = BureauReport()
    batch = with_bureau(tmp_path, feed)
    assert (await batch.run(START + 31 * DAY + 100)).bureau_reports == 1
    assert (await batch.run(START + 61 * DAY + 50)).bureau_reports == 1  # 50 s short of 30 days: still due
    assert (await batch.run(START + 75 * DAY)).bureau_reports == 0


@pytest.mark.parametrize(("share", "alerted"), [(0.5, False), (0.25, True)])
async def test_the_share_of_the_limit_is_a_setting(tmp_path: Path, share: float, alerted: bool) -> None:
    batch = with_bureau(tmp_path, BureauReport([CreditLine("a", START + DAY, 5 * WAN)]), large_share=share)
    assert bool((await batch.run(START + 31 * DAY)).alerts) is alerted


async def test_a_failed_pull_is_logged_without_identifiers_and_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = BureauReport([CreditLine("a", START + DAY, 10 * WAN)], fail=SourceError("PROVIDER_UNAVAILABLE", USCC))
    batch = with_bureau(tmp_path, feed)
    with caplog.at_level(logging.WARNING):
        failed = await batch.run(START + 31 * DAY)
    assert failed.bureau_failed == ["app_1"] and failed.bureau_reports == 0 and failed.alerts == []
    (record,) = [r for r in caplog.records if "bureau" in r.getMessage()]
    assert record.fields["error"] == "PROVIDER_UNAVAILABLE"  # type: ignore[attr-defined]
    assert USCC not in caplog.text
    with pytest.raises(NotFound):  # no pull recorded: due again
        batch.store.get_record(BUREAU_PULL, "app_1")
    feed.fail = None
    again = await batch.run(START + 31 * DAY + 3600)
    assert again.bureau_reports == 1 and [a.rule for a in again.alerts] == ["bureau_co_debt"]


async def test_a_bureau_slower_than_its_deadline_fails_the_pull_not_the_batch(tmp_path: Path) -> None:
    class Hanging(BureauReport):
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
            await asyncio.sleep(30)
            return []

    batch = with_bureau(tmp_path, Hanging(), deadline_seconds=0.05)
    result = await batch.run(START + 31 * DAY)
    assert result.bureau_failed == ["app_1"] and result.loans_checked == 1


async def test_only_facilities_with_an_active_loan_are_pulled(tmp_path: Path) -> None:
    feed = BureauReport([CreditLine("a", START + DAY, 10 * WAN)])
    batch = with_bureau(tmp_path, feed)
    loan = batch.store.get_record("loan", "loan_1")
    with batch.store.transaction() as db:  # repaid: no loan is active
        batch.store.put_record_in(db, "loan", "loan_1", "app_1", {**loan, "state": "repaid"})
    assert (await batch.run(START + 31 * DAY)).bureau_reports == 0 and feed.pulls == []
    second = {**loan, "loan_id": "loan_2", "disbursed_at": START + 20 * DAY}
    with batch.store.transaction() as db:  # a second drawdown: months still count from the first
        batch.store.put_record_in(db, "loan", "loan_2", "app_1", second)
    result = await batch.run(START + 32 * DAY)
    assert result.bureau_reports == 1 and [a.loan_id for a in result.alerts] == ["loan_2"]


async def test_a_loan_defaulted_by_the_same_run_is_not_pulled(tmp_path: Path) -> None:
    feed = BureauReport([CreditLine("a", START + DAY, 10 * WAN)])
    batch = setup(tmp_path, {}, instalment_due=START + DAY)
    loan = batch.store.get_record("loan", "loan_1")
    with batch.store.transaction() as db:  # a loan with a ledger, never paid
        batch.store.put_record_in(db, "loan", "loan_1", "app_1", {**loan, "paid_fen": 0})
    batch.bureau = BureauRecheck(feed)
    result = await batch.run(START + 100 * DAY)  # over 90 days past due: in collection now
    assert result.defaulted == ["loan_1"] and result.bureau_reports == 0 and feed.pulls == []


async def test_no_bureau_no_pulls(tmp_path: Path) -> None:
    batch = setup(tmp_path, {})  # bureau_recheck_days = 0: the node builds no recheck
    assert (await batch.run(START + 31 * DAY)).bureau_reports == 0


async def test_the_simulated_bureau_is_deterministic_and_dates_its_loans_within_the_report() -> None:
    feed = SimulatedBureauFeed()
    for persona in (LAO_WANG, JINGCHENG_PARTS):
        now = START + 720 * DAY
        lines = await feed.credit_lines(persona.request(), START, now)
        assert lines == await SimulatedBureauFeed().credit_lines(persona.request(), START, now)
        assert all(START <= x.opened_at <= now and 3 * WAN <= x.amount_fen <= 30 * WAN for x in lines)
        assert not any(x.own for x in lines)
    # across many applicants over two years: some take new loans, most do not
    taken = 0
    for i in range(400):
        request = SourceRequest(application_ref="r", applicant_kind="person", name="x", resident_id=f"1101{i:014d}")
        taken += bool(await feed.credit_lines(request, START, START + 720 * DAY))
    assert 0.05 < taken / 400 < 0.9


async def test_a_scenario_pins_the_whole_post_loan_report() -> None:
    pinned = load_bureau_lines(SEED_PERSONAS_FILE)
    assert pinned[JINGCHENG_PARTS.uscc] == [PinnedLine(75.0, 30 * WAN)]
    feed = SimulatedBureauFeed(pinned)
    request = JINGCHENG_PARTS.request()
    assert await feed.credit_lines(request, START, START + 74 * DAY) == []
    (line,) = await feed.credit_lines(request, START, START + 76 * DAY)
    assert (line.opened_at, line.amount_fen, line.own) == (START + 75 * DAY, 30 * WAN, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bureau_new_loans = 3", "must be a list"),
        ("bureau_new_loans = [3]", "bureau_new_loans[0] must be a table"),
        ("bureau_new_loans = [{ day = -1, amount_yuan = 1 }]", "day must be"),
        ("bureau_new_loans = [{ day = 1, amount_yuan = 0 }]", "amount_yuan must be a positive"),
        ("bureau_new_loans = [{ day = 1, amount_yuan = true }]", "amount_yuan must be a positive"),
        ("bureau_new_loans = [{ day = 1, amount_yuan = 1, own = 1 }]", "own must be true or false"),
        ("bureau_new_loans = [{ day = 1, amount = 1 }]", "unknown key(s) amount"),
    ],
)
def test_a_malformed_pin_is_refused_by_position(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[applicants."{USCC}".post_loan]\n{text}\n')
    with pytest.raises(ScenarioError) as error:
        load_bureau_lines(bad)
    assert message in str(error.value) and "applicants[0].post_loan" in str(error.value)
    assert USCC not in str(error.value)


def test_a_post_loan_entry_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[applicants."{USCC}"]\npost_loan = 3\n')
    with pytest.raises(ScenarioError, match=r"applicants\[0\]\.post_loan must be a table"):
        load_bureau_lines(bad)


async def test_a_bureau_that_is_down_costs_one_round_of_deadlines_not_one_per_facility(tmp_path: Path) -> None:
    """Pulls run eight at a time; once three timed out in a run the bureau is taken to be down
    and the other facilities wait for the next run (each would have waited out its deadline)."""

    class Hanging(BureauReport):
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
            self.pulls.append((request, now))
            await asyncio.sleep(30)
            return []

    feed = Hanging()
    batch = with_bureau(tmp_path, feed, deadline_seconds=0.2)
    more_facilities(batch, 12)
    result = await batch.run(START + 31 * DAY)
    assert len(feed.pulls) == 8 and len(result.bureau_failed) == 12  # eight asked at once, the rest not
    assert (result.bureau_outages, result.bureau_not_asked) == (8, 4)


async def test_refusals_of_some_applicants_do_not_stop_the_others(tmp_path: Path) -> None:
    """A refusal (an authorisation withdrawn) says nothing of the bureau: the other facilities
    are all pulled (three refusals had cut every run to five pulls)."""

    class Refusing(BureauReport):
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
            self.pulls.append((request, now))
            if request.application_ref in ("app_1", "app_2", "app_3"):
                raise SourceError("AUTHORISATION_WITHDRAWN")
            return []

    feed = Refusing()
    batch = with_bureau(tmp_path, feed)
    more_facilities(batch, 12)
    result = await batch.run(START + 31 * DAY)
    assert (result.bureau_reports, len(result.bureau_failed), result.bureau_not_asked) == (9, 3, 0)


def more_facilities(batch: MonitoringBatch, n: int) -> None:
    """Copies of the setup's facility up to ``n`` in all, each with its loan."""
    import dataclasses

    store = batch.store
    first, loan = store.get_application("app_1"), store.get_record("loan", "loan_1")
    for i in range(2, n + 1):
        app = dataclasses.replace(first, application_id=f"app_{i}", application_ref=f"r{i}", state="submitted")
        store.create_application(app, "customer", START)
        for state in ("approved", "signed", "funded"):
            store.save(app, START, to_state=state, actor="system", reason="test")
        copy = {**loan, "loan_id": f"loan_{i}", "application_id": app.application_id}
        with store.transaction() as db:
            store.put_record_in(db, "loan", f"loan_{i}", app.application_id, copy)


async def test_two_runs_at_once_go_one_after_the_other(tmp_path: Path) -> None:
    """The daily loop and `monitor run` (or a run whose caller stopped waiting) never overlap:
    the second finds the pull done, not due again."""

    class Slow(BureauReport):
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
            await asyncio.sleep(0.05)
            return await super().credit_lines(request, since, now)

    feed = Slow([CreditLine("a", START + DAY, 10 * WAN)])
    batch = with_bureau(tmp_path, feed)
    first, second = await asyncio.gather(batch.run(START + 31 * DAY), batch.run(START + 31 * DAY))
    assert len(feed.pulls) == 1 and first.bureau_reports + second.bureau_reports == 1
    assert len(first.alerts + second.alerts) == 1


async def test_stopping_the_node_cancels_a_run_its_caller_left(tmp_path: Path) -> None:
    """A run started on its own (RunMonitoring shields it from its caller) ends with the node:
    stop cancels it before the store closes, rather than leaving it to fail on a closed one."""

    class Hanging(BureauReport):
        async def credit_lines(self, request: SourceRequest, since: float, now: float) -> Sequence[CreditLine]:
            await asyncio.sleep(30)
            return []

    batch = with_bureau(tmp_path, Hanging(), deadline_seconds=30)
    run = batch.start(START + 31 * DAY)
    await asyncio.sleep(0.05)  # waiting on the bureau
    await batch.stop()
    assert run.cancelled()
    batch.store.close()
