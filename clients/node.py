"""Typed client of a member node: OriginationService.Screen and the LoanService pipeline.

Calls carry a JWT of the lender's identity provider whose ``role`` claim the node enforces;
``as_role`` gives a client for another role on the same channel.
"""

from __future__ import annotations

import uuid

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import audit_pb2, common_pb2, consortium_pb2, node_pb2, node_pb2_grpc

from clients.credentials import JwtSigner
from clients.rpc import Metadata, RpcClient

NODE_AUDIENCE = "lianfang-node"


def staff_signer(identity_key: Ed25519PrivateKey, subject: str, role: str, *, lifetime_seconds: int = 600) -> JwtSigner:
    """A signer for one person in one role, as the lender's identity provider would issue."""
    return JwtSigner(
        subject, identity_key, audience=NODE_AUDIENCE, claims={"role": role}, lifetime_seconds=lifetime_seconds
    )


class NodeClient(RpcClient):
    def __init__(
        self, channel: grpc.aio.Channel, signer: JwtSigner | None = None, *, default_timeout: float = 5.0
    ) -> None:
        super().__init__(channel, signer, default_timeout=default_timeout)
        self._screen = node_pb2_grpc.OriginationServiceStub(channel)
        self._loans = node_pb2_grpc.LoanServiceStub(channel)
        self._monitoring = node_pb2_grpc.MonitoringServiceStub(channel)
        self._outbox = node_pb2_grpc.OutboxServiceStub(channel)
        self._markers = node_pb2_grpc.MarkerServiceStub(channel)

    def as_role(self, signer: JwtSigner) -> NodeClient:
        """The same channel, another caller (closing either closes the channel)."""
        return NodeClient(self.channel, signer, default_timeout=self.default_timeout)

    async def screen(
        self, request: node_pb2.ScreenRequest, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ScreenResponse:
        return await self._call(self._screen.Screen, request, timeout=timeout, metadata=metadata)

    async def list_products(
        self,
        applicant_kind: common_pb2.ApplicantKind.ValueType = common_pb2.APPLICANT_KIND_UNSPECIFIED,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> list[node_pb2.ProductView]:
        """The products on offer, by code (``applicant_kind``: only those open to that kind)."""
        request = node_pb2.ListProductsRequest(applicant_kind=applicant_kind)
        response = await self._call(self._loans.ListProducts, request, timeout=timeout, metadata=metadata)
        return list(response.products)

    async def submit_application(
        self,
        request: node_pb2.SubmitApplicationRequest,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.ApplicationView:
        return await self._call(self._loans.SubmitApplication, request, timeout=timeout, metadata=metadata)

    async def get_application(
        self, application_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ApplicationView:
        request = node_pb2.GetApplicationRequest(application_id=application_id)
        return await self._call(self._loans.GetApplication, request, timeout=timeout, metadata=metadata)

    async def list_tasks(
        self,
        *,
        assignee: str = "",
        include_done: bool = False,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> list[node_pb2.Task]:
        request = node_pb2.ListTasksRequest(assignee=assignee, include_done=include_done)
        return list((await self._call(self._loans.ListTasks, request, timeout=timeout, metadata=metadata)).tasks)

    async def submit_due_diligence(
        self,
        task_id: str,
        findings: node_pb2.DueDiligenceFindings,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.ApplicationView:
        request = node_pb2.SubmitDueDiligenceRequest(task_id=task_id, findings=findings)
        return await self._call(self._loans.SubmitDueDiligence, request, timeout=timeout, metadata=metadata)

    async def decide_referral(
        self,
        application_id: str,
        approve: bool,
        comment: str,
        *,
        final_limit_fen: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.ApplicationView:
        """``final_limit_fen``: approving, the limit granted (0: the evidence's; see the proto)."""
        request = node_pb2.DecideReferralRequest(
            application_id=application_id, approve=approve, comment=comment, final_limit_fen=final_limit_fen
        )
        return await self._call(self._loans.DecideReferral, request, timeout=timeout, metadata=metadata)

    async def get_contract(
        self, application_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ContractView:
        request = node_pb2.GetContractRequest(application_id=application_id)
        return await self._call(self._loans.GetContract, request, timeout=timeout, metadata=metadata)

    async def send_signing_code(
        self, application_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.SendSigningCodeResponse:
        """Texts a one-time code to the applicant's phone, for ``sign_contract``'s ``sms_code``."""
        request = node_pb2.SendSigningCodeRequest(application_id=application_id)
        return await self._call(self._loans.SendSigningCode, request, timeout=timeout, metadata=metadata)

    async def sign_contract(
        self, request: node_pb2.SignContractRequest, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ContractView:
        return await self._call(self._loans.SignContract, request, timeout=timeout, metadata=metadata)

    async def request_drawdown(
        self,
        application_id: str,
        amount_fen: int,
        payee_account: str = "",
        *,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.DrawdownView:
        """``request_id``: the caller's id for this drawdown (its order id, say). Sent again with
        the same id after a timeout or a lost reply, the node answers the drawdown it made and
        never pays twice. Without one a new id is made for this call: its own resends (to another
        replica, after a dropped connection) pay once, but calling again pays again — pass one
        whenever you may retry."""
        request = node_pb2.RequestDrawdownRequest(
            application_id=application_id,
            amount_fen=amount_fen,
            payee_account=payee_account,
            request_id=request_id or uuid.uuid4().hex,
        )
        return await self._call(
            self._loans.RequestDrawdown, request, timeout=timeout, metadata=metadata, idempotent=True
        )

    async def review_disbursement(
        self,
        drawdown_id: str,
        approve: bool,
        comment: str,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.DrawdownView:
        request = node_pb2.ReviewDisbursementRequest(drawdown_id=drawdown_id, approve=approve, comment=comment)
        return await self._call(self._loans.ReviewDisbursement, request, timeout=timeout, metadata=metadata)

    async def get_loan(
        self, loan_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.LoanView:
        request = node_pb2.GetLoanRequest(loan_id=loan_id)
        return await self._call(self._loans.GetLoan, request, timeout=timeout, metadata=metadata)

    async def confirm_fraud(
        self,
        application_id: str,
        reason_code: str,
        evidence_level: int,
        case_ref: str = "",
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.ApplicationView:
        request = node_pb2.ConfirmFraudRequest(
            application_id=application_id, reason_code=reason_code, evidence_level=evidence_level, case_ref=case_ref
        )
        return await self._call(self._loans.ConfirmFraud, request, timeout=timeout, metadata=metadata)

    # -- post-loan (MonitoringService) -----------------------------------------------------------
    async def run_monitoring(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.RunMonitoringResponse:
        request = node_pb2.RunMonitoringRequest()
        return await self._call(self._monitoring.RunMonitoring, request, timeout=timeout, metadata=metadata)

    async def post_loan_alerts(
        self, application_id: str = "", *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ListPostLoanAlertsResponse:
        request = node_pb2.ListPostLoanAlertsRequest(application_id=application_id)
        return await self._call(self._monitoring.ListPostLoanAlerts, request, timeout=timeout, metadata=metadata)

    async def record_disposition(
        self,
        request: node_pb2.RecordDispositionRequest,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.DispositionView:
        return await self._call(self._monitoring.RecordDisposition, request, timeout=timeout, metadata=metadata)

    async def repay_loan(
        self,
        loan_id: str,
        comment: str = "",
        *,
        amount_fen: int = 0,
        payment_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.LoanView:
        """With ``amount_fen``: a payment into the loan's ledger, under its ``payment_id`` (the
        core banking system's; recorded once however often sent). Without: repaid in full."""
        request = node_pb2.RepayLoanRequest(
            loan_id=loan_id, comment=comment, amount_fen=amount_fen, payment_id=payment_id
        )
        return await self._call(
            self._monitoring.RepayLoan, request, timeout=timeout, metadata=metadata, idempotent=bool(payment_id)
        )

    async def kpis(
        self, *, chart: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.KpiReport:
        request = node_pb2.GetKpisRequest(chart=chart)
        return await self._call(self._monitoring.GetKpis, request, timeout=timeout, metadata=metadata)

    async def list_outbox(
        self, state: str = "", limit: int = 0, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.ListOutboxResponse:
        """The node's outbox of hub submissions, newest first (``state``: pending, sent, dead, discarded)."""
        request = node_pb2.ListOutboxRequest(state=state, limit=limit)
        return await self._call(self._outbox.ListOutbox, request, timeout=timeout, metadata=metadata)

    async def retry_outbox(
        self, item_id: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.OutboxItem:
        """Puts a dead-lettered outbox item back in the queue."""
        request = node_pb2.RetryOutboxRequest(id=item_id)
        return await self._call(self._outbox.RetryOutbox, request, timeout=timeout, metadata=metadata)

    async def discard_outbox(
        self, item_id: int, reason: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.OutboxItem:
        """Gives a dead-lettered outbox item up for good, with the reason kept beside it."""
        request = node_pb2.DiscardOutboxRequest(id=item_id, reason=reason)
        return await self._call(self._outbox.DiscardOutbox, request, timeout=timeout, metadata=metadata)

    async def list_markers(
        self, *, include_inactive: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[node_pb2.FiledMarker]:
        """This member's markers at the hub, each with the application it was filed for here."""
        request = node_pb2.ListMarkersRequest(include_inactive=include_inactive)
        response = await self._call(
            self._markers.ListMarkers, request, timeout=timeout, metadata=metadata, idempotent=True
        )
        return list(response.markers)

    async def withdraw_marker(
        self, marker_id: str, reason: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> node_pb2.FiledMarker:
        """Withdraws one of this member's markers at the hub (a retry answers the first withdrawal)."""
        request = node_pb2.WithdrawFiledMarkerRequest(marker_id=marker_id, reason=reason)
        return await self._call(
            self._markers.WithdrawMarker, request, timeout=timeout, metadata=metadata, idempotent=True
        )

    async def dispute_marker(
        self, marker_id: str, subject_statement: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> common_pb2.Dispute:
        """Passes a borrower's dispute of a marker (any member's) on to the consortium admin."""
        request = node_pb2.DisputeMarkerRequest(marker_id=marker_id, subject_statement=subject_statement)
        return await self._call(self._markers.DisputeMarker, request, timeout=timeout, metadata=metadata)

    async def list_disputes(
        self, *, include_resolved: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[common_pb2.Dispute]:
        """Disputes this member raised and those of its markers, with their resolutions."""
        request = consortium_pb2.ListDisputesRequest(include_resolved=include_resolved)
        response = await self._call(
            self._markers.ListDisputes, request, timeout=timeout, metadata=metadata, idempotent=True
        )
        return list(response.disputes)

    async def borrower_records(
        self,
        identifiers: node_pb2.Identifiers,
        request_ref: str,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> audit_pb2.SubjectAccessResponse:
        """The markers standing on a borrower's identifiers and the queries on them (right of
        access), under ``request_ref``, your reference of the borrower's own request."""
        request = node_pb2.BorrowerRecordsRequest(identifiers=identifiers, request_ref=request_ref)
        return await self._call(self._markers.GetBorrowerRecords, request, timeout=timeout, metadata=metadata)
