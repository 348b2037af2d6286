"""Stage 3 (drawdowns, reviews, loans) and repayments on a real node SQLite file, with a hub
that only records the watches asked of it (or refuses them), at manual time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from clients.errors import LianfangRpcError
from node.monitoring.actions import PostLoanActions
from node.monitoring.disposition import Dispositions
from node.monitoring.records import PostLoanRecords
from node.origination.disbursement import Disbursement
from node.origination.due_diligence import load_field_team
from node.origination.products import load_products
from node.origination.stage1_policy import Stage1Policy
from node.origination.store import Application, NodeStore
from node.outbox import Outbox
from runtime.clock import ManualClock

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WAN = 10_000 * 100


class WatchHub:
    """Records RegisterWatch / UnregisterWatch by application; ``down`` refuses both."""

    def __init__(self) -> None:
        self.watched: set[str] = set()
        self.unregistered: list[str] = []
        self.down = False

    def _refuse(self) -> None:
        if self.down:
            raise LianfangRpcError(grpc.StatusCode.UNAVAILABLE, "hub down")

    async def register_watch(self, application_ref: str, **_: Any) -> list[int]:
        self._refuse()
        self.watched.add(application_ref)
        return []

    async def unregister_watch(self, application_ref: str, **_: Any) -> bool:
        self._refuse()
        self.unregistered.append(application_ref)
        was = application_ref in self.watched
        self.watched.discard(application_ref)
        return was


class Stage3(Disbursement):
    """The fields of the origination engine that stage 3 and repayments use, and nothing else."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = NodeStore(str(tmp_path / "node.db"))
        self.products = load_products()
        self.hub = WatchHub()  # type: ignore[assignment]
        self.clock = ManualClock(START)
        self.outbox = Outbox(self.store)
        self.policy = Stage1Policy()
        records = PostLoanRecords(self.store)
        self.actions = PostLoanActions(self.store, records, load_field_team())
        self.dispositions = Dispositions(self, self.actions)  # type: ignore[arg-type]

    def signed_application(self, application_id: str = "app_1", limit_fen: int = 100 * WAN) -> Application:
        """A signed 小微普惠贷 application of ``limit_fen`` (30万 and above: entrusted and reviewed)."""
        app = Application(
            application_id=application_id, application_ref=f"ref-{application_id}", state="submitted",
            product_code="xiaowei_puhui", applicant_kind="individual_business", applicant_name="老王家常菜",
            identifiers={"uscc": "92310115MA1FL3Q869"}, industry="catering", locality="shanghai-pudong",
            amount_fen=limit_fen, term_months=12, repayment_method="equal_instalments", consent_ref="c",
            final_limit_fen=limit_fen, final_rate=0.045,
        )  # fmt: skip
        self.store.create_application(app, "customer", START)
        for state in ("approved", "signed"):
            self.store.save(app, START, to_state=state, actor="system", reason="test")
        return app

    def outbox_keys(self) -> list[str]:
        return [key for (key,) in self.store.query("SELECT idempotency_key FROM outbox ORDER BY id")]
