"""The origination engine: each business step of seed 002 stages 1-3 as one method that
validates, decides, and stores its result and state transition in one transaction."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

from lianfang.v1 import common_pb2, consortium_pb2, node_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.consent import consent_end
from node.identity.applicant import canonical_identifiers, epoch_links, tokenise, tokenise_identifiers
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers
from node.origination import states
from node.origination.consortium_features import consortium_features
from node.origination.contracts import contract_document, verify_signature
from node.origination.decision import APPROVE, DECLINE, DUE_DILIGENCE, REFER, stage1_decision
from node.origination.due_diligence import FieldTeam, score_findings
from node.origination.limits import round_down
from node.origination.products import Product
from node.origination.risk import RiskModel
from node.origination.schedule import repayment_schedule
from node.origination.store import Application, NodeStore, Task, new_id
from node.sources.base import DataSource, SourceRequest
from node.sources.runner import run_stage1
from runtime.clock import Clock
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied

log = logging.getLogger("lianfang.node.origination")

KIND_NAMES = {
    common_pb2.APPLICANT_KIND_PERSON: "person",
    common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS: "individual_business",
    common_pb2.APPLICANT_KIND_COMPANY: "company",
}
HUB_OUTCOMES = {
    states.APPROVED: common_pb2.OUTCOME_APPROVED,
    states.DECLINED: common_pb2.OUTCOME_DECLINED,
    states.FUNDED: common_pb2.OUTCOME_FUNDED,
    states.FRAUD_CONFIRMED: common_pb2.OUTCOME_FRAUD_CONFIRMED,
}
NEXT_STATE = {
    APPROVE: states.APPROVED,
    DECLINE: states.DECLINED,
    REFER: states.REFERRED,
    DUE_DILIGENCE: states.DUE_DILIGENCE,
}


@dataclass
class SourcePolicy:
    deadlines: dict[str, float]
    default_deadline: float = 2.0
    hub_deadline: float = 0.8
    hub_unavailable: str = REFER  # what an unreachable hub means: refer (default) or decline


class Origination:
    def __init__(
        self,
        store: NodeStore,
        products: dict[str, Product],
        team: FieldTeam,
        risk: RiskModel,
        sources: list[DataSource],
        hub: HubClient,
        tokeniser: KeyRing,
        clock: Clock,
        policy: SourcePolicy,
    ) -> None:
        self.store, self.products, self.team, self.risk = store, products, team, risk
        self.sources, self.hub, self.tokeniser, self.clock, self.policy = sources, hub, tokeniser, clock, policy

    # -- stage 1 ------------------------------------------------------------------------------
    def _validate(
        self, r: node_pb2.SubmitApplicationRequest
    ) -> tuple[Product, list[common_pb2.Token], list[tuple[int, str]]]:
        """The product, the HMAC tokens (none in OPRF mode: computed with the hub call) and the
        canonical identifiers."""
        v: list[FieldViolation] = []
        product = self.products.get(r.product_code)
        kind = KIND_NAMES.get(r.applicant_kind, "")
        if not r.application_ref or len(r.application_ref) > 64:
            v.append(FieldViolation("application_ref", "1-64 characters required"))
        if not r.consent_ref:
            v.append(FieldViolation("consent_ref", "the borrower's signed authorisation is required"))
        if not r.applicant_name or len(r.applicant_name) > 100:
            v.append(FieldViolation("applicant_name", "1-100 characters required"))
        if product is None:
            v.append(FieldViolation("product_code", f"unknown product (known: {', '.join(sorted(self.products))})"))
        else:
            if kind not in product.applicant_kinds:
                v.append(
                    FieldViolation("applicant_kind", f"{product.code} lends to {', '.join(product.applicant_kinds)}")
                )
            if not product.min_amount_fen <= r.amount_fen <= product.max_amount_fen:
                v.append(
                    FieldViolation("amount_fen", f"must be within {product.min_amount_fen}-{product.max_amount_fen}")
                )
            if not product.min_term_months <= r.term_months <= product.max_term_months:
                v.append(
                    FieldViolation("term_months", f"must be within {product.min_term_months}-{product.max_term_months}")
                )
            if r.repayment_method not in product.repayment_methods:
                v.append(FieldViolation("repayment_method", f"one of {', '.join(product.repayment_methods)}"))
        if kind != "person" and not r.identifiers.uscc:
            v.append(FieldViolation("identifiers.uscc", "a business applicant needs its unified social credit code"))
        tokens: list[common_pb2.Token] = []
        canonicals: list[tuple[int, str]] = []
        try:
            canonicals = canonical_identifiers(r.identifiers)
            if self.tokeniser.oprf is None:
                tokens = tokenise_identifiers(r.identifiers, self.tokeniser)
        except InvalidIdentifiers as exc:
            v += [FieldViolation(e.field, e.description) for e in exc.errors]
        if v:
            raise InvalidArgument(v)
        assert product is not None
        return product, tokens, canonicals

    async def _check(
        self, tokens: list[common_pb2.Token], canonicals: list[tuple[int, str]], **request: Any
    ) -> consortium_pb2.CheckResponse:
        """The hub Check; in OPRF mode the key-service round trip comes first, inside the same
        stage-1 deadline (``KeyServiceUnavailable`` degrades like an unreachable hub)."""
        if self.tokeniser.oprf is not None:
            tokens = await self.tokeniser.oprf.tokens(canonicals)
        return await self.hub.check(tokens=tokens, **request)

    async def submit(self, r: node_pb2.SubmitApplicationRequest, actor: str) -> Application:
        existing = self.store.find_by_ref(r.application_ref)
        if existing is not None:  # a retried submission returns the first one's result
            return existing
        product, tokens, canonicals = self._validate(r)
        now = self.clock()
        ids = r.identifiers
        app = Application(
            application_id=new_id("app"),
            application_ref=r.application_ref,
            state=states.SUBMITTED,
            product_code=product.code,
            applicant_kind=KIND_NAMES[r.applicant_kind],
            applicant_name=r.applicant_name,
            identifiers={
                "uscc": ids.uscc,
                "resident_id": ids.resident_id,
                "legal_rep_resident_id": ids.legal_rep_resident_id,
                "phones": list(ids.phones),
            },
            industry=r.industry,
            locality=r.locality,
            amount_fen=r.amount_fen,
            term_months=r.term_months,
            repayment_method=r.repayment_method,
            consent_ref=r.consent_ref,
        )
        self.store.create_application(app, actor, now)
        request = SourceRequest(
            application_ref=app.application_id,
            applicant_kind=app.applicant_kind,  # type: ignore[arg-type]
            name=app.applicant_name,
            uscc=ids.uscc,
            resident_id=ids.resident_id,
            legal_rep_resident_id=ids.legal_rep_resident_id,
            phones=tuple(ids.phones),
            industry=r.industry,
            locality=r.locality,
        )
        check = self._check(
            tokens,
            canonicals,
            application_ref=app.application_id,  # opaque: no lender text reaches the hub
            consent_ref=hashlib.sha256(r.consent_ref.encode()).hexdigest()[:32],
            applicant_kind=r.applicant_kind,
            product_category=product.code,
            consent_expires_at=consent_end(now),
            timeout=self.policy.hub_deadline,
        )
        stage1 = await run_stage1(
            self.sources,
            request,
            check,
            deadlines=self.policy.deadlines,
            default_deadline=self.policy.default_deadline,
            extra_deadline=self.policy.hub_deadline + 0.1,
        )
        features: dict[str, Any] = dict(stage1.features())
        hub_reason = ""
        if stage1.extra is not None:
            features.update(consortium_features(stage1.extra))
        else:
            hub_reason = getattr(stage1.extra_error, "reason_code", "HUB_UNAVAILABLE")  # or KEY_SERVICE_…
            log.warning(
                "hub check failed",
                extra={"fields": {"application": app.application_id, "error": type(stage1.extra_error).__name__}},
            )
        features["requested_amount"] = app.amount_fen / 100
        features["applicant_kind"] = app.applicant_kind
        assessment = self.risk.assess(features)
        decision = stage1_decision(
            product,
            app.amount_fen,
            assessment,
            features,
            stage1.degraded_reasons(),
            self.policy.hub_unavailable,
            hub_reason,
        )
        decision.sources = [
            {"name": o.name, "status": o.status, "reason_code": o.reason_code, "elapsed_ms": round(o.elapsed_ms, 1)}
            for o in stage1.outcomes
        ]
        app.features = {k: v for k, v in features.items() if not k.startswith("cs_") or v}
        app.decision = asdict(decision)
        if stage1.extra is not None:
            app.decision["consortium"] = base64.b64encode(stage1.extra.SerializeToString()).decode()
        if decision.outcome == APPROVE:
            app.final_limit_fen, app.final_rate = decision.pre_credit_limit_fen, decision.annual_rate
        await self._route(app, decision.outcome, "system", "; ".join(decision.reasons), now)
        return app

    async def _route(self, app: Application, outcome: str, actor: str, reason: str, now: float) -> None:
        """Moves the application on and creates the task its next state needs, atomically."""
        new_state = NEXT_STATE[outcome]
        with self.store.transaction() as db:
            if new_state == states.DUE_DILIGENCE:
                open_tasks = {m.id: len(self.store.tasks(m.id)) for m in self.team.managers}
                manager = self.team.assign(app.locality, app.industry, open_tasks)
                task = Task(
                    new_id("task"),
                    "due_diligence",
                    app.application_id,
                    manager.id,
                    checklist=list(self.team.checklist(app.industry)),
                    reason=reason,
                )
                self.store.add_task_in(db, task)
                app.assigned_to = manager.id
            elif new_state == states.REFERRED:
                task = Task(new_id("task"), "credit_review", app.application_id, "credit-approvers", reason=reason)
                self.store.add_task_in(db, task)
                app.assigned_to = "credit-approvers"
            else:
                app.assigned_to = ""
            self.store.save_in(db, app, now, to_state=new_state, actor=actor, reason=reason)
        await self._report(app)

    async def _report(self, app: Application) -> None:
        """Tells the hub what became of the application (best effort; the outbox comes later)."""
        outcome = HUB_OUTCOMES.get(app.state)
        if outcome is None:
            return
        try:
            await self.hub.report_outcome(app.application_id, outcome, timeout=self.policy.hub_deadline)
        except LianfangRpcError as exc:
            log.warning(
                "outcome not reported", extra={"fields": {"application": app.application_id, "code": exc.code.name}}
            )

    # -- stage 2 ------------------------------------------------------------------------------
    async def submit_due_diligence(
        self, task_id: str, findings: node_pb2.DueDiligenceFindings, actor: str
    ) -> Application:
        task = self.store.get_task(task_id)
        if task.kind != "due_diligence" or task.state != "open":
            raise FailedPrecondition(f"task {task_id} is not an open due-diligence task")
        if task.assignee != actor:
            raise PermissionDenied(f"task {task_id} is assigned to {task.assignee}")
        if not 1 <= findings.soft_assessment <= 5:
            raise InvalidArgument.one("findings.soft_assessment", "must be 1 (poor) to 5 (excellent)")
        app = self.store.get_application(task.application_id)
        states.check_transition(app.state, states.APPROVED)
        now = self.clock()
        result = score_findings(findings, app.features, now)
        product = self.products[app.product_code]
        pre = int(app.decision["pre_credit_limit_fen"])
        final = min(product.max_amount_fen, round_down(pre * result.factor))
        app.decision["due_diligence"] = {
            "score": result.score,
            "factor": result.factor,
            "reasons": list(result.reasons),
            "photos": [p.sha256 for p in findings.photos],
            "notes": findings.notes,
        }
        app.final_limit_fen, app.final_rate = final, float(app.decision["annual_rate"])
        with self.store.transaction() as db:
            self.store.close_task_in(db, task)
        if result.factor and final >= app.amount_fen:
            reason = f"due diligence score {result.score}: final limit {final // 100} yuan"
            await self._route(app, APPROVE, actor, reason, now)
        else:
            reason = "; ".join(result.reasons) or f"final limit {final // 100} yuan below the amount requested"
            await self._route(app, REFER, actor, reason, now)
        return app

    async def decide_referral(self, application_id: str, approve: bool, comment: str, actor: str) -> Application:
        if not comment:
            raise InvalidArgument.one("comment", "an approver's decision needs a comment")
        app = self.store.get_application(application_id)
        if app.state != states.REFERRED:
            raise FailedPrecondition(f"application is {app.state}, not referred")
        now = self.clock()
        task = self.store.open_task_for(application_id, "credit_review")
        if task is not None:
            with self.store.transaction() as db:
                self.store.close_task_in(db, task)
        if approve and not app.final_limit_fen:
            app.final_limit_fen = max(app.amount_fen, int(app.decision.get("pre_credit_limit_fen", 0)))
            app.final_rate = float(
                app.decision.get("annual_rate") or max(self.products[app.product_code].price_grid.values())
            )
        await self._route(app, APPROVE if approve else DECLINE, actor, comment, now)
        return app

    async def confirm_fraud(self, r: node_pb2.ConfirmFraudRequest, actor: str) -> Application:
        """Records confirmed fraud and shares it: outcome + a confirmed-fraud marker per identifier."""
        v: list[FieldViolation] = []
        if r.evidence_level == common_pb2.EVIDENCE_LEVEL_UNSPECIFIED:
            v.append(FieldViolation("evidence_level", "confirmed fraud needs an evidence level"))
        if not r.reason_code:
            v.append(FieldViolation("reason_code", "is required"))
        if v:
            raise InvalidArgument(v)
        app = self.store.get_application(r.application_id)
        states.check_transition(app.state, states.FRAUD_CONFIRMED)
        ids = app.identifiers
        person_ids = node_pb2.Identifiers(
            uscc=ids.get("uscc", ""),
            resident_id=ids.get("resident_id", ""),
            legal_rep_resident_id=ids.get("legal_rep_resident_id", ""),
            phones=ids.get("phones", []),
        )
        markers = []
        for token in await tokenise(person_ids, self.tokeniser, primary=True):  # one marker per identifier
            marker = await self.hub.file_marker(
                token,
                common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
                r.reason_code,
                evidence_level=r.evidence_level,
                case_ref=r.case_ref,
                timeout=self.policy.hub_deadline,
            )
            markers.append(marker.marker_id)
        links = epoch_links(person_ids, self.tokeniser)
        if links:  # a key rotation is under way: the markers must outlive the old epoch
            await self.hub.link_tokens(links, timeout=self.policy.hub_deadline)
        app.decision["fraud"] = {"reason_code": r.reason_code, "evidence_level": r.evidence_level, "markers": markers}
        self.store.save(
            app,
            self.clock(),
            to_state=states.FRAUD_CONFIRMED,
            actor=actor,
            reason=f"fraud confirmed ({r.reason_code}); {len(markers)} marker(s) filed at the hub",
        )
        await self._report(app)
        return app

    # -- stage 3 ------------------------------------------------------------------------------
    def contract(self, application_id: str) -> dict[str, Any]:
        """The contract of an approved application (created on first read, then fixed)."""
        existing = self.store.records_for("contract", application_id)
        if existing:
            return existing[0]
        app = self.store.get_application(application_id)
        if app.state != states.APPROVED:
            raise FailedPrecondition(f"application is {app.state}; a contract needs an approved application")
        contract_id = new_id("ct")
        document = contract_document(app, self.products[app.product_code], contract_id)
        record = {
            "contract_id": contract_id,
            "application_id": application_id,
            "document": document,
            "document_sha256": hashlib.sha256(document.encode()).hexdigest(),
            "state": "awaiting_signature",
            "borrower_public_key": "",
            "signature": "",
        }
        with self.store.transaction() as db:
            self.store.put_record_in(db, "contract", contract_id, application_id, record)
        return record

    def sign(self, r: node_pb2.SignContractRequest, actor: str) -> dict[str, Any]:
        contract = self.contract(r.application_id)
        if contract["state"] == "signed":
            raise FailedPrecondition("the contract is already signed")
        v = []
        if not r.face_verified:
            v.append(FieldViolation("face_verified", "the face check at signing must pass"))
        if len(r.sms_code) != 6 or not r.sms_code.isdigit():
            v.append(FieldViolation("sms_code", "the 6-digit SMS code is required"))
        if not verify_signature(contract["document"], r.borrower_public_key, r.signature):
            v.append(FieldViolation("signature", "not a valid Ed25519 signature of the contract's SHA-256 digest"))
        if v:
            raise InvalidArgument(v)
        app = self.store.get_application(r.application_id)
        contract.update(state="signed", borrower_public_key=r.borrower_public_key.hex(), signature=r.signature.hex())
        with self.store.transaction() as db:
            self.store.put_record_in(db, "contract", contract["contract_id"], r.application_id, contract)
            self.store.save_in(
                db,
                app,
                self.clock(),
                to_state=states.SIGNED,
                actor=actor,
                reason="signed with face check, SMS code and digital signature",
            )
        return contract

    async def drawdown(self, r: node_pb2.RequestDrawdownRequest, actor: str) -> dict[str, Any]:
        app = self.store.get_application(r.application_id)
        if app.state not in (states.SIGNED, states.FUNDED):
            raise FailedPrecondition(f"application is {app.state}; drawdowns need a signed contract")
        if app.limit_frozen:
            raise FailedPrecondition("the unused limit is frozen by post-loan monitoring (a risk check is open)")
        available = app.final_limit_fen - app.drawn_fen
        if not 0 < r.amount_fen <= available:
            raise InvalidArgument.one("amount_fen", f"must be within 1-{available} (the unused limit)")
        product = self.products[app.product_code]
        entrusted = r.amount_fen >= product.entrusted_payment_threshold_fen
        if entrusted and not r.payee_account:
            raise InvalidArgument.one("payee_account", "entrusted payment (受托支付) pays the counterparty directly")
        drawdown = {
            "drawdown_id": new_id("dd"),
            "application_id": app.application_id,
            "amount_fen": r.amount_fen,
            "payment_mode": "entrusted" if entrusted else "self",
            "payee_account": r.payee_account,
            "state": "pending_review",
            "loan_id": "",
        }
        app.drawn_fen += r.amount_fen  # reserved now, released if the reviewer rejects
        with self.store.transaction() as db:
            self.store.put_record_in(db, "drawdown", drawdown["drawdown_id"], app.application_id, drawdown)
            self.store.save_in(db, app, self.clock())
            if r.amount_fen >= product.disbursement_review_at_fen:
                self.store.add_task_in(
                    db,
                    Task(
                        new_id("task"),
                        "disbursement_review",
                        app.application_id,
                        "disbursement-reviewers",
                        reason=drawdown["drawdown_id"],
                    ),
                )
        if r.amount_fen < product.disbursement_review_at_fen:
            return await self._disburse(drawdown, "system", "below the disbursement review threshold")
        return drawdown

    async def review(self, drawdown_id: str, approve: bool, comment: str, actor: str) -> dict[str, Any]:
        drawdown = self.store.get_record("drawdown", drawdown_id)
        if drawdown["state"] != "pending_review":
            raise FailedPrecondition(f"drawdown is {drawdown['state']}")
        if not comment:
            raise InvalidArgument.one("comment", "a review needs a comment")
        task = self.store.open_task_for(drawdown["application_id"], "disbursement_review")
        with self.store.transaction() as db:
            if task is not None:
                self.store.close_task_in(db, task)
            if not approve:
                app = self.store.get_application(drawdown["application_id"])
                app.drawn_fen -= int(drawdown["amount_fen"])
                drawdown.update(state="rejected", comment=comment)
                self.store.put_record_in(db, "drawdown", drawdown_id, app.application_id, drawdown)
                self.store.save_in(db, app, self.clock())
        if not approve:
            return drawdown
        return await self._disburse(drawdown, actor, comment)

    async def _disburse(self, drawdown: dict[str, Any], actor: str, reason: str) -> dict[str, Any]:
        app = self.store.get_application(drawdown["application_id"])
        now = self.clock()
        start = dt.datetime.fromtimestamp(now, dt.UTC).date()
        plan = repayment_schedule(
            int(drawdown["amount_fen"]), app.final_rate, app.term_months, app.repayment_method, start
        )
        loan = {
            "loan_id": new_id("loan"),
            "application_id": app.application_id,
            "principal_fen": drawdown["amount_fen"],
            "annual_rate": app.final_rate,
            "term_months": app.term_months,
            "repayment_method": app.repayment_method,
            "payment_mode": drawdown["payment_mode"],
            "state": "active",
            "schedule": [[i.number, i.due.isoformat(), i.principal_fen, i.interest_fen] for i in plan],
            "disbursed_at": now,
            "watch": "",  # "registered" once the hub watches the borrower (post-loan alerts)
        }
        drawdown.update(state="disbursed", loan_id=loan["loan_id"])
        with self.store.transaction() as db:
            self.store.put_record_in(db, "loan", loan["loan_id"], app.application_id, loan)
            self.store.put_record_in(db, "drawdown", drawdown["drawdown_id"], app.application_id, drawdown)
            self.store.save_in(
                db,
                app,
                now,
                to_state=states.FUNDED,
                actor=actor,
                reason=f"{drawdown['payment_mode']} payment of {int(drawdown['amount_fen']) // 100} "
                f"yuan disbursed: {reason}",
            )
        await self._report(app)
        await self.register_watch(loan)
        return drawdown

    async def register_watch(self, loan: dict[str, Any]) -> bool:
        """Asks the hub to watch the borrower (best effort: the monitoring batch retries)."""
        try:
            await self.hub.register_watch(loan["application_id"], timeout=self.policy.hub_deadline)
        except LianfangRpcError as exc:
            log.warning("watch not registered", extra={"fields": {"loan": loan["loan_id"], "code": exc.code.name}})
            return False
        loan["watch"] = "registered"
        with self.store.transaction() as db:
            self.store.put_record_in(db, "loan", loan["loan_id"], loan["application_id"], loan)
        return True
