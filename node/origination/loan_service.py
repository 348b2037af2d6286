"""LoanService: the origination engine over gRPC (protobuf views in, engine calls, views out)."""

from __future__ import annotations

import base64
from typing import Any

import grpc
from lianfang.v1 import consortium_pb2, node_pb2, node_pb2_grpc

from node.monitoring.delinquency import overdue
from node.origination import states
from node.origination.application_check import KIND_NAMES
from node.origination.contracts import verify_signature
from node.origination.decision import APPROVE, DUE_DILIGENCE
from node.origination.engine import Origination
from node.origination.lender_calendar import day_starts
from node.origination.products import Product
from node.origination.roles import CUSTOMER, ROLE_QUEUES
from node.origination.store import Application, Task
from runtime.errors import InvalidArgument, NotFound
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp


def application_view(engine: Origination, app: Application) -> node_pb2.ApplicationView:
    d: dict[str, Any] = app.decision
    decision = node_pb2.DecisionView(
        outcome=d.get("outcome", ""),
        reasons=d.get("reasons", []),
        anti_fraud_score=d.get("anti_fraud_score", 0.0),
        credit_score=d.get("credit_score", 0.0),
        grade=d.get("grade", ""),
        pre_credit_limit_fen=d.get("pre_credit_limit_fen", 0),
        annual_rate=d.get("annual_rate", 0.0),
        rule_set_version=d.get("rule_set_version", ""),
        hits=[node_pb2.RuleHitView(**h) for h in d.get("hits", [])],
        sources=[node_pb2.SourceStatus(**s) for s in d.get("sources", [])],
    )
    if d.get("consortium"):
        decision.consortium.CopyFrom(consortium_pb2.CheckResponse.FromString(base64.b64decode(d["consortium"])))
    if d.get("consortium_late"):  # delivered from the outbox after the decision (node.outbox.late_answer)
        late = consortium_pb2.CheckResponse.FromString(base64.b64decode(d["consortium_late"]))
        decision.consortium_late.CopyFrom(late)
    decision.consortium_pending = bool(d.get("consortium_pending"))
    decision.consortium_given_up = d.get("consortium_given_up", "")
    return node_pb2.ApplicationView(
        application_id=app.application_id,
        application_ref=app.application_ref,
        state=app.state,
        product_code=app.product_code,
        applicant_name=app.applicant_name,
        amount_fen=app.amount_fen,
        term_months=app.term_months,
        collateral_value_fen=app.collateral_value_fen,
        decision=decision,
        final_limit_fen=app.final_limit_fen,
        final_rate=app.final_rate,
        assigned_to=app.assigned_to,
        history=[
            node_pb2.Transition(
                from_state=t.from_state, to_state=t.to_state, actor=t.actor, reason=t.reason, at=to_timestamp(t.at)
            )
            for t in engine.store.history(app.application_id)
        ],
    )


def customer_view(view: node_pb2.ApplicationView) -> node_pb2.ApplicationView:
    """What the borrower sees of an application: its state, amounts, and the outcome with the
    pre-credit limit and price when it was offered one. Not the lender's risk picture (the
    consortium's answer, rule hits, scores, reason codes, sources), nor staff names or their
    notes: shown to an applicant, they teach a fraudster which marker, ring or rule caught him,
    and tell an impersonator that his victim filed a protective marker."""
    decision = view.decision
    offered = decision.outcome in (APPROVE, DUE_DILIGENCE)
    view.decision.CopyFrom(
        node_pb2.DecisionView(
            outcome=decision.outcome,
            pre_credit_limit_fen=decision.pre_credit_limit_fen if offered else 0,
            annual_rate=decision.annual_rate if offered else 0.0,
        )
    )
    if view.state not in (states.APPROVED, states.SIGNED, states.FUNDED):  # a limit not (or no longer) offered
        view.final_limit_fen, view.final_rate = 0, 0.0
    view.assigned_to = ""
    for t in view.history:
        t.actor, t.reason = "", ""
    return view


def _task(t: Task) -> node_pb2.Task:
    return node_pb2.Task(
        task_id=t.task_id,
        kind=t.kind,
        application_id=t.application_id,
        assignee=t.assignee,
        state=t.state,
        checklist=t.checklist,
        reason=t.reason,
    )


def _contract(c: dict[str, Any]) -> node_pb2.ContractView:
    key, sig = bytes.fromhex(c["borrower_public_key"]), bytes.fromhex(c["signature"])
    return node_pb2.ContractView(
        contract_id=c["contract_id"],
        application_id=c["application_id"],
        document=c["document"],
        document_sha256=c["document_sha256"],
        state=c["state"],
        borrower_public_key=key,
        signature=sig,
        signature_valid=bool(sig) and verify_signature(c["document"], key, sig),
    )


def _drawdown(d: dict[str, Any]) -> node_pb2.DrawdownView:
    return node_pb2.DrawdownView(
        drawdown_id=d["drawdown_id"],
        application_id=d["application_id"],
        amount_fen=d["amount_fen"],
        payment_mode=d["payment_mode"],
        state=d["state"],
        loan_id=d["loan_id"],
    )


KIND_VALUES = {name: value for value, name in KIND_NAMES.items()}


def product_view(product: Product) -> node_pb2.ProductView:
    """A product's terms as a customer may see them (not the risk settings behind a decision)."""
    rates = product.price_grid.values()
    return node_pb2.ProductView(
        code=product.code,
        name=product.name,
        applicant_kinds=[KIND_VALUES[k] for k in product.applicant_kinds],
        min_amount_fen=product.min_amount_fen,
        max_amount_fen=product.max_amount_fen,
        min_term_months=product.min_term_months,
        max_term_months=product.max_term_months,
        repayment_methods=product.repayment_methods,
        min_annual_rate=min(rates),
        max_annual_rate=max(rates),
        collateral_ratio=product.collateral_ratio,
        entrusted_payment_threshold_fen=product.entrusted_payment_threshold_fen,
        min_drawdown_fen=product.min_drawdown_fen,
        approval_valid_days=product.approval_valid_days,
        availability_months=product.availability_months,
    )


class LoanServicer(node_pb2_grpc.LoanServiceServicer):
    def __init__(self, engine: Origination) -> None:
        self.engine = engine

    async def ListProducts(
        self, request: node_pb2.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListProductsResponse:
        kind = KIND_NAMES.get(request.applicant_kind, "")
        if request.applicant_kind and not kind:
            raise InvalidArgument.one("applicant_kind", "person, individual business or company; unset for all")
        products = sorted(self.engine.products.values(), key=lambda p: p.code)
        return node_pb2.ListProductsResponse(
            products=[product_view(p) for p in products if not kind or kind in p.applicant_kinds]
        )

    def _visible(self, application_id: str) -> None:
        """A customer reaches only its own applications (their contract, drawdowns and loans);
        another's, like an unknown one, is NOT_FOUND, so ids cannot be probed. An application
        staff submitted on a borrower's behalf belongs to the first customer to reach it by its
        id (which the staff gave the borrower: 80 random bits). Staff roles see every application
        (the role table decides which calls they make)."""
        call = current_call()
        if call.role != CUSTOMER:
            return
        self.engine.claim(application_id, call.principal)

    async def SubmitApplication(
        self, request: node_pb2.SubmitApplicationRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ApplicationView:
        remaining = context.time_remaining()  # the caller's deadline bounds stage 1 (None: no deadline)
        call = current_call()
        owner = call.principal if call.role == CUSTOMER else ""  # staff submit on a borrower's behalf
        app = await self.engine.submit(request, call.principal, remaining, owner=owner)
        return self._shown(application_view(self.engine, app))

    async def GetApplication(
        self, request: node_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ApplicationView:
        self._visible(request.application_id)
        return self._shown(application_view(self.engine, self.engine.store.get_application(request.application_id)))

    @staticmethod
    def _shown(view: node_pb2.ApplicationView) -> node_pb2.ApplicationView:
        """The view as the caller's role may see it (a customer: ``customer_view``)."""
        return customer_view(view) if current_call().role == CUSTOMER else view

    async def ListTasks(
        self, request: node_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListTasksResponse:
        """The assignee's tasks; by default the caller's own and its role's shared queue (a credit
        approver sees the credit reviews waiting for any approver)."""
        call, store = current_call(), self.engine.store
        if request.assignee:
            tasks = store.tasks(request.assignee, request.include_done)
        else:
            queue = ROLE_QUEUES.get(call.role)
            tasks = store.tasks(call.principal, request.include_done)
            tasks += store.tasks(queue, request.include_done) if queue else []
        return node_pb2.ListTasksResponse(tasks=[_task(t) for t in tasks])

    async def SubmitDueDiligence(
        self, request: node_pb2.SubmitDueDiligenceRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ApplicationView:
        app = await self.engine.submit_due_diligence(request.task_id, request.findings, current_call().principal)
        return application_view(self.engine, app)

    async def DecideReferral(
        self, request: node_pb2.DecideReferralRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ApplicationView:
        app = await self.engine.decide_referral(
            request.application_id, request.approve, request.comment, current_call().principal, request.final_limit_fen
        )
        return application_view(self.engine, app)

    async def GetContract(
        self, request: node_pb2.GetContractRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ContractView:
        self._visible(request.application_id)
        return _contract(self.engine.contract(request.application_id))

    async def SendSigningCode(
        self, request: node_pb2.SendSigningCodeRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.SendSigningCodeResponse:
        self._visible(request.application_id)
        sent_to, expires_at = self.engine.send_signing_code(request.application_id, current_call().principal)
        return node_pb2.SendSigningCodeResponse(sent_to=sent_to, expires_at=to_timestamp(expires_at))

    async def SignContract(
        self, request: node_pb2.SignContractRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ContractView:
        self._visible(request.application_id)
        return _contract(self.engine.sign(request, current_call().principal))

    async def RequestDrawdown(
        self, request: node_pb2.RequestDrawdownRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.DrawdownView:
        self._visible(request.application_id)
        return _drawdown(await self.engine.drawdown(request, current_call().principal))

    async def ReviewDisbursement(
        self, request: node_pb2.ReviewDisbursementRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.DrawdownView:
        return _drawdown(
            await self.engine.review(request.drawdown_id, request.approve, request.comment, current_call().principal)
        )

    async def ConfirmFraud(
        self, request: node_pb2.ConfirmFraudRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ApplicationView:
        return application_view(self.engine, await self.engine.confirm_fraud(request, current_call().principal))

    async def GetLoan(self, request: node_pb2.GetLoanRequest, context: grpc.aio.ServicerContext) -> node_pb2.LoanView:
        loan = self.engine.store.get_record("loan", request.loan_id)
        try:
            self._visible(loan["application_id"])
        except NotFound:
            raise NotFound(f"loan {request.loan_id!r} not found") from None
        return loan_view(loan, self.engine.lateness_now())


def loan_view(loan: dict[str, Any], now: float | None) -> node_pb2.LoanView:
    """The loan as the API shows it, with how late it is at ``now`` (None: this node judges no
    lateness, its core banking system reporting no payments: ``repayment_ledger = false``)."""
    schedule = [
        node_pb2.Instalment(
            number=n,
            due=to_timestamp(day_starts(due)),
            principal_fen=p,
            interest_fen=i,
        )
        for n, due, p, i in loan["schedule"]
    ]
    return node_pb2.LoanView(
        loan_id=loan["loan_id"],
        application_id=loan["application_id"],
        principal_fen=loan["principal_fen"],
        annual_rate=loan["annual_rate"],
        term_months=loan["term_months"],
        repayment_method=loan["repayment_method"],
        payment_mode=loan["payment_mode"],
        schedule=schedule,
        state=loan["state"],
        paid_fen=int(loan.get("paid_fen", 0)),
        days_past_due=late.days if now is not None and (late := overdue(loan, now)) is not None else 0,
    )
