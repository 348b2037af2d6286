"""One hub process: store, authentication, services, health probe, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2
from lianfang.v1 import audit_pb2, audit_pb2_grpc, canaries_pb2, canaries_pb2_grpc, consortium_pb2, consortium_pb2_grpc
from prometheus_client import CollectorRegistry

from consortium.admin_log import log_unlogged_admin_actions
from consortium.aliases import AliasBook
from consortium.audit import AuditLog, load_signing_key
from consortium.auth import Authenticator, AuthInterceptor
from consortium.canaries import CanaryBook
from consortium.config import HubConfig
from consortium.disputes import DisputeBook
from consortium.key_book import KeyBook
from consortium.marker_log import reconcile_marker_state
from consortium.markers import MarkerPolicy
from consortium.metrics import HubMetrics
from consortium.retention import PurgeReport, purge, purge_periodically
from consortium.rings import RingTracker, ring_id_key
from consortium.services.admin_service import AdminServicer
from consortium.services.analyst_service import AnalystServicer
from consortium.services.audit_service import AuditServicer
from consortium.services.canary_service import CanaryServicer
from consortium.services.consortium_service import ConsortiumServicer
from consortium.store.base import Store
from consortium.store.registry import store_from_url, store_location
from consortium.transparency import QueryCounts
from consortium.usage import UsageGuard
from consortium.watch import WatchBook
from runtime.clock import Clock, system_clock
from runtime.errors import Unavailable
from runtime.health_port import serve_health
from runtime.metrics import MetricsEndpoint, RpcMetrics, serve_metrics
from runtime.server import check_port_free, create_server
from runtime.tls import TlsConfig

log = logging.getLogger("lianfang.hub")

YOUNG_GC_THRESHOLD = 10_000
"""Net allocations between two young-generation collections (``tune_gc_for_a_large_heap``)."""

SERVICE_NAMES = (
    consortium_pb2.DESCRIPTOR.services_by_name["ConsortiumService"].full_name,
    consortium_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    consortium_pb2.DESCRIPTOR.services_by_name["AnalystService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    canaries_pb2.DESCRIPTOR.services_by_name["CanaryService"].full_name,
)


@dataclass
class RunningHub:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    store: Store
    probe: asyncio.Task[None]
    rings: RingTracker
    purger: asyncio.Task[None] | None = None
    metrics: HubMetrics | None = None
    metrics_endpoint: MetricsEndpoint | None = None  # set when metrics_listen is
    health_server: grpc.aio.Server | None = None  # set when health_listen is
    health_port: int = 0
    watches: WatchBook | None = None  # closed on stop: open Watch streams end at once
    authenticator: Authenticator | None = None
    disputes: DisputeBook = field(default_factory=DisputeBook)  # the serving hub's, folded with its rings

    def stop_metrics(self) -> None:
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
            self.metrics_endpoint = None

    async def stop_health_port(self) -> None:
        if self.health_server is not None:
            await self.health_server.stop(None)
            self.health_server = None

    async def stop(self, grace: float | None = None) -> None:
        """The one shutdown path (``run_hub`` after SIGTERM/SIGINT, and tests): NOT_SERVING,
        open Watch streams ended, the drain, then everything the hub opened."""
        self.stop_metrics()
        self.probe.cancel()
        if self.purger is not None:
            self.purger.cancel()
        await self.health.enter_graceful_shutdown()
        if self.watches is not None:
            self.watches.close()
        await self.server.stop(grace)
        await self.stop_health_port()
        await self.store.close()


async def _probe_store(store: Store, health_servicer: health.aio.HealthServicer, interval: float) -> None:
    """Keeps grpc.health.v1 truthful: NOT_SERVING while the store cannot be reached."""
    serving = True
    while True:
        why = ""
        try:
            await asyncio.wait_for(store.ping(), timeout=max(interval, 0.5))
        except (Unavailable, TimeoutError, OSError) as error:
            why = type(error).__name__
        except Exception as error:  # whatever else a store client raises: not serving, and the probe lives on
            why = f"{type(error).__module__}.{type(error).__qualname__}"
        ok = not why
        if ok != serving:
            serving = ok
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", *SERVICE_NAMES):
                await health_servicer.set(name, status)
            log.warning("store health changed", extra={"fields": {"serving": ok, "error": why}})
        await asyncio.sleep(interval)


def tune_gc_for_a_large_heap() -> None:
    """The ring index is millions of small dicts, sets and tuples with no reference cycles. The
    cyclic collector's full passes over them stall every in-flight Check (tens of ms at a few
    hundred thousand applications), so: the replayed index moves to the permanent generation,
    and full passes run far less often. Reference counting still frees everything promptly.

    The young generation is collected every ``YOUNG_GC_THRESHOLD`` net allocations (this
    process's setting, whatever it was): what a young pass walks is mostly the folds' fresh
    survivors, ~0.6 µs each, so the threshold sets the stall. Measured in-process over 45,000
    Checks: at 50,000, a 26-31 ms pass every ~2,600 Checks; at 10,000, a ≤ 9 ms pass every
    ~520 Checks and, every 50 of those, a ~60 ms pass of the middle generation (at 50,000 it
    comes 5x less often and walks 5x more); total collector time 258 against 289 ms."""
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, 50, 1_000)


async def _replay_log(store: Store, rings: RingTracker, disputes: DisputeBook, clock: Clock) -> None:
    """Every fold rebuilt from the consortium log before the first answer (the rings and stacking
    this consortium had, and the observers' books), with what a crash left half done."""
    collecting = gc.isenabled()
    gc.disable()  # the replay builds the folds' objects and no cycles: no collector passes over them
    try:
        folded = await rings.catch_up()  # the rings and stacking this consortium had, before the first answer
        await reconcile_marker_state(store, rings, disputes, clock())  # a crash's gap, markers expired meanwhile
        await log_unlogged_admin_actions(store, rings, clock())  # audit entries a crash left unlogged
    finally:
        if collecting:
            gc.enable()
    log.info(
        "consortium log replayed",
        extra={
            "fields": {
                "entries": folded,
                "applications": len(rings.index),
                "tokens": len(rings.stacking),
                "ring_links": rings.policy.describe(),
                "ring_links_fingerprint": rings.policy.fingerprint,  # on every application it logs
            }
        },
    )
    if rings.foreign_links:  # a changed setting (or a replica that disagrees): the log refolds under ours
        log.warning(
            "the consortium log holds applications logged under other ring-link settings; "
            "this hub folds them under its own",
            extra={"fields": {"applications_by_fingerprint": rings.foreign_links, "ours": rings.policy.fingerprint}},
        )
    rings.live = True
    tune_gc_for_a_large_heap()


async def start_hub(
    config: HubConfig,
    *,
    clock: Clock = system_clock,
    store: Store | None = None,
    marker_policy: MarkerPolicy | None = None,
) -> RunningHub:
    # the files and the port first, then the store: a hub refused for a bad certificate or key
    # file or a port in use leaves no new database behind
    tls = None if config.plaintext else TlsConfig(config.tls_cert, config.tls_key, config.tls_client_ca)
    if tls is not None:
        tls.read()
    for address in (config.listen, config.health_listen, config.metrics_listen):
        check_port_free(address)
    audit = AuditLog(load_signing_key(config.audit_key_file) if config.audit_key_file else None)
    store = store or store_from_url(config.store, config.application_retention_days)
    authenticator = Authenticator(
        store,
        {name: config.admin_key_bytes(name) for name in config.admin_keys},
        analyst_keys={name: config.analyst_key_bytes(name) for name in config.analyst_keys},
        bind_certificates=bool(config.tls_client_ca),
        member_cache_seconds=config.member_cache_seconds,
    )
    usage = UsageGuard(config.usage_policy())
    policy = marker_policy or config.marker_policy()
    disputes = DisputeBook()
    rings = RingTracker(store, config.link_policy(), ring_id_key=ring_id_key(audit.signing_key))
    queries = QueryCounts(rings.index, rings.stacking)  # after the ring fold: it holds the new application
    keys = KeyBook()
    aliases = AliasBook(keys)
    watches = WatchBook()
    canaries = CanaryBook()
    rings.observers = (
        audit.observe,
        usage.observe,
        disputes.observe,
        queries.observe,
        keys.observe,
        aliases.observe,
        watches.observe,
        canaries.observe,
    )
    await _replay_log(store, rings, disputes, clock)
    registry = CollectorRegistry()  # this hub's own: several hubs in one process keep apart
    hub_metrics = HubMetrics(registry)
    hub_metrics.ring_link_drift.set_function(lambda: rings.drifted)
    hub_metrics.epoch_link_conflicts.set_function(lambda: aliases.conflicts)
    server, port, health_servicer = await create_server(
        config.listen,
        [
            (
                consortium_pb2_grpc.add_ConsortiumServiceServicer_to_server,
                ConsortiumServicer(store, clock, policy, rings, usage, disputes, keys, aliases, watches),
                SERVICE_NAMES[0],
            ),
            (
                consortium_pb2_grpc.add_AdminServiceServicer_to_server,
                AdminServicer(store, clock, authenticator, rings, usage, disputes, policy, keys),
                SERVICE_NAMES[1],
            ),
            (
                consortium_pb2_grpc.add_AnalystServiceServicer_to_server,
                AnalystServicer(rings),
                SERVICE_NAMES[2],
            ),
            (
                audit_pb2_grpc.add_AuditServiceServicer_to_server,
                AuditServicer(rings, audit, clock, queries, store, usage, aliases, store, disputes),
                SERVICE_NAMES[3],
            ),
            (
                canaries_pb2_grpc.add_CanaryServiceServicer_to_server,
                CanaryServicer(rings, aliases, canaries, clock),
                SERVICE_NAMES[4],
            ),
        ],
        tls=tls,
        interceptors=[AuthInterceptor(authenticator), hub_metrics.interceptor()],
        max_message_bytes=config.max_message_bytes,
        metrics=RpcMetrics(registry),
    )
    try:
        endpoint = serve_metrics(config.metrics_listen, registry) if config.metrics_listen else None
    except BaseException:
        await server.stop(0)  # nothing left listening or running: the process can exit
        await store.close()
        raise
    probe = asyncio.create_task(_probe_store(store, health_servicer, config.store_probe_seconds))
    retention = config.application_retention_days * 86_400.0
    purger = (
        asyncio.create_task(purge_periodically(store, rings, disputes, clock, retention, config.purge_interval_seconds))
        if config.purge_interval_seconds > 0
        else None
    )
    fields = {
        "port": port,
        "store": store.name,
        "store_location": store_location(config.store),
        "tls": tls is not None,
        "metrics_port": endpoint and endpoint.port,
    }
    hub = RunningHub(
        server,
        port,
        health_servicer,
        store,
        probe,
        rings,
        purger,
        hub_metrics,
        endpoint,
        watches=watches,
        authenticator=authenticator,
        disputes=disputes,
    )
    if config.health_listen:
        try:
            hub.health_server, hub.health_port = await serve_health(config.health_listen, health_servicer)
        except BaseException:
            await hub.stop(0)  # nothing left listening or running: the process can exit
            raise
    log.info("hub serving", extra={"fields": {**fields, "health_port": hub.health_port}})
    return hub


async def run_hub(config: HubConfig) -> None:
    """Runs a hub until SIGTERM/SIGINT (``lianfang hub serve``), then stops it as
    ``RunningHub.stop`` does."""
    from runtime.server import serve

    hub = await start_hub(config)
    with contextlib.suppress(asyncio.CancelledError):
        await serve(hub.server, hub.stop, grace_seconds=config.grace_seconds)


async def purge_once(config: HubConfig, now: float) -> PurgeReport:
    """``lianfang hub purge``: one retention pass against the configured store, then exit."""
    store = store_from_url(config.store, config.application_retention_days, must_exist=True)
    try:
        disputes = DisputeBook()  # which expired markers' tokens still carry an undisputed one
        rings = RingTracker(store, config.link_policy(), observers=(disputes.observe,))  # no ring ids needed
        await rings.catch_up()
        return await purge(store, rings, disputes, now, config.application_retention_days * 86_400.0)
    finally:
        await store.close()
