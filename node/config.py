"""Configuration of one member node."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

from runtime.config import ConfigError, base64_key, check_listen, check_log_level, check_message_bytes, check_numbers
from runtime.event_loop import resolve as resolve_event_loop

MAX_EPOCH = 2**32 - 1
"""Largest key epoch: tokens carry it as a uint32."""


@dataclass(frozen=True)
class NodeConfig:
    """Settings of ``lianfang node serve`` ([node] in the TOML file, LIANFANG_NODE_* in the env)."""

    member_id: str
    """This lender's member id at the hub (the JWT subject)."""

    member_key_file: str
    """PEM Ed25519 private key registered at the hub for this member."""

    consortium_key_file: str = ""
    """File holding the consortium token key of the current epoch (64 hex characters); for
    ``key_source = "file"``."""

    api_identity_key: str = ""
    """base64 raw Ed25519 public key of the lender's identity provider; it signs the JWTs
    (audience ``lianfang-node``, claim ``role``) that callers of the node API present."""

    key_epoch: int = 1
    """Epoch of the consortium key; tagged on every token."""

    listen: str = "127.0.0.1:7444"
    """host:port of the node's own API."""

    hub_address: str = "localhost:7443"
    """host:port of the consortium hub."""

    hub_ca_file: str = ""
    """CA certificate that signed the hub's certificate."""

    hub_cert_file: str = ""
    """This member's client certificate for the hub (mutual TLS); its common name is the member id."""

    hub_key_file: str = ""
    """Private key of ``hub_cert_file``."""

    key_source: str = "file"
    """Where consortium token keys come from: ``file`` (``consortium_key_file``, one epoch) or
    ``hub`` (epochs wrapped to this member, unwrapped with ``encryption_key_file``)."""

    encryption_key_file: str = ""
    """This member's X25519 private key (PEM), for ``key_source = "hub"``."""

    key_refresh_seconds: float = 60.0
    """How often a ``hub`` key source re-reads the epochs (a rotation reaches the node within this)."""

    hub_plaintext: bool = False
    """Talk to the hub without TLS (local experiments only)."""

    hub_timeout_seconds: float = 0.8
    """Deadline of each hub call made inside a screening."""

    tls_cert: str = ""
    """PEM certificate of the node's API. Required unless ``plaintext`` is set."""

    tls_key: str = ""
    """PEM private key of the node's API."""

    plaintext: bool = False
    """Serve the node API without TLS (local experiments only)."""

    grace_seconds: float = 5.0
    """Drain time on SIGTERM."""

    health_listen: str = ""
    """host:port of a plaintext port serving grpc.health.v1 only (for Kubernetes gRPC probes, which
    cannot present TLS client certificates); empty (the default): none."""

    metrics_listen: str = ""
    """host:port of the Prometheus metrics endpoint (``/metrics``, plain HTTP, its own port; port 0
    picks a free one). Empty (the default): no endpoint, so that several processes on one host
    never collide on a port nobody asked for. The deploy/ configurations turn it on."""

    log_level: str = "INFO"
    """Level of the JSON-lines log on stderr."""

    event_loop: str = "auto"
    """``auto`` (the default: uvloop when installed, else asyncio), ``uvloop`` or ``asyncio``
    (``runtime.event_loop``)."""

    database: str = "lianfang-node.db"
    """SQLite file of the node's own records (applications, tasks, contracts, loans)."""

    products_file: str = ""
    """Loan products TOML (default: the shipped node/products.toml)."""

    managers_file: str = ""
    """Customer managers and due-diligence checklists (default: node/managers.toml)."""

    rules_file: str = ""
    """Rule set TOML (default: node/rules/default_rules.toml). SIGHUP reads it again."""

    antifraud_scorecard_file: str = ""
    """Anti-fraud scorecard TOML (default: node/rules/antifraud_scorecard.toml). SIGHUP reads it again."""

    credit_scorecard_file: str = ""
    """Credit scorecard TOML, with its grade cut-offs (default: node/rules/credit_scorecard.toml).
    SIGHUP reads it again."""

    scenario_file: str = ""
    """Simulator scenario overrides (e.g. node/sources/scenarios/seed_personas.toml)."""

    source_latency_ms: float = 80.0
    """Simulated provider latency (the shipped sources are simulators)."""

    source_timeout_rate: float = 0.0
    """Share of applicants for whom a simulated provider hangs."""

    source_deadline_seconds: float = 2.0
    """Deadline of each data source in the pre-screen."""

    hub_unavailable_policy: str = "refer"
    """What an unreachable hub (or key service) means at decision time: refer (default) or
    decline; never approve."""

    token_mode: str = "hmac"
    """How identifiers become tokens: ``hmac`` (embedded default: a consortium key held by the
    members) or ``oprf`` (production: RFC 9497 VOPRF through the key service; no key here)."""

    key_service_address: str = ""
    """host:port of the OPRF key service, for ``token_mode = "oprf"``."""

    key_service_ca_file: str = ""
    """CA certificate that signed the key service's certificate (default: ``hub_ca_file``)."""

    key_service_cert_file: str = ""
    """This member's client certificate for the key service (default: ``hub_cert_file``)."""

    key_service_key_file: str = ""
    """Private key of ``key_service_cert_file`` (default: ``hub_key_file``)."""

    key_service_plaintext: bool = False
    """Talk to the key service without TLS (local experiments only)."""

    key_service_timeout_seconds: float = 0.5
    """Deadline of one Evaluate (a whole application's identifiers in one batch)."""

    key_service_public_keys: dict[str, str] = field(default_factory=dict)
    """Optional pin: epoch → base64 public key as published out of band; when set, only
    evaluations proved against these keys are accepted (otherwise the service's own list)."""

    watch_alerts: bool = True
    """Keep a Watch stream to the hub open and turn its alerts into risk-check tasks."""

    repayment_ledger: bool = True
    """The core banking system reports each payment received (``RepayLoan`` with an amount): the
    daily batch chases loans the payments do not cover and defaults them after more than 90 days, reported
    to the consortium. False when it does not: then no loan is called late, nor reported
    defaulted, from missing payments."""

    bureau_recheck_days: float = 30.0
    """The daily batch pulls each facility's credit bureau report again this often (the first
    pull this long after its first drawdown): new loans elsewhere raise a co-debt alert. 0: never
    (a lender without a post-loan bureau query)."""

    bureau_large_loan_share: float = 0.5
    """New loans at other lenders since the application alert once they add up to this share of
    the facility's limit (大额: 0.5 = half)."""

    monitor_interval_seconds: float = 0.0
    """Run the post-loan monitoring batch this often (86400: daily); 0: only when asked
    (``lianfang node monitor run``, e.g. from cron)."""

    outbox_poll_seconds: float = 1.0
    """How often the outbox drainer looks for submissions whose backoff has ended (it also runs
    at once whenever something is queued)."""

    outbox_timeout_seconds: float = 5.0
    """Deadline of each hub call the drainer makes (in the background: nobody waits on it)."""

    outbox_backoff_base_seconds: float = 0.5
    """First retry delay ceiling; it doubles per attempt (full jitter: a uniform draw below it)."""

    outbox_backoff_max_seconds: float = 300.0
    """Largest retry delay (a hub's RetryInfo may ask for more, and gets it)."""

    outbox_keep_payload_days: float = 30.0
    """Days a submission the hub acknowledged (or a person discarded) keeps its request bytes in
    the outbox; the row itself stays, keeping its idempotency key taken. 0: kept for ever."""

    circuit_failure_threshold: int = 3
    """Consecutive hub outages (UNAVAILABLE, deadline) that open the hub circuit breaker."""

    circuit_reset_seconds: float = 10.0
    """Cool-down of an open circuit before one probe is let through (half-open)."""

    deadline_margin_seconds: float = 0.1
    """Kept back from a caller's gRPC deadline: stage 1 (hub and sources) gets the rest, so the
    node answers before its caller gives up."""

    max_message_bytes: int = 4 * 1024 * 1024
    """Largest request or response the node API accepts (larger → RESOURCE_EXHAUSTED), and the
    largest answer it accepts from the hub."""

    def __post_init__(self) -> None:
        try:
            resolve_event_loop(self.event_loop)
        except ValueError as error:
            raise ConfigError(f"node: {error}") from None
        if not self.plaintext and not (self.tls_cert and self.tls_key):
            raise ConfigError("node: tls_cert and tls_key are required (or set plaintext = true)")
        if not self.hub_plaintext and not self.hub_ca_file:
            raise ConfigError("node: hub_ca_file is required (or set hub_plaintext = true)")
        for cert, key in (("hub_cert_file", "hub_key_file"), ("key_service_cert_file", "key_service_key_file")):
            if bool(getattr(self, cert)) != bool(getattr(self, key)):
                raise ConfigError(f"node: {cert} and {key} go together (a client certificate and its key)")
        if self.hub_unavailable_policy not in ("refer", "decline"):
            raise ConfigError("node: hub_unavailable_policy must be refer or decline (never approve)")
        if not self.api_identity_key:
            raise ConfigError("node: api_identity_key (the lender identity provider's public key) is required")
        self.identity_public_key()
        if self.key_source not in ("file", "hub"):
            raise ConfigError("node: key_source must be file or hub")
        if self.token_mode not in ("hmac", "oprf"):
            raise ConfigError("node: token_mode must be hmac or oprf")
        if self.token_mode == "oprf" and not self.key_service_address:
            raise ConfigError("node: token_mode = oprf needs key_service_address")
        self.pinned_public_keys()
        if self.token_mode == "hmac" and self.key_source == "file" and not self.consortium_key_file:
            raise ConfigError("node: consortium_key_file is required (or set key_source = hub)")
        if self.key_source == "hub" and not self.encryption_key_file:
            raise ConfigError("node: key_source = hub needs encryption_key_file (this member's X25519 key)")
        check_log_level("node", self.log_level)
        check_message_bytes("node", self.max_message_bytes)
        self._check_numbers()
        check_listen("node", self, "listen", "health_listen", "metrics_listen")

    def _check_numbers(self) -> None:
        """Every numeric setting in its range (and finite), a ConfigError naming the first that is not."""
        check_numbers(
            "node",
            self,
            positive=(
                "hub_timeout_seconds",
                "key_refresh_seconds",
                "source_deadline_seconds",
                "key_service_timeout_seconds",
                "outbox_poll_seconds",
                "outbox_timeout_seconds",
                "outbox_backoff_base_seconds",
                "outbox_backoff_max_seconds",
                "circuit_reset_seconds",
                "bureau_large_loan_share",
            ),
            non_negative=(
                "grace_seconds",
                "source_latency_ms",
                "source_timeout_rate",
                "monitor_interval_seconds",
                "bureau_recheck_days",
                "deadline_margin_seconds",
                "key_epoch",
            ),
            at_least={"circuit_failure_threshold": 1},
        )
        if self.key_epoch > MAX_EPOCH:
            raise ConfigError(f"node: key_epoch must be at most {MAX_EPOCH} (tokens carry it as a uint32)")
        if self.bureau_large_loan_share > 10:  # 50 meant as 50 %: it would never alert
            raise ConfigError(
                f"node: bureau_large_loan_share is a share of the limit (0.5: half), at most 10, got "
                f"{self.bureau_large_loan_share!r}"
            )
        if self.source_timeout_rate > 1:
            raise ConfigError(f"node: source_timeout_rate is a share, 0 to 1, got {self.source_timeout_rate!r}")
        if not (self.outbox_keep_payload_days >= 0 and math.isfinite(self.outbox_keep_payload_days)):
            raise ConfigError("node: outbox_keep_payload_days must be a number of days, 0 or more (0: keep for ever)")

    def pinned_public_keys(self) -> dict[int, bytes]:
        return pinned_public_keys(self.key_service_public_keys)

    def identity_public_key(self) -> bytes:
        """``api_identity_key``: the raw 32-byte Ed25519 key, from base64. Surrounding whitespace
        is dropped (a key file's newline, as ``kubectl create secret --from-file`` keeps it)."""
        problem = "node: api_identity_key must be a base64 raw 32-byte Ed25519 public key"
        return base64_key(self.api_identity_key.strip(), not_base64=problem, wrong_size=problem)


def pinned_public_keys(setting: dict[str, str]) -> dict[int, bytes]:
    """``key_service_public_keys``: epoch -> the key service's public key, in base64 or in hex (as
    ``lianfang keys admin`` prints it)."""
    out = {}
    for epoch, encoded in setting.items():
        try:
            text = encoded.strip()
            out[int(epoch)] = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
        except ValueError:
            problem = "epoch number = key (base64 or hex)"
            raise ConfigError(f"node: key_service_public_keys.{epoch}: {problem}") from None
        if len(out[int(epoch)]) != 32:
            raise ConfigError(f"node: key_service_public_keys.{epoch}: a ristretto255 element is 32 bytes")
    return out
