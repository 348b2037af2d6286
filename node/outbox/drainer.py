"""The background task that empties the outbox into the hub.

Rows go out oldest first, never before an earlier pending or dead row of the same application
(so an outcome never overtakes its Check; a discarded Check lets them go, and an outcome the hub
then refuses with NOT_FOUND is settled, not dead-lettered). A row is marked sent only after the
hub acknowledged it, in the same transaction as what the answer changes on the node (a late
Check answer): a crash between the hub's ack and that commit resends the row, and the hub's
idempotency (Check on member + application_ref, ReportOutcome) absorbs the repeat — exactly-once
*effect*. Transient errors back off (full jitter, at least the hub's RetryInfo); permanent
refusals are dead-lettered with their error and logged at ERROR, never dropped (but for that
NOT_FOUND after a discarded Check). While the
circuit is open the drainer waits; after the cool-down its next delivery is the probe. An
untokenised Check (OPRF mode, queued while the key service was out of reach) gets its tokens
from the key service first, outside the hub's circuit breaker, and is stored at once as a plain
Check (no identifiers left, one evaluation per row whatever the hub does next). Rows sent or
discarded more than ``keep_payload_seconds`` ago lose their request bytes (checked at most
hourly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from lianfang.v1 import consortium_pb2

from clients.circuit import CircuitOpen
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from node.hub_errors import describe, is_transient, refused_for_stale_keys
from node.hub_gate import HubGate
from node.identity.applicant import canonical_identifiers, retokenise
from node.identity.keyring import KeyRing
from node.identity.normalise import InvalidIdentifiers
from node.identity.oprf_tokens import KeyServiceUnavailable
from node.identity.own_identifiers import stored_identifiers
from node.outbox.late_answer import attach_late_answer_in
from node.outbox.queue import CHECK, OUTCOME, PAYLOAD_BATCH, UNTOKENISED_CHECK, Outbox, OutboxRow
from node.outbox.retry import Backoff
from node.outbox.submissions import untokenised_check
from runtime.clock import Clock
from runtime.errors import NotFound

log = logging.getLogger("lianfang.node.outbox")

SENT, RETRY, DEAD, WAIT = "sent", "retry", "dead", "wait"
KEYS_AWAY = "keys_away"  # the key service could not tokenise a Check: the hub may still be fine
TIDY_EVERY_SECONDS = 3600.0
TIDY_RETRY_SECONDS = 60.0


def _not_found(error: BaseException) -> bool:
    return isinstance(error, LianfangRpcError) and error.code == grpc.StatusCode.NOT_FOUND


class UnknownKind(Exception):
    """A row this node version cannot send (permanent: dead-lettered)."""


class Drainer:
    def __init__(
        self,
        outbox: Outbox,
        hub: HubClient,
        gate: HubGate,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        timeout: float = 5.0,
        poll_seconds: float = 1.0,
        batch: int = 50,
        tokeniser: KeyRing | None = None,
        keep_payload_seconds: float = 30 * 86_400.0,
    ) -> None:
        """``tokeniser``: the node's, for untokenised Checks (OPRF mode). ``keep_payload_seconds``:
        how long a settled row keeps its request bytes (0: for ever)."""
        self.outbox, self.hub, self.gate, self.clock = outbox, hub, gate, clock
        self.tokeniser = tokeniser
        self.store = outbox.store
        self.backoff = backoff or Backoff()
        self.timeout, self.poll_seconds, self.batch = timeout, poll_seconds, batch
        self._lock = asyncio.Lock()
        self.keep_payload_seconds = keep_payload_seconds
        self._next_tidy = 0.0

    async def run(self) -> None:
        """Drains whenever notified, and every ``poll_seconds`` (backoffs come due); until cancelled."""
        while True:
            self.outbox.wakeup.clear()
            try:
                await self.drain_once()
            except Exception:  # the next round tries again
                log.exception("outbox drain failed")
            try:
                await self.tidy()
            except Exception:
                self._next_tidy = self.clock() + TIDY_RETRY_SECONDS
                log.exception("outbox payloads not dropped")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wakeup.wait(), self.poll_seconds)

    async def tidy(self) -> int:
        """Drops the request bytes of rows settled longer than ``keep_payload_seconds`` ago, at
        most once per ``TIDY_EVERY_SECONDS``, a batch per transaction with the event loop free
        in between; how many rows."""
        now = self.clock()
        if self.keep_payload_seconds <= 0 or now < self._next_tidy:
            return 0
        self._next_tidy = now + TIDY_EVERY_SECONDS
        dropped = 0
        while True:
            batch = self.outbox.drop_settled_payloads(now - self.keep_payload_seconds)
            dropped += batch
            if batch < PAYLOAD_BATCH:
                break
            await asyncio.sleep(0)
        if dropped:
            self.store.scrub_wal()  # a busy checkpoint is retried by the next pass that drops rows
            log.info("outbox payloads dropped", extra={"fields": {"rows": dropped}})
        return dropped

    @property
    def busy(self) -> bool:
        """A drain is under way (a delivery may be in flight)."""
        return self._lock.locked()

    async def drain_once(self) -> int:
        """Delivers every row that is due now; how many were sent. Stops at the first transient
        hub failure or an open circuit (the rest would fail the same way); when the key service
        is away, only the untokenised Checks wait, all of them as long as its backoff."""
        async with self._lock:
            sent = 0
            skipped: set[int] = set()  # untokenised Checks left while the key service is held off
            while True:
                due = self.outbox.due(self.clock(), self.batch + len(skipped))
                rows = [r for r in due if r.id not in skipped]
                if not rows:
                    return sent
                for row in rows:
                    if row.kind == UNTOKENISED_CHECK and self.clock() < self.outbox.keys_held_until:
                        skipped.add(row.id)
                        continue
                    result = await self._deliver(row)
                    if result in (RETRY, WAIT):
                        return sent
                    sent += result == SENT

    async def _tokenised(self, row: OutboxRow) -> OutboxRow:
        """An untokenised Check with its tokens made by the key service, stored at once as a
        plain Check: the identifiers leave the row and a hub outage after this costs the key
        service nothing more."""
        oprf = self.tokeniser.oprf if self.tokeniser is not None else None
        if oprf is None:
            raise UnknownKind('an untokenised Check needs the key service (token_mode = "oprf")')
        request, identifiers = untokenised_check(row.request)
        request.tokens.extend(await oprf.tokens(identifiers))
        return self.outbox.tokenised(row.id, request.SerializeToString())

    async def _with_current_tokens(self, row: OutboxRow) -> OutboxRow | None:
        """A Check the hub refused as stale (its tokens' key epoch retired, or re-keyed out of,
        while it waited), tokenised again from its application's identifiers under the keys in
        force now and stored so; None when that changes nothing (then it is dead-lettered)."""
        if self.tokeniser is None:
            return None
        request = consortium_pb2.CheckRequest.FromString(row.request)
        try:
            kept = self.store.get_application(row.application_id).identifiers
            canonicals = canonical_identifiers(stored_identifiers(kept))
        except (NotFound, InvalidIdentifiers):
            return None
        if not await retokenise(request, self.tokeniser, canonicals):
            return None
        return self.outbox.retokenised(row.id, request.SerializeToString())

    async def _send(self, row: OutboxRow) -> consortium_pb2.CheckResponse | None:
        if row.kind == CHECK:
            request = consortium_pb2.CheckRequest.FromString(row.request)
            return await self.hub.check_request(request, timeout=self.timeout)
        if row.kind == OUTCOME:
            outcome = consortium_pb2.ReportOutcomeRequest.FromString(row.request)
            occurred = outcome.occurred_at.ToNanoseconds() / 1e9 if outcome.HasField("occurred_at") else None
            await self.hub.report_outcome(
                outcome.application_ref, outcome.outcome, occurred_at=occurred, timeout=self.timeout
            )
            return None
        raise UnknownKind(f"unknown outbox kind {row.kind!r}")

    async def _deliver(self, row: OutboxRow) -> str:
        fields = {"id": row.id, "kind": row.kind, "key": row.idempotency_key, "attempts": row.attempts + 1}
        try:
            if row.kind == UNTOKENISED_CHECK:
                row = await self._tokenised(row)
            answer = await self.gate.call(lambda: self._send(row))
        except CircuitOpen:
            return WAIT
        except Exception as error:
            if row.kind == CHECK and isinstance(error, LianfangRpcError) and refused_for_stale_keys(error):
                try:  # queued across a key rotation: the application's identifiers, today's keys
                    fresh = await self._with_current_tokens(row)
                except Exception as retokenising:  # a key service away: postponed like any Check
                    error = retokenising
                else:
                    if fresh is not None:
                        log.info("outbox Check tokenised again: its keys went stale", extra={"fields": fields})
                        return await self._deliver(fresh)
            if is_transient(error):
                delay = self.backoff.delay(row.attempts, getattr(error, "retry_after", None))
                self.outbox.mark_retry(row.id, self.clock() + delay, describe(error))
                log.warning("outbox delivery postponed", extra={"fields": {**fields, "error": describe(error)}})
                if isinstance(error, KeyServiceUnavailable):  # every untokenised row waits as long
                    self.outbox.keys_held_until = self.clock() + max(delay, self.backoff.base_seconds)
                    return KEYS_AWAY
                return RETRY
            if _not_found(error) and row.kind == OUTCOME and self.outbox.check_discarded(row.application_id):
                self.outbox.settle_unknown(row.id, self.clock(), describe(error))
                log.info("outbox item settled: its application's Check was discarded", extra={"fields": fields})
                return DEAD
            self.outbox.mark_dead(row.id, describe(error))
            log.error("outbox item dead-lettered", extra={"fields": {**fields, "error": describe(error)}})
            return DEAD
        now = self.clock()
        try:
            with self.store.transaction() as db:
                if self.outbox.mark_sent_in(db, row.id, now) and answer is not None:
                    attach_late_answer_in(self.store, db, row.application_id, answer, now)
        except Exception:  # the hub has it: never resend forever because our side could not record it
            log.exception("late answer not attached", extra={"fields": fields})
            with self.store.transaction() as db:
                self.outbox.mark_sent_in(db, row.id, now)
        log.info("outbox item sent", extra={"fields": fields})
        return SENT
