"""The hub's fraud rings: the store's consortium log folded into an in-memory :class:`RingIndex`.

Why a log and not the index itself in the store: a ring merge relabels up to half a ring and a
hub-token split walks a ring's edges, multi-key work that Redis Cluster cannot do atomically
across slots. Instead every hub process folds the same append-only log (``ConsortiumLog``) in the same
order into its own index, so replicas on one store hold identical rings, and a restarted hub
replays the log to exactly the rings it had. A Check appends its application and, in the same
round trip, receives everything appended since this process last looked; it then answers from an
index that includes its own application and every earlier one. The same fold keeps every token's
application history (``consortium.stacking_index``), which Check's stacking counts come from.

Events are compact JSON arrays; only token keys, member ids and references appear (no raw data):

- ``["a", member, ref, received_at, [linking token keys], person token or null, [other token
  keys], link policy fingerprint]``: an application (blacklisted when one of its tokens carries
  a negative marker, from "m" events). All its token keys, linking or not, are counted for stacking
  (``consortium.stacking_index``); entries written before the last list existed have only the
  linking ones. Which keys link, and in which window, is the folding process's ``LinkPolicy``
  (the split in the event is the logging process's): replicas must share one policy, and a
  hub restarted with another refolds the log into the rings that policy gives. The policy's
  fingerprint on each application tells a hub when one logged under another
  (``RingTracker.foreign_links``).
- ``["o", member, ref, outcome, at]``: a reported outcome (defaulted / fraud confirmed; ``at``
  is absent from older entries).
- ``["m", token, active, filer, at]``: a token's negative-marker state changed (filed, withdrawn).
- ``["w", …]``, ``["wk", …]``: post-loan watches and their acknowledgements (``consortium.watch``).
- ``["x", admin, action, member, at, reason]``: an admin action (audit only).
- ``["q", admin, member, daily quota or null, at, reason]``: a member's own daily Check quota
  (``consortium.usage``); null: the hub's default again.
- ``["r", before]``: retention ran; applications received before ``before`` leave the rings.
- ``["sa", member, token count, at, [token keys]]``: a subject access request (the keys from this
  version on): counted like a Check, seen by canaries and later access requests (``looked_up``).

The fold is idempotent (a repeated event changes nothing), so a retried append is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2

from consortium.log_format import encode_event
from consortium.records import ApplicationRecord, Marker
from consortium.stacking_index import StackingIndex
from consortium.store.base import LOG_START, ConsortiumLog, LogCursor
from graph import AppMeta, LinkPolicy, RingIndex, RingScore, RingSummary, app_id_of, person_key_of, score_ring
from graph.aggregates import RingAggregates
from graph.policy import raw_key
from graph.scoring import DEFAULT_SCORING, ScoringConfig

log = logging.getLogger("lianfang.hub.rings")

_PAGE = 5_000
_NO_META = AppMeta()
_PUBLIC_ID_CACHE = 100_000
# log entries per read while catching up; "w"/"wk": post-loan watches, "rk"/"rkc"/"rkd": OPRF re-keying,
# "cn": canaries
_CORRECTING_OUTCOMES = frozenset({common_pb2.OUTCOME_APPROVED, common_pb2.OUTCOME_DECLINED})
"""A decision sent after defaulted or fraud_confirmed corrects it: the ring stops counting the
application as either. Funded and repaid do not: a repaid default (a recovery) is still a
default, and a facility drawn again after one is the same borrower."""
_OTHER_FOLDS = frozenset(
    {"x", "d", "ek", "ke", "kg", "kr", "al", "alc", "sa", "w", "wk", "rk", "rkc", "rkd", "cn", "mk"}
)


Observer = Callable[[LogCursor, str, "list[Any] | None"], None]
"""Sees each log entry once, in order: its cursor, its text, and its decoding (None if malformed)."""


def ring_public_id(ring_id: str, key: bytes = b"") -> str:
    """The id members and analysts see. The index's ring id is an application id (another
    member's reference): it leaves the hub only as an HMAC under ``key``, a secret every replica
    shares (derived from the audit key), so nobody can test guesses of references against it.
    Deterministic, so replicas agree."""
    return "ring-" + hmac.new(key, b"lianfang-ring\x00" + ring_id.encode(), hashlib.sha256).hexdigest()[:20]


def application_event(app: ApplicationRecord, policy: LinkPolicy) -> str:
    return encode_event(application_event_body(app, policy))


def ring_id_key(signing_key: Ed25519PrivateKey | None) -> bytes:
    """The secret ring ids are keyed with: derived from the audit key, which every replica holds
    (empty without one: ids are then plain hashes)."""
    if signing_key is None:
        return b""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hashlib.sha256(b"lianfang-ring-ids\x00" + raw).digest()


def application_event_body(app: ApplicationRecord, policy: LinkPolicy) -> list[Any]:
    """The application's log event before encoding: exactly what decoding it gives back, so the
    process that logs it can fold it without parsing it again (``RingTracker.apply``)."""
    linking: list[str] = []
    others: list[str] = []
    for key in dict.fromkeys(app.token_keys):
        (linking if policy.links(key) else others).append(key)
    return [
        "a",
        app.member_id,
        app.application_ref,
        app.received_at,
        linking,
        person_key_of(app.token_keys),
        others,
        policy.fingerprint,
    ]


def application_tokens(decoded: list[Any]) -> list[Any]:
    """Every token key of a decoded application event: the linking ones and the others (an IP's
    /24; every type in a consortium with rings off). Watches, canaries and subject access look
    at all of them, not only at what links rings."""
    return [*decoded[4], *(decoded[6] if len(decoded) > 6 else ())]


def looked_up(event: list[Any]) -> list[str]:
    """The token keys a query looked up: a Check's (``"a"``), or a subject access request's
    (``"sa"``, which logs them from this version on); none for any other entry."""
    if event[0] == "a":
        return application_tokens(event)
    if event[0] == "sa" and len(event) > 4:
        return [str(k) for k in event[4]]
    return []


def outcome_event(member_id: str, application_ref: str, outcome: int, at: float | None = None) -> str:
    body: list[Any] = ["o", member_id, application_ref, int(outcome)]
    return encode_event(body if at is None else [*body, at])


def marker_event(
    token: str, active: bool, filer: str = "", at: float | None = None, *, from_application: str | None = None
) -> str:
    """A token's negative-marker state changed; ``filer``: who filed or withdrew;
    ``from_application``: the filer's application that carried the token ("" none), which makes
    the filing a contribution, one per application (give-to-get; entries without it count)."""
    body: list[Any] = ["m", token, int(active), filer]
    if at is not None:
        body.append(at)
        if from_application is not None:
            body.append(from_application)
    return encode_event(body)


def marker_change_event(action: str, marker: Marker, at: float, *, from_application: str | None = None) -> str:
    """A marker filed or withdrawn (``action``), for the audit log and give-to-get: a protective
    filing, which changes no token's negative state (``marker_event``), and every withdrawal by
    the filer, whose filing then no longer counts as a contribution. The ring index ignores it.
    ``from_application``: as for ``marker_event``."""
    body: list[Any] = ["mk", action, marker.marker_id, marker.token_key, marker.filer_member_id, marker.marker_type]
    body += [marker.filed_at, at] if from_application is None else [marker.filed_at, at, from_application]
    return encode_event(body)


def admin_event(admin: str, action: str, member_id: str, at: float, reason: str = "") -> str:
    """An admin action, for the audit log (the ring index ignores it)."""
    return encode_event(["x", admin, action, member_id, at, reason])


def quota_event(admin: str, member_id: str, daily_checks: int | None, at: float, reason: str = "") -> str:
    """A member's own daily Check quota (``None``: the hub's default again), set by an admin:
    audited, and folded by every replica's usage guard (the ring index ignores it)."""
    return encode_event(["q", admin, member_id, daily_checks, at, reason])


@dataclass(frozen=True, slots=True)
class RingView:
    """One ring as the hub reports it: public id, countable facts, explained score."""

    public_id: str
    summary: RingSummary
    score: RingScore


class RingTracker:
    """Owns this process's folds of the store's consortium log that Check answers from (the ring
    index and the stacking index) and keeps them level with the log."""

    def __init__(
        self,
        store: ConsortiumLog,
        policy: LinkPolicy | None = None,
        scoring: ScoringConfig = DEFAULT_SCORING,
        observers: Sequence[Observer] = (),
        ring_id_key: bytes = b"",
    ) -> None:
        """``observers`` see every entry folded, in log order (the audit tree, member usage)."""
        self.store = store
        self.observers = tuple(observers)
        self._ring_id_key = ring_id_key  # fixed for the tracker's life: public ids are cached
        self.policy = policy if policy is not None else LinkPolicy()
        self.scoring = scoring
        self.index = RingIndex(self.policy)
        self.aggregates = RingAggregates(self.index)  # ring summaries without walking rings
        self.stacking = StackingIndex()  # every token's applications, for stacking answers
        self.cursor: LogCursor = LOG_START
        self.applied = 0
        self.read_at = 0.0
        """When (``time.monotonic``) the log was last read through to its end: by a catch-up, or
        by a Check whose recording returned everything before its own entry."""
        self._negative_tokens: set[str] = set()
        self._public: dict[str, str] | None = None  # public id → ring id, rebuilt when stale
        self._public_ids: dict[str, str] = {}  # ring id → public id (``public_id``)
        # ``shared_by_several``, kept up to date by the fold once a token has been asked about
        # (``_note_person``) and forgotten whenever applications leave the index (``_fold``):
        self._one_person: dict[str, str | None] = {}  # token → its one known applicant (None: none yet)
        self._several: set[str] = set()  # tokens given by two or more known applicants
        # Applications logged by hubs that link under other settings, by their policy fingerprint:
        self.foreign_links: dict[str, int] = {}
        self.live = False  # set once the start-up replay is done: from then on, drift is an error
        self._reported: set[str] = set()  # fingerprints logged as errors since going live
        self.drifted = 0  # applications folded since going live that were logged under other settings

    # -- keeping up with the log -----------------------------------------------------------------
    async def catch_up(self) -> int:
        """Folds everything appended since the last look; returns how many entries that was."""
        applied_before = self.applied
        started = time.monotonic()
        while True:
            entries = await self.store.log_events(self.cursor, _PAGE)
            self.apply(entries)
            if len(entries) < _PAGE:
                self.read_at = max(self.read_at, started)  # only once read through to the end
                return self.applied - applied_before

    async def publish(self, events: Sequence[str]) -> None:
        """Appends events and folds them together with everything before them."""
        if events:
            self.apply(await self.store.append_log_events(events, self.cursor))

    def apply(self, entries: Iterable[tuple[LogCursor, str]], bodies: Mapping[str, list[Any]] | None = None) -> None:
        """Folds log entries (as a store returns them; ones already folded are skipped).
        ``bodies``: the decoding of events this process just logged, by their text, so they are
        not parsed again (``application_event_body``)."""
        # Concurrent publishes of one process may return overlapping ranges: skip what is folded.
        for cursor, event in entries:
            if cursor <= self.cursor:
                continue
            decoded: list[Any] | None = None
            try:
                decoded = bodies.get(event) if bodies else None
                if decoded is None:
                    decoded = json.loads(event)
                self._fold(decoded)  # type: ignore[arg-type]
            except (ValueError, KeyError, IndexError, TypeError):
                log.error("skipping a malformed consortium log entry", extra={"fields": {"cursor": list(cursor)}})
                decoded = None
            for observe in self.observers:
                observe(cursor, event, decoded)
            self.cursor = cursor
            self.applied += 1
            self._public = None

    def _fold(self, event: list[Any]) -> None:
        kind = event[0]
        if kind == "a":
            member, ref, at, tokens, person = str(event[1]), str(event[2]), float(event[3]), event[4], event[5]
            app_id = app_id_of(member, ref)
            if app_id in self.index:
                return  # a retried Check: the first recording stands (as in the store)
            token_keys = [str(t) for t in tokens]
            if len(event) > 6:
                token_keys += (str(t) for t in event[6])
                if len(event) > 7 and event[7] != self.policy.fingerprint:
                    self._note_foreign_links(str(event[7]), member)
            # Linking is this process's policy, not the logging one's: a changed policy refolds.
            links = self.policy.link_keys(token_keys, at)
            negative = self._negative_tokens
            blacklisted = (
                bool(negative)
                and any(t in negative for t in token_keys)  # rare: only then which linking key it was
                and any(raw_key(t) in negative for t in links)
            )
            meta = AppMeta(member, at, None if person is None else str(person), blacklisted=blacklisted)
            self.aggregates.add_application(app_id, links, meta)
            self.stacking.add(dict.fromkeys(token_keys), member, at)
            if meta.person is not None and self._one_person:
                self._note_person(links, meta.person)
        elif kind == "o":
            member, ref, outcome = event[1], event[2], event[3]
            app_id = app_id_of(str(member), str(ref))
            if app_id not in self.index:
                return
            if outcome == common_pb2.OUTCOME_DEFAULTED:
                self.aggregates.update_meta(app_id, defaulted=True)
            elif outcome == common_pb2.OUTCOME_FRAUD_CONFIRMED:
                self.aggregates.update_meta(app_id, fraud_confirmed=True)
            elif outcome in _CORRECTING_OUTCOMES:
                self.aggregates.update_meta(app_id, defaulted=False, fraud_confirmed=False)
        elif kind == "r":  # retention: applications received before the bound leave the rings
            before = float(event[1])
            expired = [a for a in self.index.state.iter_apps() if (self.index.meta(a) or _NO_META).received_at < before]
            for app_id in expired:
                self.index.remove_application(app_id)
            if expired:
                self.aggregates.forget()
                self._one_person.clear()  # applications left: shared_by_several walks again
                self._several.clear()
            self.stacking.forget_before(before)
        elif kind == "q":  # the usage guard's; checked here so a malformed one is skipped as such
            if not isinstance(event[2], str) or not (event[3] is None or (type(event[3]) is int and event[3] >= 0)):
                raise ValueError("malformed quota entry")
        elif kind in _OTHER_FOLDS:
            pass  # admin actions, disputes, key epochs: other folds' business
        elif kind == "m":
            token, active = event[1], event[2]
            token = str(token)
            if active:
                self._negative_tokens.add(token)
            else:
                self._negative_tokens.discard(token)
            negative = self._negative_tokens
            for index_token in self.index_tokens(token):
                for app_id in list(self.index.apps_of(index_token)):
                    flag = any(raw_key(t) in negative for t in self.index.tokens_of(app_id))
                    self.aggregates.update_meta(app_id, blacklisted=flag)
        else:
            raise ValueError(f"unknown ring event {kind!r}")

    def _note_foreign_links(self, fingerprint: str, member: str) -> None:
        """An application logged by a hub whose ring-link settings differ from this one's: its
        rings (and so its answers) differ too. Counted; once the replay is done, logged as an
        error the first time each other setting appears (a replica running now disagrees; a
        rolling change of the settings shows here until every replica runs the new ones)."""
        self.foreign_links[fingerprint] = self.foreign_links.get(fingerprint, 0) + 1
        if self.live:
            self.drifted += 1
        if self.live and fingerprint not in self._reported:
            self._reported.add(fingerprint)
            log.error(
                "another hub on this store links rings under other settings (ring_link_caps, "
                "ring_link_windows_hours, ring_link_window_start_hour): replicas answer Checks "
                "differently until they agree",
                extra={"fields": {"theirs": fingerprint, "ours": self.policy.fingerprint, "member": member}},
            )

    @property
    def negative_tokens(self) -> frozenset[str]:
        """The tokens the log says carry an effective negative marker (a copy)."""
        return frozenset(self._negative_tokens)

    def index_tokens(self, token: str) -> list[str]:
        """The ring index's tokens of a token key: the key, or a windowed type's key once per
        window it was seen in (from its application times, which the stacking fold keeps)."""
        window = self.policy.window_of(token)
        if window is None:
            return [token]
        window_token = self.policy.window_token
        return sorted({window_token(token, at, window) for at in self.stacking.times_of(token)})

    # -- answers -------------------------------------------------------------------------------
    def view(self, ring_id: str) -> RingView | None:
        summary = self.aggregates.summary(ring_id)
        if summary is None:
            return None
        return RingView(self.public_id(ring_id), summary, score_ring(summary, self.scoring))

    def view_of(self, member_id: str, application_ref: str) -> RingView | None:
        """The ring of an application (a ring of one when it links to nothing); None if unknown."""
        ring_id = self.index.ring_of(app_id_of(member_id, application_ref))
        return None if ring_id is None else self.view(ring_id)

    def shared_by_several(self, token: str) -> bool:
        """Whether two or more *known* different applicants gave this ring index token (for a
        windowed type, within its window: ``LinkPolicy.index_token``). An application without a
        resident ID or USCC does not count. A token asked about is walked once;
        from then on the fold keeps its answer (``_note_person``), until a retention pass."""
        if token in self._several:
            return True
        if token in self._one_person or self.index.token_degree(token) < 2:
            return False
        first: str | None = None
        for app_id in self.index.apps_of(token):
            meta = self.index.meta(app_id)
            person = meta.person if meta is not None else None
            if person is None:
                continue
            if first is None:
                first = person
            elif person != first:
                self._several.add(token)
                return True
        self._one_person[token] = first
        return False

    def _note_person(self, tokens: Iterable[str], person: str) -> None:
        """A new application of ``person`` gave ``tokens``: updates the tokens already asked about."""
        one_person = self._one_person
        for token in tokens:
            first = one_person.get(token, person)  # not asked about yet: nothing to update
            if first is None:
                one_person[token] = person
            elif first != person:
                del one_person[token]
                self._several.add(token)

    def public_id(self, ring_id: str) -> str:
        """``ring_public_id`` under this hub's key, remembered (a linked Check asks on every
        answer): a pure function of the ring id, as the key never changes."""
        public = self._public_ids.get(ring_id)
        if public is None:
            if len(self._public_ids) >= _PUBLIC_ID_CACHE:
                self._public_ids.clear()
            public = self._public_ids[ring_id] = ring_public_id(ring_id, self._ring_id_key)
        return public

    def linked_view(self, member_id: str, application_ref: str) -> RingView | None:
        """The application's ring when it has two or more members (what Check reports), else
        None; a lone application costs a dictionary lookup, not a summary."""
        ring_id = self.index.ring_of(app_id_of(member_id, application_ref))
        if ring_id is None or self.index.ring_size(ring_id) < 2:
            return None
        return self.view(ring_id)

    def resolve(self, public_id: str) -> str | None:
        """The index's ring id behind a public id, for rings of two or more (None if stale)."""
        if self._public is None:
            key = self._ring_id_key  # every ring: not through the cache, which keeps the hot ones
            self._public = {ring_public_id(ring_id, key): ring_id for ring_id, _ in self.index.rings()}
        return self._public.get(public_id)
