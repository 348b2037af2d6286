"""One key-service process: vault, authentication, KeyService, health, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import grpc
from grpc_health.v1 import health
from lianfang.v1 import keys_pb2, keys_pb2_grpc

from consortium.key_service.auth import KeyAuthenticator, KeyAuthInterceptor
from consortium.key_service.config import KeyServiceConfig, public_key
from consortium.key_service.policy import ADMIN_PREFIX, HUB_PREFIX
from consortium.key_service.quotas import EvaluationQuota
from consortium.key_service.service import KeyServicer
from consortium.key_service.vault import ACTIVE, Vault, read_master_key
from runtime import oprf
from runtime.clock import Clock, system_clock
from runtime.config import ConfigError, setting_file
from runtime.server import check_port_free, create_server, serve
from runtime.tls import TlsConfig

log = logging.getLogger("lianfang.keys")
SERVICE_NAME = keys_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name


RELOADED = ("member_keys", "admin_keys", "hub_keys", "daily_evaluation_quota", "member_quotas")
"""Settings a reload (SIGHUP) applies at once: who may call, and how much members may evaluate.
Any other setting changed in the file waits for a restart (the reload says which)."""


@dataclass
class RunningKeyService:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    vault: Vault
    servicer: KeyServicer
    authenticator: KeyAuthenticator
    config: KeyServiceConfig

    async def stop(self, grace: float | None = None) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        self.vault.close()

    def reload(self, config: KeyServiceConfig) -> dict[str, list[str]]:
        """Applies ``config``'s principals and quotas (``RELOADED``) to the running service,
        without a restart: a member whose key was replaced (``RotateMemberKey`` at the hub) or
        removed is refused from its next call, a new member may call at once. Returns what
        changed, by name, and the changed settings that still need a restart."""
        changes = self.authenticator.replace_keys(principals(config))
        self.servicer.quota.quota_of = config.quota_of
        pending = [
            f.name
            for f in fields(config)
            if f.name not in RELOADED and getattr(config, f.name) != getattr(self.config, f.name)
        ]
        self.config = replace(self.config, **{name: getattr(config, name) for name in RELOADED})
        return {
            "added": changes.added,
            "removed": changes.removed,
            "replaced": changes.replaced,
            "restart_needed": pending,
        }


def principals(config: KeyServiceConfig) -> dict[str, bytes]:
    keys = {m: public_key(k, f"member_keys.{m}") for m, k in config.member_keys.items()}
    keys |= {ADMIN_PREFIX + n: public_key(k, f"admin_keys.{n}") for n, k in config.admin_keys.items()}
    keys |= {HUB_PREFIX + n: public_key(k, f"hub_keys.{n}") for n, k in config.hub_keys.items()}
    return keys


async def start_key_service(config: KeyServiceConfig, *, clock: Clock = system_clock) -> RunningKeyService:
    tls = None if config.plaintext else TlsConfig(config.tls_cert, config.tls_key, config.tls_client_ca)
    if tls is not None:
        tls.read()  # a bad certificate or key creates no vault (nor its first epoch's key)
    check_port_free(config.listen)  # nor does a port in use
    master_key = read_master_key(config.master_key_file)
    with setting_file("database", Path(config.database).absolute()):
        vault = Vault(config.database, master_key)
    with setting_file("master_key_file", config.master_key_file):
        vault.check_master_key()
    now = clock()
    if not vault.epochs():  # a fresh service starts with epoch 1 active
        vault.create(oprf.generate_key_pair(), ACTIVE, now)
        log.info("created key epoch 1")
    quota = EvaluationQuota(config.quota_of, vault.evaluated_since(EvaluationQuota.day_start(now)), now)
    servicer = KeyServicer(vault, quota, clock, max_batch=config.max_batch)
    authenticator = KeyAuthenticator(principals(config), vault, bind_certificates=bool(config.tls_client_ca))
    server, port, health_servicer = await create_server(
        config.listen,
        [(keys_pb2_grpc.add_KeyServiceServicer_to_server, servicer, SERVICE_NAME)],
        tls=tls,
        interceptors=[KeyAuthInterceptor(authenticator)],
    )
    log.info("key service serving", extra={"fields": {"port": port, "tls": tls is not None}})
    return RunningKeyService(server, port, health_servicer, vault, servicer, authenticator, config)


async def run_key_service(config: KeyServiceConfig, reload: Callable[[], KeyServiceConfig] | None = None) -> None:
    """Runs the key service until SIGTERM/SIGINT (``lianfang keys serve``). With ``reload``
    (which reads the configuration again), SIGHUP applies its principals and quotas."""
    asked: list[bool] = []  # a SIGHUP while starting: applied once the service is up
    loop = asyncio.get_running_loop()
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, asked.append, True)
    service = await start_key_service(config)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload, service, reload)
        if asked:
            _reload(service, reload)
    with contextlib.suppress(asyncio.CancelledError):
        await serve(service.server, service.stop, grace_seconds=config.grace_seconds)


def _reload(service: RunningKeyService, read: Callable[[], KeyServiceConfig]) -> None:
    """SIGHUP: a configuration that does not load (a bad key, a file gone) changes nothing."""
    try:
        config = read()
    except Exception as error:
        reason = str(error) if isinstance(error, (ConfigError, OSError)) else f"{type(error).__name__}: {error}"
        log.error("configuration not reloaded: the running one stays", extra={"fields": {"error": reason}})
        return
    log.info("configuration reloaded", extra={"fields": service.reload(config)})
