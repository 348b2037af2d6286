"""Configuration of one key-service process ([keys] in the TOML file, LIANFANG_KEYS_* in the env)."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.config import ConfigError, base64_key, check_listen, check_log_level, check_numbers


@dataclass(frozen=True)
class KeyServiceConfig:
    """Settings of ``lianfang keys serve``."""

    listen: str = "127.0.0.1:7445"
    """host:port to serve on (port 0 picks a free one)."""

    database: str = "lianfang-keys.db"
    """SQLite file: key epochs (secrets sealed under ``master_key_file``), the evaluation audit."""

    master_key_file: str = ""
    """64 hex characters (``lianfang keys new consortium``): seals the epoch secrets at rest."""

    tls_cert: str = ""
    """PEM certificate of the key service. Required unless ``plaintext`` is set."""

    tls_key: str = ""
    """PEM private key of the key service."""

    tls_client_ca: str = ""
    """If set, clients must present a certificate from this CA whose common name is the JWT subject."""

    plaintext: bool = False
    """Serve without TLS (local experiments only)."""

    member_keys: dict[str, str] = field(default_factory=dict)
    """Members that may evaluate: member id → base64 raw Ed25519 public key (the key it signs hub
    JWTs with). JWTs: sub=<member>, aud=lianfang-keys, scope=evaluate."""

    admin_keys: dict[str, str] = field(default_factory=dict)
    """Key administrators (rotate, activate, retire, audit): name → base64 key; sub=admin/<name>."""

    hub_keys: dict[str, str] = field(default_factory=dict)
    """Hub operators that may fetch Δ to re-key the hub's store: name → base64 key; sub=hub/<name>."""

    daily_evaluation_quota: int = 200_000
    """Elements one member may have evaluated per UTC day (0: unlimited); beyond → RESOURCE_EXHAUSTED."""

    member_quotas: dict[str, str] = field(default_factory=dict)
    """Per-member overrides of ``daily_evaluation_quota``: member id → elements per day."""

    max_batch: int = 256
    """Most blinded elements in one Evaluate (an application has a few dozen at most)."""

    grace_seconds: float = 5.0
    """Drain time on SIGTERM."""

    log_level: str = "INFO"
    """Level of the JSON-lines log on stderr."""

    def __post_init__(self) -> None:
        if not self.plaintext and not (self.tls_cert and self.tls_key):
            raise ConfigError("keys: tls_cert and tls_key are required (or set plaintext = true)")
        if not self.master_key_file:
            raise ConfigError("keys: master_key_file is required")
        check_log_level("keys", self.log_level)
        check_listen("keys", self, "listen")
        check_numbers("keys", self, non_negative=("grace_seconds", "daily_evaluation_quota"), at_least={"max_batch": 1})
        for table in ("member_keys", "admin_keys", "hub_keys"):
            for name, encoded in getattr(self, table).items():
                public_key(encoded, f"{table}.{name}")
        for name in self.member_quotas:
            self.quota_of(name)

    def quota_of(self, member_id: str) -> int:
        raw = self.member_quotas.get(member_id)
        if raw is None:
            return self.daily_evaluation_quota
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"keys: member_quotas.{member_id}: expected a number") from None
        if value < 0:
            raise ConfigError(f"keys: member_quotas.{member_id}: must not be negative")
        return value


def public_key(encoded: str, setting: str) -> bytes:
    return base64_key(
        encoded,
        not_base64=f"keys: {setting}: not base64",
        wrong_size=f"keys: {setting}: a raw Ed25519 public key is 32 bytes",
    )
