"""The origination engine: each business step of seed 002 stages 1-3 as one method that
validates, decides, and stores its result and state transition in one transaction. Stages 1-2
(application, pre-screen, due diligence, referrals, fraud) are here; stage 3 (contract,
drawdown, disbursement) is :mod:`node.origination.disbursement`."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from lianfang.v1 import common_pb2, consortium_pb2, node_pb2

from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.hub_errors import answered_by_hub, describe, is_transient
from node.identity.applicant import epoch_links, normalised_identifiers, tokenise
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifier
from node.identity.own_identifiers import OwnIdentifiers, kept_identifiers, stored_identifiers
from node.keyed_locks import KeyedLocks
from node.markers import record_filed_marker_in
from node.monitoring.records import PostLoanRecords
from node.monitoring.sms import RecordingSmsChannel, SmsChannel
from node.origination import states
from node.origination.application_check import KIND_NAMES, validate_application
from node.origination.consortium_check import ConsortiumCheck, check_request, should_queue, stage1_limits
from node.origination.consortium_features import consortium_features
from node.origination.decision import APPROVE, DECLINE, DUE_DILIGENCE, REFER, Decision, stage1_decision
from node.origination.disbursement import Disbursement, reject_waiting_drawdowns_in
from node.origination.due_diligence import FieldTeam, score_findings, validate_findings
from node.origination.limits import collateral_cap, round_down
from node.origination.products import Product
from node.origination.risk import RiskModel
from node.origination.roles import CREDIT_APPROVERS
from node.origination.stage1_policy import Stage1Policy
from node.origination.store import Application, NodeStore, Task, new_id
from node.outbox import Outbox
from node.outbox.submissions import queue_check_in, queue_outcome_in
from node.sources.base import DataSource, SourceRequest
from node.sources.runner import run_stage1
from runtime.clock import Clock
from runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from runtime.identifier_text import check_free_text, check_reason_code

log = logging.getLogger("lianfang.node.origination")

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


class Origination(Disbursement):
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
        policy: Stage1Policy,
        consortium: ConsortiumCheck,
        outbox: Outbox,
        sms: SmsChannel | None = None,
    ) -> None:
        """``sms``: texts the signing codes (default: recorded in the node's database, as the
        post-loan reminders are; a real SMS gateway implements ``SmsChannel``)."""
        self.store, self.products, self.team, self.risk = store, products, team, risk
        self.sources, self.hub, self.tokeniser, self.clock, self.policy = sources, hub, tokeniser, clock, policy
        self.consortium, self.outbox = consortium, outbox
        self.sms = sms if sms is not None else RecordingSmsChannel(PostLoanRecords(store))
        self._locks = KeyedLocks()  # calls changing one application across hub round trips: one at a time
        self.on_decision: Callable[[Decision], None] | None = None  # each stage-1 decision made (metrics)
        self.repayment_ledger = True  # payments are reported: lateness is judged (NodeConfig.repayment_ledger)

    # -- stage 1 ------------------------------------------------------------------------------
    async def submit(
        self, r: node_pb2.SubmitApplicationRequest, actor: str, remaining: float | None = None, *, owner: str = ""
    ) -> Application:
        """Stage 1; ``remaining``: seconds left of the caller's deadline (bounds every wait);
        ``owner``: the submitting customer ("" when staff submit on a borrower's behalf).

        A retried submission (the same request from the same customer) returns the first one's
        result; one whose first attempt never decided (cancelled by its caller, the node stopped
        mid-way) runs stage 1 again for the stored application (the hub counts its Check once).
        Another request under a reference already used — other identifiers, product, amount or
        authorisation, or another customer — is ALREADY_EXISTS, and learns nothing of the first.
        Submissions of one reference run one at a time: a retry arriving while the first is still
        deciding waits for its result."""
        existing = self.store.find_by_ref(r.application_ref)
        if existing is not None and existing.state != states.SUBMITTED:
            return _resubmitted(existing, r, owner)
        product, tokens, canonicals = validate_application(r, self.products, self.tokeniser)
        async with self._locks.hold(f"ref:{r.application_ref}"):
            existing = self.store.find_by_ref(r.application_ref)
            if existing is not None:
                _resubmitted(existing, r, owner)
                if existing.state != states.SUBMITTED:
                    return existing  # decided while this one waited
            return await self._stage1(r, actor, remaining, product, tokens, canonicals, existing, owner)

    def claim(self, application_id: str, customer: str) -> Application:
        """The application, if ``customer`` may reach it: its owner, or the first customer to
        reach one staff submitted (who then owns it); else NOT_FOUND, as for an unknown id."""
        app = self.store.get_application(application_id)
        if app.owner == customer:
            return app
        if app.owner:
            raise NotFound(f"application {application_id!r} not found")
        with self.store.transaction() as db:
            fresh = self.store.get_application(application_id)
            if fresh.owner and fresh.owner != customer:
                raise NotFound(f"application {application_id!r} not found")
            fresh.owner = customer
            self.store.save_in(db, fresh, self.clock())
        return fresh

    def lateness_now(self) -> float | None:
        """The time loans are judged late at (GetLoan, RepayLoan): now, or None when this node
        judges no lateness (``repayment_ledger = false``: its core banking system reports no
        payments)."""
        return self.clock() if self.repayment_ledger else None

    async def _stage1(
        self,
        r: node_pb2.SubmitApplicationRequest,
        actor: str,
        remaining: float | None,
        product: Product,
        tokens: list[common_pb2.Token],
        canonicals: list[tuple[int, str]],
        existing: Application | None,
        owner: str,
    ) -> Application:
        now = self.clock()
        ids = normalised_identifiers(r.identifiers)  # validated: the sources see canonical spellings
        app = existing or Application(
            application_id=new_id("app"),
            application_ref=r.application_ref,
            state=states.SUBMITTED,
            product_code=product.code,
            applicant_kind=KIND_NAMES[r.applicant_kind],
            applicant_name=r.applicant_name,
            identifiers=kept_identifiers(ids),
            industry=r.industry,
            locality=r.locality,
            amount_fen=r.amount_fen,
            term_months=r.term_months,
            repayment_method=r.repayment_method,
            consent_ref=r.consent_ref,
            owner=owner,
            collateral_value_fen=r.collateral_value_fen,
        )
        if existing is None:
            self.store.create_application(app, actor, now)
        request = source_request(app)  # a retry of an older record: as it was stored
        limits = stage1_limits(self.policy.hub_deadline, self.policy.deadline_margin, remaining)
        check = check_request(
            application_id=app.application_id,
            consent_ref=r.consent_ref,
            consent_key=self.consortium.consent_key,
            tokens=tokens,
            applicant_kind=r.applicant_kind,
            product_code=product.code,
            now=now,
        )
        stage1 = await run_stage1(
            self.sources,
            request,
            self.consortium.send(check, canonicals, limits.hub_timeout),
            deadlines=self.policy.deadlines,
            default_deadline=self.policy.default_deadline,
            extra_deadline=limits.extra_deadline,
            cap=limits.cap,
        )
        features: dict[str, Any] = dict(stage1.features())
        hub_reason = refused = ""
        if stage1.extra is not None:
            features.update(consortium_features(stage1.extra))
            if self.tokeniser.oprf is not None:  # the key service evaluated for us: queued Checks may go
                self.outbox.lift_key_hold(now)
        else:
            error = stage1.extra_error
            if isinstance(error, LianfangRpcError) and not is_transient(error):
                # the hub answered, and said no (a suspended member, an expired consent): not an outage
                hub_reason, refused = "HUB_REFUSED", describe(error)
            else:
                hub_reason = getattr(error, "reason_code", "HUB_UNAVAILABLE")  # or KEY_SERVICE_…
            code = error.code.name if isinstance(error, LianfangRpcError) else type(error).__name__
            log.warning("hub check failed", extra={"fields": {"application": app.application_id, "error": code}})
        features["requested_amount"] = app.amount_fen / 100
        features["collateral_value"] = app.collateral_value_fen / 100
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
        queued = bool(refused) or should_queue(stage1.extra_error, check, canonicals)
        if queued:  # the consortium still learns of it; the late answer is attached on delivery
            app.decision["consortium_pending"] = True
        reason = "; ".join(decision.reasons)
        queued_check = (check, canonicals, refused) if queued else None
        await self._route(app, decision.outcome, "system", reason, now, queued_check)
        if self.on_decision is not None:  # once stored: a failed store is resent, not counted twice
            self.on_decision(decision)
        return app

    async def _route(
        self,
        app: Application,
        outcome: str,
        actor: str,
        reason: str,
        now: float,
        queued_check: tuple[consortium_pb2.CheckRequest, list[tuple[int, str]], str] | None = None,
    ) -> None:
        """Moves the application on, creates the task its next state needs and queues what the
        hub must hear of it (a Check that could not reach it — or that it refused, queued dead for
        a person to retry or discard —, the outcome), atomically."""
        new_state = NEXT_STATE[outcome]
        with self.store.transaction() as db:
            if queued_check is not None:  # the identifiers are queued only when it has no tokens
                check, identifiers, refused = queued_check
                queue_check_in(self.outbox, db, check, now, identifiers, refused)
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
                task = Task(new_id("task"), "credit_review", app.application_id, CREDIT_APPROVERS, reason=reason)
                self.store.add_task_in(db, task)
                app.assigned_to = CREDIT_APPROVERS
            else:
                app.assigned_to = ""
            self.store.save_in(db, app, now, to_state=new_state, actor=actor, reason=reason)
            if app.state in HUB_OUTCOMES:  # the drainer tells the hub; nobody waits for it here
                queue_outcome_in(self.outbox, db, app.application_id, HUB_OUTCOMES[app.state], now)
        self.outbox.notify()

    # -- stage 2 ------------------------------------------------------------------------------
    async def submit_due_diligence(
        self, task_id: str, findings: node_pb2.DueDiligenceFindings, actor: str
    ) -> Application:
        """Scores the assignee's findings into the final limit: approved, or referred when the
        evidence is weak. Findings no visit could produce are refused whole, the task left open;
        photos count from shortly before the task was opened (``score_findings``)."""
        task = self.store.get_task(task_id)
        if task.kind != "due_diligence" or task.state != "open":
            raise FailedPrecondition(f"task {task_id} is not an open due-diligence task")
        if task.assignee != actor:
            raise PermissionDenied(f"task {task_id} is assigned to {task.assignee}")
        now = self.clock()
        validate_findings(findings, now)
        app = self.store.get_application(task.application_id)
        states.check_transition(app.state, states.APPROVED)
        # the task was created with the application's move into due diligence (``_route``)
        opened_at = max(
            (t.at for t in self.store.history(app.application_id) if t.to_state == states.DUE_DILIGENCE), default=now
        )
        result = score_findings(findings, app.features, now, opened_at=opened_at)
        product = self.products[app.product_code]
        pre = int(app.decision["pre_credit_limit_fen"])
        final = min(collateral_cap(product, app.collateral_value_fen), round_down(pre * result.factor))
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

    async def decide_referral(
        self, application_id: str, approve: bool, comment: str, actor: str, final_limit_fen: int = 0
    ) -> Application:
        """A credit approver's decision on a referral. Approving grants ``final_limit_fen``, or
        the evidence's limit: never more than the evidence allows unless the approver says so
        (a visit that scored nothing used to end with more than a passing one)."""
        if not comment:
            raise InvalidArgument.one("comment", "an approver's decision needs a comment")
        app = self.store.get_application(application_id)
        if app.state != states.REFERRED:
            raise FailedPrecondition(f"application is {app.state}, not referred")
        if approve:
            self._grant_limit(app, final_limit_fen)
        now = self.clock()
        task = self.store.open_task_for(application_id, "credit_review")
        if task is not None:
            with self.store.transaction() as db:
                self.store.close_task_in(db, task)
        await self._route(app, APPROVE if approve else DECLINE, actor, comment, now)
        return app

    def _grant_limit(self, app: Application, final_limit_fen: int) -> None:
        product = self.products[app.product_code]
        ceiling = min(product.max_amount_fen, collateral_cap(product, app.collateral_value_fen))
        if final_limit_fen:
            if not product.min_amount_fen <= final_limit_fen <= ceiling:
                raise InvalidArgument.one(
                    "final_limit_fen",
                    f"must be within {product.min_amount_fen}-{ceiling} fen (the product, the pledge)",
                )
            app.final_limit_fen = final_limit_fen
        elif "due_diligence" in app.decision or not app.final_limit_fen:
            evidence = (
                app.final_limit_fen if "due_diligence" in app.decision else int(app.decision["pre_credit_limit_fen"])
            )
            if min(evidence, ceiling) < product.min_amount_fen:
                raise InvalidArgument.one(
                    "final_limit_fen",
                    "required: the evidence gives no limit the product lends (no income evidence, a due diligence "
                    "that scored nothing, or less than the product's minimum), so the approver sets one",
                )
            app.final_limit_fen = min(evidence, ceiling)
        app.final_rate = float(app.decision.get("annual_rate") or max(product.price_grid.values()))

    async def confirm_fraud(self, r: node_pb2.ConfirmFraudRequest, actor: str) -> Application:
        """Records confirmed fraud and shares it: outcome + a confirmed-fraud marker per identifier.

        The markers are filed one call each; the ones filed are saved with the application as
        they go (``decision["fraud_filed"]``), so a call that fails midway (the hub refusing or
        unreachable) leaves the application as it was but for that list, and a retry files only
        the rest. Calls for one application run one at a time (a double click files once).

        The state change closes the application's open due-diligence, referral and disbursement
        review tasks and rejects its drawdowns pending review (releasing the amount they
        reserved), in the same transaction, its history saying so."""
        v: list[FieldViolation] = []
        if r.evidence_level == common_pb2.EVIDENCE_LEVEL_UNSPECIFIED:
            v.append(FieldViolation("evidence_level", "confirmed fraud needs an evidence level"))
        check_reason_code(r.reason_code, "reason_code", v)  # shown to every member hitting the marker
        check_free_text(r.case_ref, "case_ref", v, max_chars=128)
        if v:
            raise InvalidArgument(v)
        async with self._locks.hold(r.application_id):
            app = self.store.get_application(r.application_id)
            states.check_transition(app.state, states.FRAUD_CONFIRMED)
            person_ids = stored_identifiers(app.identifiers, person_only=True)  # what markers are filed on
            # both reach every member hitting the marker (and the hub's log): the applicant's own
            # identifiers (a device's, an address) and name, which no shape tells from other text
            own = OwnIdentifiers(stored_identifiers(app.identifiers), app.applicant_name)
            leaks = own.violations([("reason_code", r.reason_code), ("case_ref", r.case_ref)])
            if leaks:
                raise InvalidArgument(leaks)
            filed: dict[str, str] = dict(app.decision.get("fraud_filed", {}))  # token -> marker id
            with answered_by_hub():
                for token in await tokenise(person_ids, self.tokeniser, primary=True):  # one per identifier
                    key = f"{token.scheme}.{token.type}.{token.epoch}.{token.value.hex()}"
                    if key in filed:
                        continue  # filed by an earlier attempt that failed later
                    marker = await self.hub.file_marker(
                        token,
                        common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
                        r.reason_code,
                        evidence_level=r.evidence_level,
                        case_ref=r.case_ref,
                        application_ref=app.application_id,  # the Check's: a contribution
                        timeout=self.policy.hub_deadline,
                    )
                    filed[key] = marker.marker_id
                    with self.store.transaction() as db:  # only the list, onto the stored application
                        stored = self.store.get_application(app.application_id)
                        stored.decision["fraud_filed"] = dict(filed)
                        self.store.save_in(db, stored, self.clock())
                        record_filed_marker_in(
                            self.store, db, marker.marker_id, app.application_id, actor, self.clock()
                        )
                links = epoch_links(person_ids, self.tokeniser)
                if links:  # a key rotation is under way: the markers must outlive the old epoch
                    await self.hub.link_tokens(links, timeout=self.policy.hub_deadline)
            markers = list(filed.values())
            now = self.clock()
            with self.store.transaction() as db:  # the stored application: changes meanwhile stay
                app = self.store.get_application(app.application_id)
                app.decision["fraud_filed"] = dict(filed)
                app.decision["fraud"] = {
                    "reason_code": r.reason_code,
                    "evidence_level": r.evidence_level,
                    "markers": markers,
                }
                confirmed = f"fraud confirmed ({r.reason_code})"
                reason = f"{confirmed}; {len(markers)} marker(s) filed at the hub"
                # Nothing is decided or paid out any more: its visit, referral and disbursement
                # reviews close, and drawdowns waiting for review are rejected, their reserved
                # amount released (a funded loan's post-loan risk check stays open: the money is out).
                moot = [
                    t
                    for t in self.store.tasks_for(app.application_id)
                    if t.state == "open" and t.kind in ("due_diligence", "credit_review", "disbursement_review")
                ]
                for task in moot:
                    self.store.close_task_in(db, task)
                if moot:
                    reason += f"; closed its open task(s): {', '.join(t.kind for t in moot)}"
                rejected = reject_waiting_drawdowns_in(self.store, db, app, confirmed)
                if rejected:
                    reason += f"; {rejected}"
                app.assigned_to = ""
                self.store.save_in(db, app, now, to_state=states.FRAUD_CONFIRMED, actor=actor, reason=reason)
                queue_outcome_in(self.outbox, db, app.application_id, common_pb2.OUTCOME_FRAUD_CONFIRMED, now)
        self.outbox.notify()
        return app


def _same_identifiers(kept: dict[str, Any], given: node_pb2.Identifiers) -> bool:
    """Whether ``given`` are the identifiers an application kept, in any spelling: all of them
    (a retry with other bank accounts would have been answered as the first, and the accounts
    kept are what an entrusted payee is checked against), or, for an application kept before
    the others were, the business's or person's own and its phones."""
    person_only = "bank_accounts" not in kept
    try:
        theirs = stored_identifiers(kept_identifiers(normalised_identifiers(given)), person_only=person_only)
        ours = normalised_identifiers(stored_identifiers(kept, person_only=person_only))
        return _as_sets(ours) == _as_sets(theirs)  # a retry may list its devices in another order
    except InvalidIdentifier:
        return False


def _as_sets(ids: node_pb2.Identifiers) -> dict[str, frozenset[str]]:
    """Each identifier field's values, order and repeats aside."""
    return {f.name: frozenset([v] if isinstance(v, str) else v) for f, v in ids.ListFields()}


def _resubmitted(existing: Application, r: node_pb2.SubmitApplicationRequest, owner: str) -> Application:
    """``existing`` when ``r`` is its retry (the same customer, applicant, product, amount, term
    and authorisation), else ALREADY_EXISTS naming nothing of it."""
    same = (
        existing.owner == owner
        and _same_identifiers(existing.identifiers, r.identifiers)
        and (existing.product_code, existing.amount_fen, existing.consent_ref, existing.collateral_value_fen)
        == (r.product_code, r.amount_fen, r.consent_ref, r.collateral_value_fen)
        and (existing.term_months, existing.repayment_method, existing.applicant_kind)
        == (r.term_months, r.repayment_method, KIND_NAMES.get(r.applicant_kind))
        and (existing.applicant_name, existing.industry, existing.locality)
        == (r.applicant_name, r.industry, r.locality)
    )
    if not same:
        raise AlreadyExists(f"application_ref {r.application_ref!r} is already used by another application")
    return existing


def source_request(app: Application) -> SourceRequest:
    """What the data providers are asked about an application: its identifiers as stored (the
    pre-screen's sources, and the bureau again after disbursement)."""
    kept = stored_identifiers(app.identifiers)
    return SourceRequest(
        application_ref=app.application_id,
        applicant_kind=app.applicant_kind,  # type: ignore[arg-type]
        name=app.applicant_name,
        uscc=kept.uscc,
        resident_id=kept.resident_id,
        legal_rep_resident_id=kept.legal_rep_resident_id,
        phones=tuple(kept.phones),
        industry=app.industry,
        locality=app.locality,
    )
