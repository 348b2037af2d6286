"""Configuration of one hub process."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lianfang.v1 import common_pb2

from consortium.markers import MarkerPolicy
from consortium.records import LONGEST_WINDOW
from consortium.usage import UsagePolicy
from graph.policy import DEFAULT_CAPS, DEFAULT_WINDOW_START, DEFAULT_WINDOWS, LinkPolicy, TokenType, token_type_name
from runtime.config import ConfigError, base64_key, check_listen, check_log_level, check_message_bytes, check_numbers
from runtime.event_loop import resolve as resolve_event_loop

MAX_MARKER_YEARS = 100
"""Longest marker retention a setting may give (0 is "never expires")."""


@dataclass(frozen=True)
class HubConfig:
    """Settings of ``lianfang hub serve`` ([hub] in the TOML file, LIANFANG_HUB_* in the env)."""

    listen: str = "127.0.0.1:7443"
    """host:port to serve on (port 0 picks a free one)."""

    store: str = "sqlite:///lianfang-hub.db"
    """Store URL: ``sqlite:///path/to/hub.db`` (embedded default; relative to the working
    directory, ``sqlite:////abs/path.db`` absolute), ``redis://host:port/db`` (``rediss://`` with
    TLS, ``unix:///path/to/redis.sock?db=0`` over a local socket), or ``redis+cluster://host:port``
    (any node of a Redis Cluster; ``rediss+cluster://`` with TLS)."""

    tls_cert: str = ""
    """PEM certificate of the hub. Required unless ``plaintext`` is set."""

    tls_key: str = ""
    """PEM private key of the hub."""

    tls_client_ca: str = ""
    """If set, clients must present a certificate from this CA (mutual TLS)."""

    plaintext: bool = False
    """Serve without TLS. For local experiments only; never between organisations."""

    admin_keys: dict[str, str] = field(default_factory=dict)
    """Admin principals: name → base64 raw Ed25519 public key. Admin JWTs use sub=admin/<name>."""

    analyst_keys: dict[str, str] = field(default_factory=dict)
    """Fraud analysts: name → base64 raw Ed25519 public key. Analyst JWTs use sub=analyst/<name>."""

    audit_key_file: str = ""
    """Ed25519 private key (PEM) that signs the audit log's tree heads; every replica uses the
    same one. Without it the AuditService answers FAILED_PRECONDITION."""

    daily_check_quota: int = 1_000_000
    """Checks one member may make per UTC day (0: unlimited); beyond → RESOURCE_EXHAUSTED."""

    checks_per_second: float = 0.0
    """Sustained Checks/s per member per hub process (0: unlimited), with ``check_burst``."""

    check_burst: int = 200
    """Checks a member may send at once above ``checks_per_second``."""

    give_to_get_floor: float = 0.0
    """Contributions (outcomes, markers) per Check a member must keep to query (0: off)."""

    give_to_get_grace: int = 1_000
    """Checks before the give-to-get floor applies."""

    scraping_checks: int = 1_000
    """Checks with no outcome ever reported after which admins see a member flagged."""

    ring_link_caps: dict[str, str] = field(default_factory=dict)
    """Ring linking by token type name (``ip = "50"``): the most distinct applications one token
    links before it is a hub token and links none, or 0 for a type that never links. Types not
    named keep ``graph.policy.DEFAULT_CAPS``. Every replica of a consortium must use the same;
    a hub started with other values refolds the log into the rings they give."""

    ring_link_windows_hours: dict[str, str] = field(default_factory=dict)
    """Token type name → hours (``ip = "6"``): the type links only applications received in the
    same window of that length (see ``ring_link_window_start_hour``), or 0 for as long as they
    are retained. Types not named keep ``graph.policy.DEFAULT_WINDOWS``: IP, 24 hours. Like the
    caps, the same on every replica."""

    ring_link_window_start_hour: float = DEFAULT_WINDOW_START / 3600
    """Hour of the UTC day at which link windows start (0 to < 24; default 20, 04:00 in China:
    the quietest hour, so the fewest same-IP bursts straddle two windows). A 6-hour window starts
    at this hour and every 6 hours on. The same on every replica."""

    marker_retention_years: dict[str, str] = field(default_factory=dict)
    """Marker type name → years after the event ends until its markers expire, 0 for never
    (``court_dishonest = "0"``: a list the court maintains itself). Types not named keep the
    defaults: negative markers 5 years, protective ones 2. The same on every replica."""

    application_retention_days: float = 730.0
    """Applications leave the index (and the rings) this long after they were received; on
    Redis also each record's expiry. At least 90 (the longest stacking window), finite."""

    purge_interval_seconds: float = 86_400.0
    """How often this hub runs the retention purge (0: never; then run ``lianfang hub purge``)."""

    member_cache_seconds: float = 1.0
    """How stale a replica's view of a member's status may be (suspensions bite within this)."""

    store_probe_seconds: float = 2.0
    """Interval of the store health probe behind grpc.health.v1."""

    max_message_bytes: int = 4 * 1024 * 1024
    """Largest request or response accepted."""

    grace_seconds: float = 5.0
    """Drain time on SIGTERM before in-flight calls are cancelled."""

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

    def __post_init__(self) -> None:
        try:
            resolve_event_loop(self.event_loop)
        except ValueError as error:
            raise ConfigError(f"hub: {error}") from None
        if not self.plaintext and not (self.tls_cert and self.tls_key):
            raise ConfigError("hub: tls_cert and tls_key are required (or set plaintext = true)")
        check_log_level("hub", self.log_level)
        check_listen("hub", self, "listen", "health_listen", "metrics_listen")
        check_numbers(
            "hub",
            self,
            positive=("store_probe_seconds",),
            non_negative=(
                "daily_check_quota",
                "checks_per_second",
                "check_burst",
                "give_to_get_floor",
                "give_to_get_grace",
                "scraping_checks",
                "purge_interval_seconds",
                "member_cache_seconds",
                "grace_seconds",
            ),
        )
        check_message_bytes("hub", self.max_message_bytes)
        days = self.application_retention_days
        if not (math.isfinite(days) and days * 86_400 >= LONGEST_WINDOW):
            raise ConfigError(
                f"hub: application_retention_days must be at least {LONGEST_WINDOW // 86_400:g} (the longest "
                f"stacking window) and finite, got {days!r}"
            )
        for name in self.admin_keys:
            self.admin_key_bytes(name)
        for name in self.analyst_keys:
            self.analyst_key_bytes(name)
        self.link_policy()
        self.marker_policy()

    def usage_policy(self) -> UsagePolicy:
        return UsagePolicy(
            daily_checks=self.daily_check_quota,
            checks_per_second=self.checks_per_second,
            burst=self.check_burst,
            give_to_get_floor=self.give_to_get_floor,
            give_to_get_grace=self.give_to_get_grace,
            scraping_checks=self.scraping_checks,
        )

    def marker_policy(self) -> MarkerPolicy:
        """``MarkerPolicy`` with ``marker_retention_years`` applied (ConfigError naming a bad one)."""
        setting = "hub: marker_retention_years"
        names = [n for n, _ in common_pb2.MarkerType.items() if n != "MARKER_TYPE_UNSPECIFIED"]
        retention = dict(MarkerPolicy().retention_years)
        seen: set[str] = set()
        for name, text in self.marker_retention_years.items():
            full = "MARKER_TYPE_" + name.strip().upper()
            if full in seen:
                raise ConfigError(f"{setting}: {name} is given twice")
            seen.add(full)
            if full not in names:
                known = ", ".join(n.removeprefix("MARKER_TYPE_").lower() for n in names)
                raise ConfigError(f"{setting}: unknown marker type {name!r} (known: {known})")
            try:
                years = float(text)
            except ValueError:
                raise ConfigError(f"{setting}: {name} must be a number of years, got {text!r}") from None
            if not 0 <= years <= MAX_MARKER_YEARS:  # NaN fails too; past ~8,000 years no timestamp holds it
                raise ConfigError(f"{setting}: {name} must be 0 to {MAX_MARKER_YEARS} years (0: never expires)")
            retention[common_pb2.MarkerType.Value(full)] = None if years == 0 else years
        return MarkerPolicy(retention)

    def link_policy(self) -> LinkPolicy:
        """The ring index's ``LinkPolicy``: the defaults with ``ring_link_caps`` and
        ``ring_link_windows_hours`` and ``ring_link_window_start_hour`` applied (ConfigError naming the
        setting when one is bad)."""
        caps = {int(t): cap for t, cap in DEFAULT_CAPS.items()}
        for token_type, cap in _by_type("ring_link_caps", self.ring_link_caps, int).items():
            if cap < 0:
                raise ConfigError(f"hub: ring_link_caps: {token_type_name(token_type)} must be ≥ 0 (0: never links)")
            if cap:
                caps[token_type] = cap
            else:
                caps.pop(token_type, None)
        windows = {int(t): seconds for t, seconds in DEFAULT_WINDOWS.items()}
        for token_type, hours in _by_type("ring_link_windows_hours", self.ring_link_windows_hours, float).items():
            seconds = round(hours * 3600)
            if hours < 0 or (hours and seconds < 1):
                raise ConfigError(
                    f"hub: ring_link_windows_hours: {token_type_name(token_type)} must be 0 (no window) "
                    "or at least one second"
                )
            if seconds:
                windows[token_type] = seconds
            else:
                windows.pop(token_type, None)
        hour = self.ring_link_window_start_hour
        if not 0 <= hour < 24:  # NaN too
            raise ConfigError(f"hub: ring_link_window_start_hour must be an hour of the day, 0 to < 24, got {hour!r}")
        return LinkPolicy(caps=caps, windows=windows, window_start=min(round(hour * 3600), 86_399))

    def admin_key_bytes(self, name: str) -> bytes:
        return _public_key(self.admin_keys[name], f"admin_keys.{name}")

    def analyst_key_bytes(self, name: str) -> bytes:
        return _public_key(self.analyst_keys[name], f"analyst_keys.{name}")


def _by_type(setting: str, values: dict[str, str], kind: type[int] | type[float]) -> dict[int, Any]:
    """A ``{token type name: number}`` setting by token type (ConfigError naming what is wrong)."""
    out: dict[int, Any] = {}
    for name, text in values.items():
        try:
            token_type = TokenType[name.strip().upper()]
        except KeyError:
            known = ", ".join(t.name.lower() for t in TokenType if t)
            raise ConfigError(f"hub: {setting}: unknown token type {name!r} (known: {known})") from None
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"hub: {setting}: {name} must be {what}, got {text!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"hub: {setting}: {name} must be a finite number")
        out[int(token_type)] = value
    return out


def _public_key(encoded: str, setting: str) -> bytes:
    return base64_key(
        encoded, not_base64=f"{setting}: not base64", wrong_size=f"{setting}: must be a raw 32-byte Ed25519 public key"
    )
