"""Replays the synthetic workload through a local consortium and scores what the hub caught."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from lianfang.v1 import audit_pb2, common_pb2, consortium_pb2, node_pb2

from clients.analyst import AnalystClient
from clients.analyst_web.page import standalone_page
from clients.audit import AuditClient, public_key_of, verify_log
from clients.cli.analyst_commands import ring_page_data
from clients.credentials import JwtSigner, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.demo.workload import DAY, Application, Filing, build_workload
from consortium.ring_messages import HIGH_RISK_SCORE
from graph.export import from_json
from node.identity.applicant import epoch_links, tokenise
from runtime.clock import ManualClock

PERSON_TYPES = ("RESIDENT_ID", "PHONE", "BANK_ACCOUNT", "DEVICE_ID")
SHORT_WINDOWS = ("1H", "24H", "7D")
NEGATIVE = {
    common_pb2.MARKER_TYPE_CONFIRMED_FRAUD,
    common_pb2.MARKER_TYPE_SUSPECT,
    common_pb2.MARKER_TYPE_COURT_DISHONEST,
}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, truth: bool, predicted: bool) -> None:
        self.tp += truth and predicted
        self.fp += predicted and not truth
        self.fn += truth and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class DemoResult:
    applicants: int
    lenders: int
    checks: int = 0
    markers_filed: int = 0
    markers_withdrawn: int = 0
    ip_only_stacking: int = 0
    states: dict[str, int] = field(default_factory=dict)
    stacking: Score = field(default_factory=Score)
    blacklist: Score = field(default_factory=Score)
    protective: Score = field(default_factory=Score)
    rings: Score = field(default_factory=Score)  # per application, after the workload
    rings_at_check: Score = field(default_factory=Score)  # per application, in its own Check
    rings_flagged: int = 0
    top_ring: str = ""
    audit: str = ""
    rotation: str = ""
    tokens_linked: int = 0
    page: str = ""
    seconds: float = 0.0


def stacking_flag(answer: consortium_pb2.CheckResponse) -> bool:
    """Stacking on a person identifier within 7 days (shared IPs alone do not count)."""
    for reason in answer.reasons:
        parts = reason.code.split("_")
        if parts[0] == "STACKING" and "_".join(parts[1:-1]) in PERSON_TYPES and parts[-1] in SHORT_WINDOWS:
            return True
    return False


async def run_demo(
    applicants: int = 1000,
    lenders: int = 3,
    *,
    seed: int = 7,
    weeks: int = 8,
    store_url: str = "",
    folder: str | None = None,
    page: str = "",
    tokens: str = "hmac",
) -> DemoResult:
    """Replays the workload; ``page``: where to write the top ring's standalone graph page;
    ``tokens="oprf"``: a key service evaluates every token and rotates once (Δ re-keying)."""
    member_ids = [f"lender-{chr(ord('a') + i)}" for i in range(lenders)]
    work = build_workload(applicants, member_ids, weeks=weeks, seed=seed)
    clock = ManualClock(work.start)
    result = DemoResult(applicants=applicants, lenders=lenders)
    with tempfile.TemporaryDirectory(prefix="lianfang-demo-") as tmp:
        consortium = await start_local_consortium(
            Path(folder or tmp), member_ids, store_url=store_url, clock=clock, key_source="hub", token_mode=tokens
        )
        # the lenders' origination desks submit (staff see the decision's reasons and the hub's
        # answer the detectors are scored on; a borrower's own view hides them: customer_view)
        desks = {m: consortium.members[m].as_role("customer_manager", "front-desk") for m in member_ids}
        try:
            started = time.perf_counter()
            events: list[tuple[float, int, Application | Filing | tuple[str, str]]] = []
            events += [(f.at, 0, f) for f in work.filings]
            events += [(a.at, 2, a) for a in work.applications]
            withdrawals: dict[int, list[str]] = {}
            for f in work.filings:
                if f.withdraw_at is not None:
                    events.append((f.withdraw_at, 1, (f.lender, str(id(f)))))
            events.sort(key=lambda e: (e[0], e[1]))
            active_negative: dict[str, set[int]] = {}  # resident id -> filings in force
            protected: set[str] = set()
            history: dict[str, list[tuple[float, str]]] = {}
            hub_refs: dict[str, str] = {}
            first = member_ids[0]
            auditor = AuditClient(
                consortium.hub_channel(first), JwtSigner(first, load_private_key(consortium.members[first].key_file))
            )
            audit_key = public_key_of(consortium.audit_public_key)
            midway: audit_pb2.SignedTreeHead | None = None
            for n, (at, _, event) in enumerate(events):
                if n == len(events) // 2:  # a member takes a signed head mid-run ...
                    midway = (await verify_log(auditor, audit_key, None, entries=False)).head
                if n == len(events) // 3 and consortium.key_service is not None:  # OPRF: Δ re-keys the hub
                    report = await consortium.key_service.rotate(consortium.hub.store, consortium.hub.rings)
                    result.tokens_linked = report.linked
                    result.rotation = f"OPRF epoch 2 from event {n}, hub re-keyed with Δ, epoch 1 key destroyed"
                elif n == len(events) // 3:  # key rotation: epoch 2 joins, both are sent meanwhile ...
                    await consortium.rotate_keys(2)
                    result.tokens_linked += await _carry_markers_over(consortium, work.filings, at)
                    result.rotation = f"epoch 2 from event {n}"
                if n == 2 * len(events) // 3 and consortium.key_service is None:  # ... epoch 1 retired: epoch 2 alone
                    await consortium.retire_keys(1)
                    result.rotation += f", epoch 1 retired at event {n}"
                clock.now = at
                if isinstance(event, Filing):
                    member = consortium.members[event.lender]
                    ids = _marked_identifiers(event)
                    marker_ids = []
                    for token in await tokenise(ids, member.tokeniser, primary=True):
                        marker = await member.hub_client.file_marker(
                            token, event.marker_type, event.reason_code, evidence_level=event.evidence_level
                        )
                        marker_ids.append(marker.marker_id)
                        result.markers_filed += 1
                    links = epoch_links(ids, member.tokeniser)  # filed during a rotation's overlap
                    if links:
                        result.tokens_linked += await member.hub_client.link_tokens(links)
                    withdrawals[id(event)] = marker_ids
                    if event.marker_type in NEGATIVE:
                        active_negative.setdefault(event.person.resident_id, set()).add(id(event))
                    else:
                        protected.add(event.person.resident_id)
                elif isinstance(event, tuple):
                    lender, key = event
                    member = consortium.members[lender]
                    for marker_id in withdrawals.pop(int(key)):
                        await member.hub_client.withdraw_marker(marker_id, "filed in error")
                        result.markers_withdrawn += 1
                    for filings in active_negative.values():
                        filings.discard(int(key))
                else:
                    app = event
                    member = consortium.members[app.lender]
                    view = await desks[app.lender].submit_application(
                        node_pb2.SubmitApplicationRequest(
                            application_ref=app.ref,
                            product_code="xiaowei_puhui",
                            applicant_kind=common_pb2.APPLICANT_KIND_INDIVIDUAL_BUSINESS,
                            applicant_name=f"applicant {app.ref}",
                            identifiers=app.person.identifiers(),
                            industry="retail",
                            locality="shanghai-pudong",
                            amount_fen=app.amount_yuan * 100,
                            term_months=12,
                            repayment_method="equal_instalments",
                            consent_ref=f"consent-{app.ref}",
                        )
                    )
                    answer = view.decision.consortium
                    hub_refs[app.ref] = view.application_id  # what the node sent the hub
                    result.checks += 1
                    result.states[view.state] = result.states.get(view.state, 0) + 1
                    rid = app.person.resident_id
                    seen = history.setdefault(rid, [])
                    stack_truth = any(lender != app.lender and at - t <= 7 * DAY for t, lender in seen)
                    seen.append((at, app.lender))
                    flagged = stacking_flag(answer)
                    result.stacking.add(stack_truth, flagged)
                    if not flagged and any(r.code.startswith("STACKING_IP") for r in answer.reasons):
                        result.ip_only_stacking += 1
                    codes = [r.code for r in answer.reasons]
                    blacklisted = any(c.startswith("BLACKLIST_") for c in codes)
                    result.blacklist.add(bool(active_negative.get(rid)), blacklisted)
                    result.protective.add(rid in protected, any(c.startswith("PROTECTIVE_") for c in codes))
                    result.rings_at_check.add(app.role == "ring", "RING_HIGH_RISK" in codes)
            result.seconds = time.perf_counter() - started
            # ... and checks at the end that the log still extends it (nothing rewritten).
            verified = await verify_log(auditor, audit_key, midway, entries=False)
            result.audit = f"{verified.head.tree_size} entries; signed head verified, extends the mid-run head of "
            result.audit += f"{verified.checked_against}"
            await auditor.close()
            await _score_rings(consortium.analyst, work.applications, hub_refs, result, page)
        finally:
            await consortium.stop()
    return result


def _marked_identifiers(f: Filing) -> node_pb2.Identifiers:
    """A filing marks the person's ID (as a private applicant and as a legal representative)
    and bank account."""
    rid = f.person.resident_id
    return node_pb2.Identifiers(resident_id=rid, legal_rep_resident_id=rid, bank_accounts=[f.person.bank_account])


async def _carry_markers_over(consortium: LocalConsortium, filings: list[Filing], now: float) -> int:
    """Each filer links its marker subjects' tokens across the epochs (its case files hold the
    identifiers), so the markers keep matching once the old epoch is retired."""
    linked = 0
    by_filer: dict[str, list[tuple[common_pb2.Token, common_pb2.Token]]] = {}
    for f in filings:
        if f.at > now:
            continue
        pairs = epoch_links(_marked_identifiers(f), consortium.members[f.lender].tokeniser)
        by_filer.setdefault(f.lender, []).extend(pairs)
    for lender, pairs in by_filer.items():
        linked += await consortium.members[lender].hub_client.link_tokens(pairs)
    return linked


async def _score_rings(
    analyst: AnalystClient, apps: list[Application], hub_refs: dict[str, str], result: DemoResult, page: str
) -> None:
    """Which applications ended up in a high-risk ring (the hub's RING_HIGH_RISK threshold), as
    an analyst sees it after the workload; and the top ring's page."""
    listed = await analyst.list_rings(min_score=HIGH_RISK_SCORE, limit=500)
    flagged: set[str] = set()
    for ring in listed.rings:
        graph = from_json((await analyst.export(ring_id=ring.ring_id)).content)
        flagged.update(node for node, kind in graph.nodes(data="kind") if kind == "application")
    result.rings_flagged = listed.matched
    for app in apps:
        result.rings.add(app.role == "ring", f"{app.lender}/{hub_refs[app.ref]}" in flagged)
    if listed.rings and page:
        top = listed.rings[0]
        data = await ring_page_data(analyst, ring_id=top.ring_id)
        Path(page).write_text(standalone_page(data, title=f"Lianfang {top.ring_id}"), encoding="utf-8")
        result.top_ring = f"{top.ring_id}: {top.size} applications, {top.lenders} lenders, score {top.score:.2f}"
        result.page = page


def print_report(result: DemoResult, out: TextIO) -> None:
    rows = [
        ("applicants", str(result.applicants)),
        ("applications (node pipeline → hub Check, TLS)", str(result.checks)),
        ("decisions", ", ".join(f"{k} {v}" for k, v in sorted(result.states.items()))),
        ("markers filed / withdrawn", f"{result.markers_filed} / {result.markers_withdrawn}"),
        ("shared-IP stacking seen but not flagged", str(result.ip_only_stacking)),
        ("wall time", f"{result.seconds:.1f} s ({result.checks / max(result.seconds, 1e-9):.0f} checks/s)"),
        ("audit log (RFC 6962)", result.audit),
        ("key rotation", f"{result.rotation}; {result.tokens_linked} tokens carried over"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"Lianfang demo — hub + {result.lenders} member nodes on loopback, gRPC over mutual TLS, scoped JWTs",
        file=out,
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", file=out)
    print("", file=out)
    print(f"  {'detector':<22}{'caught':>8}{'missed':>8}{'false +':>9}{'recall':>9}{'precision':>11}", file=out)
    for name, s in (
        ("stacking (≤7 d)", result.stacking),
        ("blacklist (negative)", result.blacklist),
        ("protective markers", result.protective),
        ("fraud rings (final)", result.rings),
        ("  … at application", result.rings_at_check),
    ):
        print(f"  {name:<22}{s.tp:>8}{s.fn:>8}{s.fp:>9}{s.recall:>9.1%}{s.precision:>11.1%}", file=out)
    print("", file=out)
    print(f"  high-risk rings: {result.rings_flagged}; top ring {result.top_ring or '(none)'}", file=out)
    if result.page:
        print(f"  top ring's graph page (open in a browser, works offline): {result.page}", file=out)
    print("  rings are scored per application: 'final' = in a ring scored >= 0.7 once the workload is in;", file=out)
    print("  'at application' = RING_HIGH_RISK in its own Check (a ring's first members arrive alone)", file=out)
