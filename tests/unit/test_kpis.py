"""KPIs (seed 000 §8) from known node records: each figure computed by hand, warnings outside
the bands, and the PNG chart decodes and carries exactly the numbers of the table."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
import pytest

from node.monitoring.kpi_chart import numbers_in, render_png
from node.monitoring.kpis import compute_kpis
from node.origination.store import Application, NodeStore

T0 = 1_767_225_600.0
HOUR = 3600.0
DAY = 86_400.0


def add(store: NodeStore, n: int, path: list[tuple[str, float]], *, uscc: str, limit: int = 0, drawn: int = 0) -> None:
    app = Application(
        application_id=f"app_{n}", application_ref=f"r{n}", state="submitted", product_code="xiaowei_puhui",
        applicant_kind="individual_business", applicant_name=f"shop {n}", identifiers={"uscc": uscc},
        industry="catering", locality="shanghai-pudong", amount_fen=limit, term_months=12,
        repayment_method="equal_instalments", consent_ref="c", final_limit_fen=limit, drawn_fen=drawn,
    )  # fmt: skip
    store.create_application(app, "customer", T0 + n * DAY)
    for state, hours in path:
        store.save(app, T0 + n * DAY + hours * HOUR, to_state=state, actor="system", reason="test")
    if drawn:
        with store.transaction() as db:
            loan = {"loan_id": f"loan_{n}", "application_id": app.application_id, "principal_fen": drawn,
                    "state": "active", "schedule": [], "disbursed_at": T0 + n * DAY + 10 * HOUR}  # fmt: skip
            store.put_record_in(db, "loan", f"loan_{n}", app.application_id, loan)


@pytest.fixture
def store(tmp_path: Path) -> NodeStore:
    s = NodeStore(str(tmp_path / "node.db"))
    funded = [("due_diligence", 2), ("approved", 26), ("signed", 28), ("funded", 30)]
    add(s, 1, funded, uscc="U1", limit=200_000_00, drawn=150_000_00)  # 2 h submitted, 24 h due diligence
    add(s, 2, [("approved", 1), ("signed", 3), ("funded", 5)], uscc="U2", limit=100_000_00, drawn=90_000_00)
    add(s, 3, [("declined", 1)], uscc="U3")
    add(s, 4, [("declined", 1)], uscc="U4")
    add(s, 5, [("referred", 1), ("declined", 5)], uscc="U5")
    add(s, 6, [("declined", 1)], uscc="U6")
    add(s, 7, [("declined", 1)], uscc="U7")
    add(s, 8, [("approved", 1), ("signed", 3), ("funded", 5)], uscc="U1", limit=100_000_00, drawn=100_000_00)
    add(s, 9, [("due_diligence", 1)], uscc="U9")  # undecided: not in the approval rate
    return s


def test_kpis_from_known_records(store: NodeStore) -> None:
    k = compute_kpis(store)
    assert (k.loans, k.average_ticket_yuan) == (3, pytest.approx((150_000 + 90_000 + 100_000) / 3, abs=0.01))
    assert (k.decided, k.approval_rate) == (8, 0.375)  # 3 of 8: above 35 %
    assert k.fund_utilisation == pytest.approx(round(340_000 / 400_000, 4))  # 85 %: inside the band
    assert (k.borrowers, k.repeat_borrowing_rate_6m) == (2, 0.5)  # U1 borrowed again within a week
    with store.transaction() as db:  # U2 draws its one facility a second time: its use, not 复贷
        loan = {**store.get_record("loan", "loan_2"), "loan_id": "loan_2b", "disbursed_at": T0 + 20 * DAY}
        store.put_record_in(db, "loan", "loan_2b", "app_2", loan)
    again = compute_kpis(store)
    assert (again.loans, again.borrowers, again.repeat_borrowing_rate_6m) == (4, 2, 0.5)
    stages = {s.stage: (s.average_hours, s.applications) for s in k.stages}
    assert stages["due_diligence"] == (24.0, 1) and stages["signed"] == (2.0, 3)
    assert stages["submitted"][1] == 9  # every application moved on from submitted
    assert k.warnings == ("APPROVAL_RATE_HIGH",)


def test_the_chart_decodes_and_its_numbers_are_the_tables(store: NodeStore) -> None:
    k = compute_kpis(store)
    png = render_png(k)
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[0] > 100 and image.shape[1] > 100
    table = dict((name, value) for name, value in k.table() if name != "warning")
    drawn = numbers_in(png)
    for name in ("approval_rate", "fund_utilisation", "repeat_borrowing_rate_6m", "average_ticket_yuan"):
        assert float(table[name]) == pytest.approx(drawn[name], abs=1e-4), name
        assert drawn[name] == getattr(k, name)
    assert {f"stage_hours.{s}": pytest.approx(h, abs=0.01) for s, h in drawn["stage_hours"].items()} == {
        name: float(value) for name, value in table.items() if name.startswith("stage_hours.")
    }


def test_an_empty_node_has_zero_kpis_and_no_warnings(tmp_path: Path) -> None:
    k = compute_kpis(NodeStore(str(tmp_path / "empty.db")))
    assert (k.loans, k.approval_rate, k.warnings) == (0, 0.0, ())
    assert numbers_in(render_png(k))["stage_hours"] == {}
