"""Data sources of the pre-screen: parallel runner, degraded outcomes, deterministic simulators."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import pytest
from stdnum.cn import uscc

from node.identity.normalise import normalise_phone, normalise_resident_id, normalise_uscc
from node.rules.features import CATALOGUE, fits
from node.sources import (
    SEED_PERSONAS_FILE,
    SOURCE_NAMES,
    DataSource,
    FeatureValue,
    SimulatorSettings,
    SourceError,
    SourceOutcome,
    SourceRequest,
    default_sources,
    run_sources,
    run_stage1,
)
from node.sources.overrides import ScenarioError, load_scenarios, parse_scenarios
from node.sources.personas import JINGCHENG_PARTS, LAO_WANG, PERSONAS, SHENDU_VISION
from node.sources.simulation import Simulator
from node.sources.simulators import (
    AntiFraudSimulator,
    CreditBureauSimulator,
    IdentityVerificationSimulator,
    JudicialSimulator,
    RegistrySimulator,
    SettlementFlowSimulator,
    TaxSimulator,
)

FAST = SimulatorSettings(latency_ms=0, jitter_ms=0)


def company(i: int, industry: str = "software") -> SourceRequest:
    body = f"91310000MA{i:07d}"
    return SourceRequest("app-1", "company", f"公司{i}", uscc=body + uscc.calc_check_digit(body), industry=industry)


def fast_sources(scenario_file: str | None = None) -> list[DataSource]:
    return default_sources(dict.fromkeys(SOURCE_NAMES, FAST), scenario_file)


def by_name(outcomes: list[SourceOutcome]) -> dict[str, SourceOutcome]:
    return {o.name: o for o in outcomes}


def merged(outcomes: list[SourceOutcome]) -> dict[str, FeatureValue]:
    features: dict[str, FeatureValue] = {}
    for outcome in outcomes:
        features.update(outcome.features)
    return features


async def run(sources: list[DataSource], request: SourceRequest, **deadlines: float) -> list[SourceOutcome]:
    return await run_sources(sources, request, deadlines=deadlines, default_deadline=2.0)


class Broken(DataSource):
    """A provider client with a bug: its exception message carries the applicant's identifier."""

    name = "broken"

    async def fetch(self, request: SourceRequest) -> Mapping[str, FeatureValue]:
        raise RuntimeError(f"cannot parse answer for {request.legal_rep_resident_id}")


class Garbage(DataSource):
    name = "garbage"

    async def fetch(self, request: SourceRequest) -> Mapping[str, FeatureValue]:
        return {"garbage_value": float("nan")}


class Mistyped(DataSource):
    """A provider handing a catalogued count over as text: every rule reading it would fail."""

    name = "bureau"

    async def fetch(self, request: SourceRequest) -> Mapping[str, FeatureValue]:
        return {"bureau_overdue_count": "3", "bureau_queries_3m": 1}


# --- simulators --------------------------------------------------------------------------------


async def test_simulated_features_are_deterministic_per_applicant() -> None:
    first = merged(await run(fast_sources(), company(1)))
    again = merged(await run(fast_sources(), company(1)))  # fresh simulator instances
    other = merged(await run(fast_sources(), company(2)))
    assert first == again
    assert first != other
    assert {"tax_annual", "flow_monthly_avg", "bureau_overdue_count", "auth_face_match"} <= first.keys()


async def test_seed_shifts_the_population() -> None:
    seeded = default_sources(dict.fromkeys(SOURCE_NAMES, SimulatorSettings(latency_ms=0, jitter_ms=0, seed=7)))
    assert merged(await run(seeded, company(1))) != merged(await run(fast_sources(), company(1)))


async def test_every_simulator_prefixes_and_types_its_features() -> None:
    expected: dict[type[Simulator], set[str]] = {
        RegistrySimulator: {"registry_status", "registry_abnormal", "registry_years", "registry_staff"},
        TaxSimulator: {"tax_annual", "tax_revenue_estimate", "tax_grade"},
        SettlementFlowSimulator: {"flow_monthly_avg", "flow_volatility", "flow_avg_daily_balance", "flow_drop_3m"},
        CreditBureauSimulator: {"bureau_overdue_count", "bureau_queries_3m", "enterprise_debt"},
        JudicialSimulator: {"judicial_lawsuits", "judicial_dishonest"},
        AntiFraudSimulator: {"fraud_phone_tenure_months", "address_stability_years", "fraud_device_risk"},
        IdentityVerificationSimulator: {"auth_face_match", "auth_licence_valid"},
    }
    for cls, names in expected.items():
        assert cls.__name__.endswith("Simulator") and "Simulates" in (cls.__doc__ or "")
        features = await cls(FAST).fetch(company(3))
        assert names <= features.keys(), cls.__name__
        assert all(isinstance(v, bool | int | float | str) for v in features.values())


async def test_sources_describe_one_consistent_applicant() -> None:
    for i in range(50):
        features = merged(await run(fast_sources(), company(i, "catering")))
        yearly_flows = 12 * float(features["flow_monthly_avg"])
        assert 0.6 < yearly_flows / float(features["tax_revenue_estimate"]) < 1.6
        assert 0 <= float(features["fraud_device_risk"]) <= 1


async def test_person_gets_no_business_features() -> None:
    person = SourceRequest("app-1", "person", "王建国", resident_id=LAO_WANG.legal_rep_resident_id)
    outcomes = by_name(await run(fast_sources(), person))
    assert all(o.ok for o in outcomes.values())
    assert outcomes["registry"].features == {} and outcomes["tax"].features == {}
    assert "auth_licence_valid" not in outcomes["identity"].features
    assert "enterprise_debt" not in outcomes["bureau"].features
    assert "bureau_overdue_count" in outcomes["bureau"].features


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="applicant_kind"):
        SourceRequest("app-1", "partnership", "x", uscc="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uscc"):
        SourceRequest("app-1", "company", "x")
    assert LAO_WANG.request().applicant_key == LAO_WANG.uscc
    assert LAO_WANG.request().person_id == LAO_WANG.legal_rep_resident_id


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        SimulatorSettings(timeout_rate=0.7, failure_rate=0.5)
    with pytest.raises(ValueError):
        SimulatorSettings(latency_ms=-1)
    with pytest.raises(ValueError, match="unknown sources: taxes"):
        default_sources({"taxes": FAST})


# --- personas and scenarios -------------------------------------------------------------------


def test_personas_have_valid_identifiers() -> None:
    for p in PERSONAS:
        assert normalise_uscc(p.uscc) == p.uscc
        assert normalise_resident_id(p.legal_rep_resident_id) == p.legal_rep_resident_id
        assert normalise_phone(p.phone) == p.phone
    assert [p.industry for p in PERSONAS] == ["catering", "software", "manufacturing"]
    assert LAO_WANG.applicant_kind == "individual_business" and LAO_WANG.uscc.startswith("92")


def test_scenario_file_covers_every_persona_and_source() -> None:
    scenarios = load_scenarios(SEED_PERSONAS_FILE, SOURCE_NAMES)
    assert set(scenarios) == {p.uscc for p in PERSONAS}
    assert all(set(entries) == set(SOURCE_NAMES) for entries in scenarios.values())


async def test_scenario_pins_the_seed_story() -> None:
    wang = merged(await run(fast_sources(SEED_PERSONAS_FILE), LAO_WANG.request()))
    assert wang["registry_status"] == "normal" and wang["registry_abnormal"] is False
    assert wang["registry_years"] == 5.0
    assert (wang["tax_annual"], wang["tax_revenue_estimate"]) == (30000, 1500000)
    assert (wang["flow_monthly_avg"], wang["flow_avg_daily_balance"], wang["flow_months"]) == (120000, 15000, 12)
    assert wang["flow_volatility"] == 0.15
    assert (wang["bureau_overdue_count"], wang["bureau_queries_3m"], wang["enterprise_debt"]) == (0, 2, 0)
    assert (wang["judicial_lawsuits"], wang["judicial_dishonest"]) == (0, False)
    assert (wang["fraud_phone_tenure_months"], wang["address_stability_years"], wang["fraud_device_risk"]) == (
        60,
        5.0,
        0.1,
    )
    assert wang["auth_face_match"] is True and wang["auth_licence_valid"] is True
    shendu = merged(await run(fast_sources(SEED_PERSONAS_FILE), SHENDU_VISION.request()))
    assert (shendu["registry_staff"], shendu["registry_years"], shendu["flow_monthly_avg"]) == (20, 3.0, 330000)
    assert (shendu["tax_annual"], shendu["tax_revenue_estimate"]) == (120000, 4000000)
    jingcheng = merged(await run(fast_sources(SEED_PERSONAS_FILE), JINGCHENG_PARTS.request()))
    assert (jingcheng["registry_years"], jingcheng["tax_annual"], jingcheng["flow_monthly_avg"]) == (8.0, 90000, 250000)


async def test_partial_override_keeps_other_features_and_can_force_outcomes() -> None:
    applicant = company(5)
    scenarios = parse_scenarios(
        {
            "applicants": {
                applicant.uscc.lower(): {  # keys are matched case-insensitively
                    "label": "demo",
                    "tax": {"tax_annual": 1},
                    "judicial": {"outcome": "error"},
                    "flow": {"outcome": "timeout"},
                }
            }
        },
        SOURCE_NAMES,
    )
    plain = merged(await run(fast_sources(), applicant))
    sources: list[DataSource] = [TaxSimulator(FAST, scenarios), JudicialSimulator(FAST, scenarios)]
    sources.append(SettlementFlowSimulator(SimulatorSettings(latency_ms=0, hang_ms=5_000), scenarios))
    outcomes = by_name(await run(sources, applicant, flow=0.05))
    assert outcomes["tax"].features["tax_annual"] == 1
    assert outcomes["tax"].features["tax_revenue_estimate"] == plain["tax_revenue_estimate"]
    assert outcomes["judicial"].reason_code == "SOURCE_ERROR_JUDICIAL"
    assert outcomes["flow"].reason_code == "SOURCE_TIMEOUT_FLOW"


def test_scenario_errors_never_echo_the_applicant_key() -> None:
    key = LAO_WANG.uscc
    bad_tables: list[dict[str, object]] = [
        {key: {"taxes": {}}},
        {key: {"tax": {"outcome": "maybe"}}},
        {key: {"tax": {"tax_annual": [1]}}},
    ]
    for bad in bad_tables:
        with pytest.raises(ScenarioError) as caught:
            parse_scenarios({"applicants": bad}, SOURCE_NAMES)
        assert key not in str(caught.value)


# --- runner -------------------------------------------------------------------------------------


async def test_sources_run_in_parallel() -> None:
    slow = SimulatorSettings(latency_ms=200, jitter_ms=0)
    sources = default_sources(dict.fromkeys(SOURCE_NAMES[:6], slow))[:6]
    start = time.perf_counter()
    outcomes = await run(sources, company(1))
    elapsed = time.perf_counter() - start
    assert all(o.ok for o in outcomes)
    assert 0.19 < elapsed < 0.45  # six sources at 200 ms each: the slowest, not the sum (1.2 s)
    assert all(190 < o.elapsed_ms < 450 for o in outcomes)


async def test_late_source_times_out_with_its_reason_others_ok() -> None:
    settings = dict.fromkeys(SOURCE_NAMES, FAST) | {"tax": SimulatorSettings(latency_ms=300, jitter_ms=0)}
    start = time.perf_counter()
    outcomes = by_name(await run(default_sources(settings), company(1), tax=0.05))
    assert time.perf_counter() - start < 0.25  # the deadline cut the slow provider short
    assert outcomes["tax"].status == "timeout" and outcomes["tax"].reason_code == "SOURCE_TIMEOUT_TAX"
    assert outcomes["tax"].features == {}
    assert all(o.ok for name, o in outcomes.items() if name != "tax")


async def test_failing_source_yields_error() -> None:
    settings = dict.fromkeys(SOURCE_NAMES, FAST) | {"flow": SimulatorSettings(latency_ms=0, failure_rate=1.0)}
    outcomes = by_name(await run(default_sources(settings), company(1)))
    assert (outcomes["flow"].status, outcomes["flow"].reason_code) == ("error", "SOURCE_ERROR_FLOW")
    assert outcomes["flow"].detail == "PROVIDER_UNAVAILABLE"
    assert sum(o.ok for o in outcomes.values()) == len(SOURCE_NAMES) - 1


async def test_unexpected_exception_is_contained_and_logged_without_identifiers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = LAO_WANG.request()
    with caplog.at_level(logging.WARNING, logger="lianfang.node.sources"):
        outcomes = by_name(await run([Broken(), Garbage(), TaxSimulator(FAST)], request))
    assert (outcomes["broken"].status, outcomes["broken"].detail) == ("error", "RuntimeError")
    assert outcomes["broken"].reason_code == "SOURCE_ERROR_BROKEN"
    assert (outcomes["garbage"].status, outcomes["garbage"].detail) == ("error", "INVALID_FEATURES")
    assert outcomes["tax"].ok
    logged = [(r.getMessage(), str(getattr(r, "fields", ""))) for r in caplog.records]
    assert any("broken" in fields for _, fields in logged)
    assert not any(LAO_WANG.legal_rep_resident_id in msg + fields for msg, fields in logged)


async def test_source_error_from_a_real_provider_keeps_its_code() -> None:
    class Refusing(DataSource):
        name = "bureau"

        async def fetch(self, request: SourceRequest) -> Mapping[str, FeatureValue]:
            raise SourceError("CONSENT_MISSING")

    [outcome] = await run([Refusing()], company(1))
    assert (outcome.status, outcome.reason_code, outcome.detail) == ("error", "SOURCE_ERROR_BUREAU", "CONSENT_MISSING")


async def test_bad_configuration_raises() -> None:
    with pytest.raises(ValueError, match="unknown sources: taxx"):
        await run(fast_sources(), company(1), taxx=1.0)
    with pytest.raises(ValueError, match="unique"):
        await run([TaxSimulator(FAST), TaxSimulator(FAST)], company(1))


async def test_cancelling_the_run_cancels_the_sources() -> None:
    hanging = TaxSimulator(SimulatorSettings(timeout_rate=1.0, hang_ms=10_000))
    task = asyncio.create_task(run([hanging], company(1), tax=10.0))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_injected_fault_rates_hold_and_are_stable() -> None:
    settings = SimulatorSettings(latency_ms=0, jitter_ms=0, timeout_rate=0.1, failure_rate=0.1, hang_ms=0)
    tax = TaxSimulator(settings)
    applicants = [company(i) for i in range(1000)]
    statuses = [(await run([tax], a))[0].status for a in applicants]
    assert 60 <= statuses.count("timeout") <= 140
    assert 60 <= statuses.count("error") <= 140
    again = TaxSimulator(settings)
    assert [tax.fault(a.applicant_key) for a in applicants] == [again.fault(a.applicant_key) for a in applicants]
    flow = SettlementFlowSimulator(settings)  # faults are drawn per source, not shared
    keys = [a.applicant_key for a in applicants[:100]]
    assert [flow.fault(k) for k in keys] != [tax.fault(k) for k in keys]


# --- stage 1 with the hub Check alongside -------------------------------------------------------


async def test_stage1_runs_the_hub_check_concurrently() -> None:
    async def hub_check() -> str:
        await asyncio.sleep(0.2)
        return "clear"

    sources = default_sources(dict.fromkeys(SOURCE_NAMES, SimulatorSettings(latency_ms=200, jitter_ms=0)))
    start = time.perf_counter()
    result = await run_stage1(sources, company(1), hub_check(), deadlines={}, default_deadline=1.0)
    assert time.perf_counter() - start < 0.45
    assert result.extra == "clear" and result.extra_error is None
    assert result.degraded_reasons() == []
    assert "tax_annual" in result.features()


async def test_stage1_hub_failure_is_reported_not_raised() -> None:
    async def hub_down() -> str:
        raise ConnectionError("hub unreachable")

    async def hub_slow() -> str:
        await asyncio.sleep(5)
        return "late"

    failed = await run_stage1(fast_sources(), company(1), hub_down(), deadlines={}, default_deadline=1.0)
    assert failed.extra is None and isinstance(failed.extra_error, ConnectionError)
    assert all(o.ok for o in failed.outcomes)
    late = await run_stage1(
        [TaxSimulator(FAST)], company(1), hub_slow(), deadlines={}, default_deadline=1.0, extra_deadline=0.05
    )
    assert isinstance(late.extra_error, TimeoutError) and late.outcomes[0].ok


async def test_a_value_of_the_wrong_type_for_its_feature_fails_the_source() -> None:
    """``"3"`` for a count (or a bool for a number, a number for a bool) is refused where it
    arrives, as a failed source (the application refers), not at rule evaluation as an error."""
    [outcome] = await run([Mistyped()], LAO_WANG.request())
    assert (outcome.status, outcome.detail, outcome.features) == ("error", "INVALID_FEATURES", {})
    assert fits(CATALOGUE["registry_abnormal"], False) and not fits(CATALOGUE["registry_abnormal"], 0)
    assert fits(CATALOGUE["tax_annual"], 3) and fits(CATALOGUE["tax_annual"], 3.5)
    assert not fits(CATALOGUE["tax_annual"], True) and not fits(CATALOGUE["bureau_overdue_count"], 3.5)
    assert fits(CATALOGUE["bureau_overdue_count"], 3.0)  # a JSON provider's whole number
