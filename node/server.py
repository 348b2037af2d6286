"""One node process: keys, a hub client and the node's own gRPC API."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from grpc_health.v1 import health
from lianfang.v1 import node_pb2, node_pb2_grpc
from prometheus_client import CollectorRegistry

from clients.audit import AuditClient
from clients.channel import open_channel
from clients.circuit import CircuitBreaker
from clients.credentials import JwtSigner, load_private_key
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from clients.key_epochs import load_encryption_key
from clients.keys import KeyServiceClient, key_service_signer
from node.config import NodeConfig
from node.hub_gate import HubGate
from node.identity.keyring import KeyRing
from node.identity.oprf_tokens import OprfTokeniser
from node.identity.tokens import HmacTokeniser
from node.marker_service import MarkerServicer
from node.markers import MarkerDesk
from node.metrics import HUB_SERVICE, KEY_SERVICE, NodeMetrics
from node.monitoring.accounts import SimulatedAccountFeed, load_flow_factors
from node.monitoring.actions import PostLoanActions
from node.monitoring.batch import BureauRecheck, MonitoringBatch
from node.monitoring.bureau import SimulatedBureauFeed, load_bureau_lines
from node.monitoring.delinquency import ledger_started
from node.monitoring.disposition import Dispositions
from node.monitoring.hub_alerts import AlertConsumer, ConsortiumAlerts
from node.monitoring.records import PostLoanRecords
from node.monitoring.service import MonitoringServicer
from node.monitoring.sms import RecordingSmsChannel
from node.origination.consortium_check import ConsortiumCheck, consent_key
from node.origination.due_diligence import load_field_team
from node.origination.engine import Origination
from node.origination.loan_service import LoanServicer
from node.origination.products import load_products
from node.origination.risk import RiskModel
from node.origination.roles import RoleInterceptor
from node.origination.stage1_policy import Stage1Policy
from node.origination.store import NodeStore
from node.outbox import Outbox
from node.outbox.drainer import Drainer
from node.outbox.retry import Backoff
from node.outbox.service import OutboxServicer
from node.screen_service import OriginationServicer
from node.sources.simulation import SimulatorSettings
from node.sources.simulators import SOURCE_NAMES, default_sources
from runtime.clock import Clock, system_clock
from runtime.config import ConfigError, read_hex_key, setting_file
from runtime.health_port import serve_health
from runtime.metrics import MetricsEndpoint, RpcMetrics, serve_metrics
from runtime.server import check_port_free, create_server, serve
from runtime.tls import TlsConfig

log = logging.getLogger("lianfang.node")

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["OriginationService"].full_name
LOAN_SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name
MONITORING_SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["MonitoringService"].full_name
OUTBOX_SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["OutboxService"].full_name
MARKER_SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["MarkerService"].full_name


def read_consortium_key(path: str) -> bytes:
    return read_hex_key("consortium_key_file", path, size_note="a 32-byte key")


def member_key(config: NodeConfig) -> Ed25519PrivateKey:
    """This member's signing key (``member_key_file``); a file that is none is a ConfigError."""
    with setting_file("member_key_file", config.member_key_file):
        return load_private_key(config.member_key_file)


def encryption_key(config: NodeConfig) -> X25519PrivateKey:
    """This member's X25519 key (``encryption_key_file``); a file that is none is a ConfigError."""
    with setting_file("encryption_key_file", config.encryption_key_file):
        return load_encryption_key(config.encryption_key_file)


def open_node_store(config: NodeConfig) -> NodeStore:
    """The node's database (``database``), written to once at start (``probe_sqlite_write``): a
    file that is not a database, a folder it cannot be made in, or a read-only file is a
    ConfigError naming the file, not a node that serves and then fails every write."""
    path = config.database
    with setting_file("database", path if path == ":memory:" else Path(path).absolute()):
        return NodeStore(path)


@dataclass
class RunningNode:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    hub: HubClient
    engine: Origination
    keyring: KeyRing
    post_loan: PostLoan | None = None
    refresher: asyncio.Task[None] | None = None
    refresh: Callable[[], Awaitable[list[int]]] | None = field(default=None, repr=False)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    metrics: NodeMetrics = field(default_factory=lambda: NodeMetrics(CollectorRegistry()))
    metrics_endpoint: MetricsEndpoint | None = None  # set when metrics_listen is
    probes: list[asyncio.Task[None]] = field(default_factory=list)  # dependency_up, set when metrics_listen is
    health_server: grpc.aio.Server | None = None  # set when health_listen is
    health_port: int = 0
    drainer: Drainer | None = None  # empties the outbox into the hub (a background task)

    def stop_metrics(self) -> None:
        for probe in self.probes:
            probe.cancel()
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
            self.metrics_endpoint = None

    async def refresh_keys(self) -> list[int]:
        """Re-reads the key epochs now (``key_source = "hub"``); the active ones."""
        return self.keyring.epochs if self.refresh is None else await self.refresh()

    async def stop(self, grace: float | None = None) -> None:
        """The one shutdown path (``run_node`` after SIGTERM/SIGINT, and tests): the background
        tasks first (the outbox drainer before the hub channel closes), then NOT_SERVING, the
        drain, and everything the node opened."""
        if self.refresher is not None:
            self.refresher.cancel()
        for task in self.background:
            task.cancel()
        self.stop_metrics()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.post_loan is not None:  # a batch whose caller went away still runs: it stops here
            await self.post_loan.batch.stop()
        if self.health_server is not None:
            await self.health_server.stop(None)
        await self.hub.close()
        if self.keyring.oprf is not None:
            await self.keyring.oprf.client.close()
        self.engine.store.close()


@dataclass
class PostLoan:
    """Seed 002 stage 4 of one node: the batch, the hub's alerts, dispositions."""

    records: PostLoanRecords
    batch: MonitoringBatch
    alerts: ConsortiumAlerts
    consumer: AlertConsumer
    dispositions: Dispositions


def build_post_loan(config: NodeConfig, engine: Origination, clock: Clock) -> PostLoan:
    records = PostLoanRecords(engine.store)
    actions = PostLoanActions(engine.store, records, engine.team)
    with setting_file("scenario_file", config.scenario_file):
        feed = SimulatedAccountFeed(load_flow_factors(config.scenario_file) if config.scenario_file else None)
        bureau = SimulatedBureauFeed(load_bureau_lines(config.scenario_file) if config.scenario_file else None)
    ledger_started(engine.store, clock())  # the first start of a node keeping ledgers, recorded once
    engine.repayment_ledger = config.repayment_ledger
    batch = MonitoringBatch(
        engine.store,
        actions,
        feed,
        RecordingSmsChannel(records),
        engine.hub,
        engine.outbox,
        engine.expire_unsigned,
        repayment_ledger=config.repayment_ledger,
        bureau=BureauRecheck(
            bureau,
            config.bureau_recheck_days,
            config.bureau_large_loan_share,
            deadline_seconds=config.source_deadline_seconds,
        )
        if config.bureau_recheck_days > 0
        else None,
    )
    alerts = ConsortiumAlerts(actions, clock)
    return PostLoan(records, batch, alerts, AlertConsumer(engine.hub, alerts), Dispositions(engine, actions))


def load_risk_model(config: NodeConfig) -> RiskModel:
    """The rule set and both scorecards the settings name (the shipped ones by default), each
    error naming its setting: at start, and again on SIGHUP."""
    return RiskModel.load(config.rules_file, config.antifraud_scorecard_file, config.credit_scorecard_file)


def reload_risk_model(config: NodeConfig, engine: Origination) -> None:
    """SIGHUP: the files are read again and the new model takes the next application; files
    that do not load change nothing (the running model stays, the error is logged)."""
    try:
        engine.risk = load_risk_model(config)
    except ConfigError as error:
        log.error("risk model not reloaded: the running one stays", extra={"fields": {"error": str(error)}})
        return
    log.info(
        "risk model loaded", extra={"fields": {"models": engine.risk.version, "rules": len(engine.risk.rules.rules)}}
    )


def build_engine(config: NodeConfig, hub: HubClient, tokeniser: KeyRing, clock: Clock) -> Origination:
    """The origination engine with everything it loads at start (a bad file stops the node here,
    with one line naming its setting)."""
    with setting_file("scenario_file", config.scenario_file):
        sources = default_sources(
            {
                name: SimulatorSettings(
                    latency_ms=config.source_latency_ms,
                    jitter_ms=config.source_latency_ms / 4,
                    timeout_rate=config.source_timeout_rate,
                )
                for name in SOURCE_NAMES
            },
            config.scenario_file or None,
        )
    risk = load_risk_model(config)
    with setting_file("products_file", config.products_file):
        products = load_products(config.products_file) if config.products_file else load_products()
    with setting_file("managers_file", config.managers_file):
        team = load_field_team(config.managers_file) if config.managers_file else load_field_team()
    store = open_node_store(config)
    breaker = CircuitBreaker("hub", config.circuit_failure_threshold, config.circuit_reset_seconds, clock)
    return Origination(
        store=store,
        products=products,
        team=team,
        risk=risk,
        sources=sources,
        hub=hub,
        tokeniser=tokeniser,
        clock=clock,
        policy=Stage1Policy(
            default_deadline=config.source_deadline_seconds,
            hub_deadline=config.hub_timeout_seconds,
            hub_unavailable=config.hub_unavailable_policy,
            deadline_margin=config.deadline_margin_seconds,
        ),
        consortium=ConsortiumCheck(hub, tokeniser, HubGate(breaker), consent_key(member_key(config))),
        outbox=Outbox(store),
    )


def build_drainer(config: NodeConfig, engine: Origination, clock: Clock) -> Drainer:
    """The outbox drainer, sharing stage 1's hub client and circuit breaker."""
    return Drainer(
        engine.outbox,
        engine.hub,
        engine.consortium.gate,
        clock,
        backoff=Backoff(config.outbox_backoff_base_seconds, config.outbox_backoff_max_seconds),
        timeout=config.outbox_timeout_seconds,
        poll_seconds=config.outbox_poll_seconds,
        tokeniser=engine.tokeniser,
        keep_payload_seconds=config.outbox_keep_payload_days * 86_400.0,
    )


async def start_node(config: NodeConfig, *, clock: Clock = system_clock) -> RunningNode:
    # the TLS files and the port first: a node refused for a bad certificate or a port in use
    # leaves no new database behind
    tls = None if config.plaintext else TlsConfig(config.tls_cert, config.tls_key)
    if tls is not None:
        tls.read()
    for address in (config.listen, config.health_listen, config.metrics_listen):
        check_port_free(address)
    signer = JwtSigner(config.member_id, member_key(config))
    channel = open_channel(
        config.hub_address,
        ca_file=config.hub_ca_file,
        cert_file=config.hub_cert_file,
        key_file=config.hub_key_file,
        plaintext=config.hub_plaintext,
        max_message_bytes=config.max_message_bytes,
        settings=("hub_ca_file", "hub_cert_file", "hub_key_file"),
    )
    hub = HubClient(channel, signer, default_timeout=config.hub_timeout_seconds)
    tokeniser, refresh = await key_ring(config, hub, signer)
    roles = RoleInterceptor(config.identity_public_key())
    engine = build_engine(config, hub, tokeniser, clock)
    post_loan = build_post_loan(config, engine, clock)
    registry = CollectorRegistry()  # this node's own: several nodes in one process keep apart
    node_metrics = NodeMetrics(registry)
    server, port, health_servicer = await create_server(
        config.listen,
        [
            (
                node_pb2_grpc.add_OriginationServiceServicer_to_server,
                OriginationServicer(
                    hub, tokeniser, hub_timeout=config.hub_timeout_seconds, consent_key=engine.consortium.consent_key
                ),
                SERVICE_NAME,
            ),
            (node_pb2_grpc.add_LoanServiceServicer_to_server, LoanServicer(engine), LOAN_SERVICE_NAME),
            (
                node_pb2_grpc.add_MonitoringServiceServicer_to_server,
                MonitoringServicer(post_loan.batch, post_loan.dispositions, clock),
                MONITORING_SERVICE_NAME,
            ),
            (
                node_pb2_grpc.add_OutboxServiceServicer_to_server,
                OutboxServicer(engine.outbox, engine.consortium.gate.breaker, clock),
                OUTBOX_SERVICE_NAME,
            ),
            (
                node_pb2_grpc.add_MarkerServiceServicer_to_server,
                MarkerServicer(
                    MarkerDesk(
                        engine.store,
                        hub,
                        AuditClient(channel, signer),
                        tokeniser,
                        clock,
                        consent_key=engine.consortium.consent_key,
                    )
                ),
                MARKER_SERVICE_NAME,
            ),
        ],
        tls=tls,
        interceptors=[roles, node_metrics.interceptor()],
        max_message_bytes=config.max_message_bytes,
        metrics=RpcMetrics(registry),
    )
    node = RunningNode(
        server, port, health_servicer, hub, engine, tokeniser, post_loan, refresh=refresh, metrics=node_metrics
    )
    node.drainer = build_drainer(config, engine, clock)
    node.background.append(asyncio.create_task(node.drainer.run()))
    engine.on_decision = node_metrics.count_decision
    node_metrics.watch_outbox(engine.outbox.depth, engine.outbox.dead, engine.consortium.gate.breaker)
    node_metrics.hub_alerts_lost.set_function(lambda: float(post_loan.alerts.lost))
    if config.watch_alerts:
        node.background.append(asyncio.create_task(post_loan.consumer.run()))
    if config.monitor_interval_seconds > 0:
        node.background.append(
            asyncio.create_task(_monitor_periodically(post_loan.batch, clock, config.monitor_interval_seconds))
        )
    try:
        if config.metrics_listen:
            node.metrics_endpoint = serve_metrics(config.metrics_listen, registry)
            node.probes.append(asyncio.create_task(node_metrics.probe("hub", channel, HUB_SERVICE)))
            if tokeniser.oprf is not None:
                key_channel = tokeniser.oprf.client.channel
                node.probes.append(asyncio.create_task(node_metrics.probe("key_service", key_channel, KEY_SERVICE)))
        if config.health_listen:
            node.health_server, node.health_port = await serve_health(config.health_listen, health_servicer)
    except BaseException:
        await node.stop(0)  # nothing left listening or running: the process can exit
        raise
    if refresh is not None:
        node.refresher = asyncio.create_task(_refresh_periodically(refresh, config.key_refresh_seconds))
    log.info(
        "node serving",
        extra={
            "fields": {
                "port": port,
                "member": config.member_id,
                "tls": tls is not None,
                "database": str(Path(config.database).absolute()),
                "health_port": node.health_port,  # a chosen one (":0") is found here
                "models": engine.risk.version,  # the rule set and scorecards deciding
            }
        },
    )
    return node


async def key_ring(
    config: NodeConfig, hub: HubClient, signer: JwtSigner
) -> tuple[KeyRing, Callable[[], Awaitable[list[int]]] | None]:
    """How this node makes tokens, by ``token_mode`` and ``key_source``: the key service (OPRF),
    epoch keys the hub wraps to this member (with the refresh that fetches them again, tried once
    now), or the consortium key file."""
    if config.token_mode == "oprf":
        return KeyRing(oprf=oprf_tokeniser(config, signer)), None
    if config.key_source != "hub":
        return KeyRing([HmacTokeniser(read_consortium_key(config.consortium_key_file), config.key_epoch)]), None
    tokeniser = KeyRing()
    private = encryption_key(config)

    async def refresh() -> list[int]:
        return await tokeniser.refresh(hub, config.member_id, private)

    tokeniser.reload = refresh
    try:
        await refresh()
    except LianfangRpcError as error:  # the hub may come up later; Screens say UNAVAILABLE
        log.warning("no consortium keys yet", extra={"fields": {"error": error.code.name}})
    return tokeniser, refresh


def oprf_tokeniser(config: NodeConfig, signer: JwtSigner) -> OprfTokeniser:
    """The key-service client of ``token_mode = "oprf"`` (mutual TLS, ``evaluate`` JWTs)."""
    own = {name: getattr(config, f"key_service_{name}") for name in ("ca_file", "cert_file", "key_file")}
    settings = tuple(f"key_service_{name}" if own[name] else f"hub_{name}" for name in own)  # the one used
    channel = open_channel(
        config.key_service_address,
        ca_file=own["ca_file"] or config.hub_ca_file,
        cert_file=own["cert_file"] or config.hub_cert_file,
        key_file=own["key_file"] or config.hub_key_file,
        plaintext=config.key_service_plaintext,
        settings=(settings[0], settings[1], settings[2]),
    )
    client = KeyServiceClient(
        channel, key_service_signer(signer, "evaluate"), default_timeout=config.key_service_timeout_seconds
    )
    pinned = config.pinned_public_keys()
    if not pinned:
        log.warning(
            "key service public keys are not pinned: evaluation proofs are checked against the keys the key "
            "service itself publishes, so a compromised key service could give this member a key of its own; "
            "set key_service_public_keys to the keys published out of band"
        )
    return OprfTokeniser(client, pinned=pinned, timeout=config.key_service_timeout_seconds)


async def _refresh_periodically(refresh: Callable[[], Awaitable[list[int]]], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await refresh()
        except Exception as error:  # keep refreshing whatever went wrong this time
            log.warning("key refresh failed", extra={"fields": {"error": type(error).__name__}})


async def _monitor_periodically(batch: MonitoringBatch, clock: Clock, interval: float) -> None:
    """``monitor_interval_seconds``: the daily batch inside the node (instead of cron). The first
    run comes ``interval`` after the last one the database remembers (at once when that is past
    or there was none): a node restarted more often than the interval still runs it."""
    last = batch.last_run()
    await asyncio.sleep(0 if last is None else max(0.0, last + interval - clock()))
    while True:
        try:
            result = await batch.run(clock())
            log.info(
                "monitoring batch ran", extra={"fields": {"loans": result.loans_checked, "alerts": len(result.alerts)}}
            )
        except Exception:  # the next run tries again
            log.exception("monitoring batch failed")
        await asyncio.sleep(interval)


async def run_node(config: NodeConfig) -> None:
    """Serves until SIGTERM/SIGINT (``lianfang node serve``). SIGHUP reads the rule set and
    scorecards again (a SIGHUP while starting is applied once the node is up)."""
    loop = asyncio.get_running_loop()
    asked: list[bool] = []
    loop.add_signal_handler(signal.SIGHUP, asked.append, True)
    node = await start_node(config)
    loop.add_signal_handler(signal.SIGHUP, reload_risk_model, config, node.engine)
    if asked:
        reload_risk_model(config, node.engine)
    await serve(node.server, node.stop, grace_seconds=config.grace_seconds)
