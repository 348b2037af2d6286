"""MonitoringService: the post-loan batch, alerts and their audit trail, dispositions,
repayment and KPIs over gRPC (views in, ``node.monitoring`` calls, views out)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from lianfang.v1 import node_pb2, node_pb2_grpc

from node.monitoring.batch import MonitoringBatch
from node.monitoring.disposition import Dispositions
from node.monitoring.kpi_chart import render_png
from node.monitoring.kpis import compute_kpis
from node.monitoring.records import AlertRow
from node.origination.loan_service import loan_view
from runtime.clock import Clock
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp

log = logging.getLogger("lianfang.node.monitoring")


def alert_view(a: AlertRow) -> node_pb2.PostLoanAlert:
    return node_pb2.PostLoanAlert(
        alert_id=a.alert_id,
        loan_id=a.loan_id,
        application_id=a.application_id,
        rule=a.rule,
        level=a.level,
        detail=a.detail,
        raised_at=to_timestamp(a.raised_at),
        task_id=a.task_id,
    )


def _log_failure(run: asyncio.Future[Any]) -> None:
    """A batch whose caller went away still ends: its failure is logged, not lost."""
    if not run.cancelled() and run.exception() is not None:
        log.error("monitoring batch failed", exc_info=run.exception())


class MonitoringServicer(node_pb2_grpc.MonitoringServiceServicer):
    def __init__(self, batch: MonitoringBatch, dispositions: Dispositions, clock: Clock) -> None:
        self.batch, self.dispositions, self.clock = batch, dispositions, clock
        self.store, self.records = batch.store, batch.records

    async def RunMonitoring(
        self, request: node_pb2.RunMonitoringRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.RunMonitoringResponse:
        # shielded: a caller that gives up (its deadline) does not abandon the batch half done
        run = self.batch.start(self.clock())
        run.add_done_callback(_log_failure)
        result = await asyncio.shield(run)
        return node_pb2.RunMonitoringResponse(
            loans_checked=result.loans_checked,
            alerts=[alert_view(a) for a in result.alerts],
            frozen=result.frozen,
            unfrozen=result.unfrozen,
            defaulted=result.defaulted,
            expired=result.expired,
            reminders_sent=result.reminders,
            bureau_reports=result.bureau_reports,
            bureau_failed=result.bureau_failed,
        )

    async def ListPostLoanAlerts(
        self, request: node_pb2.ListPostLoanAlertsRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListPostLoanAlertsResponse:
        alerts = self.records.alerts(request.application_id)
        subjects = None
        if request.application_id:
            subjects = {request.application_id} | {a.loan_id for a in alerts} | {a.task_id for a in alerts}
        return node_pb2.ListPostLoanAlertsResponse(
            alerts=[alert_view(a) for a in alerts],
            audit=[
                node_pb2.AuditEntry(
                    at=to_timestamp(e.at), actor=e.actor, action=e.action, subject=e.subject, detail=e.detail
                )
                for e in self.records.audit(subjects)
            ],
        )

    async def RecordDisposition(
        self, request: node_pb2.RecordDispositionRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.DispositionView:
        call = current_call()
        done = await self.dispositions.record(request, call.principal, call.role)
        app = self.store.get_application(done.application_id)
        return node_pb2.DispositionView(
            task_id=done.task_id,
            application_id=done.application_id,
            outcome=done.outcome,
            note=done.note,
            unfreeze=done.unfreeze,
            limit_frozen=app.limit_frozen,
            actor=done.actor,
            at=to_timestamp(done.at),
        )

    async def RepayLoan(
        self, request: node_pb2.RepayLoanRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.LoanView:
        loan = await self.dispositions.repay(
            request.loan_id, request.comment, current_call().principal, request.amount_fen, request.payment_id
        )
        return loan_view(loan, self.dispositions.engine.lateness_now())

    async def GetKpis(self, request: node_pb2.GetKpisRequest, context: grpc.aio.ServicerContext) -> node_pb2.KpiReport:
        kpis = compute_kpis(self.store)
        return node_pb2.KpiReport(
            average_ticket_yuan=kpis.average_ticket_yuan,
            loans=kpis.loans,
            approval_rate=kpis.approval_rate,
            decided=kpis.decided,
            fund_utilisation=kpis.fund_utilisation,
            repeat_borrowing_rate_6m=kpis.repeat_borrowing_rate_6m,
            borrowers=kpis.borrowers,
            stages=[
                node_pb2.StageTime(stage=s.stage, average_hours=s.average_hours, applications=s.applications)
                for s in kpis.stages
            ],
            warnings=kpis.warnings,
            chart_png=render_png(kpis) if request.chart else b"",
        )
