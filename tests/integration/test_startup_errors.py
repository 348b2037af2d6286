"""Set-up problems of ``lianfang hub serve`` and ``lianfang node serve``: each is one line,
``lianfang: configuration error: <setting>: <what is wrong>``, and exit code 2 — never a
traceback, never a process that starts and then fails every call.

The processes are real (``python -m clients.cli.main``); what needs no process (the numeric
settings, the TLS and key file checks, the SQLite write probe) is tested in-process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.credentials import generate_key_file, load_private_key, write_secret
from clients.key_epochs import generate_encryption_key_file
from consortium.config import HubConfig
from consortium.store.registry import store_from_url
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from node.config import NodeConfig
from node.identity.tokens import new_consortium_key
from node.origination.store import NodeStore
from node.server import encryption_key, member_key
from runtime.config import ConfigError, load_config
from runtime.server import check_port_free
from runtime.sqlite_writes import probe_sqlite_write
from runtime.tls import DevCertificateAuthority, TlsConfig, channel_credentials

REPO = Path(__file__).resolve().parents[2]
GARBAGE = "garbage\n"


def _run(tmp_path: Path, noun: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``lianfang <noun> serve`` in ``tmp_path`` (relative files land there); fails the test if
    the process is still running after 30 s (it started serving instead of refusing)."""
    command = [sys.executable, "-m", "clients.cli.main", noun, "serve", "--listen", "127.0.0.1:0", *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LIANFANG_")}
    full_env.update(env, PYTHONPATH=str(REPO))
    try:
        return subprocess.run(command, env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`lianfang {noun} serve` started serving instead of refusing its configuration")


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The one line a refused start prints; it holds every ``expected`` text."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("lianfang: configuration error: "), line
    for text in expected:
        assert text in line, line
    return line


def _hub(tmp_path: Path, env: dict[str, str], store: str = "sqlite:///hub.db") -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, "hub", {"LIANFANG_HUB_PLAINTEXT": "true", **env}, "--store", store)


@pytest.fixture
def node_env(tmp_path: Path) -> dict[str, str]:
    """A node configuration that starts (its hub need not be there): keys, plaintext, a database."""
    generate_key_file(tmp_path / "member.pem")
    idp = base64.b64encode(generate_key_file(tmp_path / "idp.pem")).decode()
    write_secret(tmp_path / "consortium.hex", new_consortium_key().hex().encode())
    return {
        "LIANFANG_NODE_MEMBER_ID": "lender-a",
        "LIANFANG_NODE_MEMBER_KEY_FILE": "member.pem",
        "LIANFANG_NODE_CONSORTIUM_KEY_FILE": "consortium.hex",
        "LIANFANG_NODE_API_IDENTITY_KEY": idp,
        "LIANFANG_NODE_PLAINTEXT": "true",
        "LIANFANG_NODE_HUB_PLAINTEXT": "true",
        "LIANFANG_NODE_HUB_ADDRESS": "127.0.0.1:9",
        "LIANFANG_NODE_DATABASE": "node.db",
    }


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only even for root (who ignores permission bits): the immutable attribute."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr: a read-only file cannot be made for root here")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i refused here ({made.stderr.strip()}): no read-only file for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _sqlite_database(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()


# -- key files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [GARBAGE, None], ids=["garbage", "missing"])
def test_a_hub_whose_audit_key_file_is_unusable_says_so_and_leaves_no_database(
    tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / "audit.pem").write_text(content)
    done = _hub(tmp_path, {"LIANFANG_HUB_AUDIT_KEY_FILE": "audit.pem"})
    line = _refused(done, "audit_key_file: audit.pem")
    assert ("is not a PEM private key" if content else "No such file or directory") in line
    assert not list(tmp_path.glob("hub.db*"))  # the key is read before the store is opened


def test_a_hub_audit_key_of_another_kind_is_named(tmp_path: Path) -> None:
    DevCertificateAuthority(tmp_path / "ca")  # an EC key, not Ed25519
    done = _hub(tmp_path, {"LIANFANG_HUB_AUDIT_KEY_FILE": "ca/ca-key.pem"})
    _refused(done, "audit_key_file: ca/ca-key.pem is not an Ed25519 private key")


@pytest.mark.parametrize(
    ("setting", "content", "expected"),
    [
        ("MEMBER_KEY_FILE", GARBAGE, "member_key_file: bad is not a PEM private key"),
        ("MEMBER_KEY_FILE", None, "member_key_file: bad: No such file or directory"),
        ("CONSORTIUM_KEY_FILE", GARBAGE, "consortium_key_file: bad: expected 64 hex characters"),
        ("ENCRYPTION_KEY_FILE", GARBAGE, "encryption_key_file: bad is not a PEM private key"),
    ],
)
def test_a_node_whose_key_file_is_unusable_says_so(
    tmp_path: Path, node_env: dict[str, str], setting: str, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "bad").write_text(content)
    env = {**node_env, f"LIANFANG_NODE_{setting}": "bad"}
    if setting == "ENCRYPTION_KEY_FILE":
        env["LIANFANG_NODE_KEY_SOURCE"] = "hub"
    _refused(_run(tmp_path, "node", env), expected)
    assert not (tmp_path / "node.db").exists()


def test_key_files_of_the_wrong_kind_are_named(tmp_path: Path) -> None:
    """An Ed25519 key where an X25519 one belongs, and the reverse (in-process)."""
    generate_key_file(tmp_path / "ed.pem")
    generate_encryption_key_file(tmp_path / "x.pem")
    base = load_config(NodeConfig, section="node", env=_node_settings(tmp_path))
    with pytest.raises(ConfigError, match=r"^encryption_key_file: .*ed\.pem is not an X25519 private key$"):
        encryption_key(dataclasses.replace(base, encryption_key_file=str(tmp_path / "ed.pem")))
    with pytest.raises(ConfigError, match=r"^member_key_file: .*x\.pem is not an Ed25519 private key$"):
        member_key(dataclasses.replace(base, member_key_file=str(tmp_path / "x.pem")))
    with pytest.raises(ValueError, match=r"x\.pem is not an Ed25519 private key"):  # a CLI argument: no setting
        load_private_key(tmp_path / "x.pem")


# -- SQLite ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["random bytes", "a folder", "a file in the way of its folder"])
def test_a_hub_whose_sqlite_file_cannot_be_opened_names_it(tmp_path: Path, case: str) -> None:
    if case == "random bytes":
        (tmp_path / "hub.db").write_bytes(os.urandom(4096))
        url, expected = "sqlite:///hub.db", f"store: {tmp_path / 'hub.db'}: file is not a database"
    elif case == "a folder":
        (tmp_path / "hub.db").mkdir()
        url, expected = "sqlite:///hub.db", f"store: {tmp_path / 'hub.db'}: unable to open database file"
    else:
        (tmp_path / "data").write_text("")
        url, expected = "sqlite:///data/hub.db", f"store: {tmp_path / 'data' / 'hub.db'}: data is a file, not a folder"
    _refused(_hub(tmp_path, {}, url), expected)


def test_a_node_whose_database_is_not_one_names_it(tmp_path: Path, node_env: dict[str, str]) -> None:
    (tmp_path / "node.db").write_bytes(os.urandom(4096))
    _refused(_run(tmp_path, "node", node_env), f"database: {tmp_path / 'node.db'}: file is not a database")


def test_a_hub_on_a_read_only_database_refuses_to_start(tmp_path: Path) -> None:
    """It used to report SERVING and answer every Check UNAVAILABLE."""
    _sqlite_database(tmp_path / "hub.db")
    with _read_only(tmp_path / "hub.db"):
        done = _hub(tmp_path, {})
    _refused(done, f"store: {tmp_path / 'hub.db'}: attempt to write a readonly database")


def test_a_node_on_a_read_only_database_refuses_to_start(tmp_path: Path, node_env: dict[str, str]) -> None:
    NodeStore(str(tmp_path / "node.db")).close()  # a node's database, as a stopped node leaves it
    with _read_only(tmp_path / "node.db"):
        done = _run(tmp_path, "node", node_env)
    _refused(done, f"database: {tmp_path / 'node.db'}: attempt to write a readonly database")


def test_the_write_probe_refuses_a_read_only_connection_and_passes_a_writable_one(tmp_path: Path) -> None:
    """Without root's immutable files: SQLite's own read-only open (``BEGIN IMMEDIATE`` alone
    succeeds there, so the probe must write)."""
    path = tmp_path / "x.db"
    _sqlite_database(path)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)) as ro:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            probe_sqlite_write(ro)
        assert not ro.in_transaction
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as rw:
        probe_sqlite_write(rw)
        assert not rw.in_transaction and rw.execute("PRAGMA user_version").fetchone() == (0,)
    store = SqliteStore(SqliteStoreConfig(str(path)))  # the store's own probe passes on a writable file
    asyncio.run(store.close())


def test_a_busy_database_is_not_a_configuration_error(tmp_path: Path) -> None:
    """Another process holding the write lock (``hub purge`` while a hub writes) is no set-up problem."""
    path = tmp_path / "x.db"
    _sqlite_database(path)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=0.05)) as other:
            probe_sqlite_write(other)
        holder.execute("ROLLBACK")


# -- store URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite:/relative.db", "sqlite:relative.db", "sqlite://relative.db"])
def test_a_mistyped_sqlite_url_is_refused_not_served_from_a_new_file(tmp_path: Path, url: str) -> None:
    _refused(_hub(tmp_path, {}, url), f"store: {url!r} is not a SQLite URL")
    assert list(tmp_path.iterdir()) == []  # no ./sqlite:/relative.db, no new empty consortium


def test_store_urls_in_the_documented_forms_still_open(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'a.db'}", "sqlite:///:memory:"):
        store = store_from_url(url)
        assert isinstance(store, SqliteStore)
        asyncio.run(store.close())
    assert (tmp_path / "a.db").is_file()
    with pytest.raises(ConfigError, match=r"store: a redis: URL must start redis://") as refused:
        store_from_url("redis:/:S3cret@host:6379")  # one slash short
    assert "S3cret" not in str(refused.value)  # the URL may hold the store's password: never echoed
    store = store_from_url("REDIS://127.0.0.1:9/0")  # a scheme in capitals is still a URL (nothing connects yet)
    asyncio.run(store.close())


# -- TLS files ---------------------------------------------------------------------------------


def test_a_hub_whose_tls_files_are_not_pem_says_which_before_opening_its_store(tmp_path: Path) -> None:
    """It used to say the port was in use, and leave a new database behind."""
    (tmp_path / "g.pem").write_text(GARBAGE)
    env = {"LIANFANG_HUB_PLAINTEXT": "false", "LIANFANG_HUB_TLS_CERT": "g.pem", "LIANFANG_HUB_TLS_KEY": "g.pem"}
    done = _run(tmp_path, "hub", env, "--store", "sqlite:///hub.db")
    line = _refused(done, "tls_cert: g.pem is not a PEM certificate")
    assert "listen" not in line
    assert not list(tmp_path.glob("hub.db*"))


def test_a_node_whose_tls_or_hub_ca_file_is_garbage_refuses_to_start(tmp_path: Path, node_env: dict[str, str]) -> None:
    """A garbage hub_ca_file used to start a node that referred every application."""
    (tmp_path / "g.pem").write_text(GARBAGE)
    hub_ca = {**node_env, "LIANFANG_NODE_HUB_PLAINTEXT": "false", "LIANFANG_NODE_HUB_CA_FILE": "g.pem"}
    _refused(_run(tmp_path, "node", hub_ca), "hub_ca_file: g.pem is not a PEM certificate")
    own = {**node_env, "LIANFANG_NODE_PLAINTEXT": "false", "LIANFANG_NODE_TLS_CERT": "g.pem"}
    _refused(
        _run(tmp_path, "node", {**own, "LIANFANG_NODE_TLS_KEY": "g.pem"}), "tls_cert: g.pem is not a PEM certificate"
    )
    assert not (tmp_path / "node.db").exists()


def test_tls_files_are_checked_for_what_they_hold(tmp_path: Path) -> None:
    ca = DevCertificateAuthority(tmp_path / "ca")
    hub, other = ca.issue("hub"), ca.issue("other")
    client = ca.issue_client("lender-a")
    garbage = tmp_path / "g.pem"
    garbage.write_text(GARBAGE)
    TlsConfig(hub.cert_file, hub.key_file, ca.ca_file).read()  # fine
    channel_credentials(ca.ca_file, client.cert_file, client.key_file)  # fine
    cases: list[tuple[TlsConfig, str]] = [
        (TlsConfig(str(garbage), hub.key_file), "tls_cert: .* is not a PEM certificate"),
        (TlsConfig(hub.key_file, hub.key_file), "tls_cert: .* is not a PEM certificate"),
        (TlsConfig(hub.cert_file, str(garbage)), "tls_key: .* is not a PEM private key"),
        (TlsConfig(hub.cert_file, hub.cert_file), "tls_key: .* is not a PEM private key"),
        (TlsConfig(hub.cert_file, other.key_file), "tls_key: .* is not the private key of the certificate in tls_cert"),
        (TlsConfig(hub.cert_file, hub.key_file, str(garbage)), "tls_client_ca: .* is not a PEM certificate"),
    ]
    for tls, message in cases:
        with pytest.raises(ConfigError, match=f"^{message}$"):
            tls.read()
    names = ("hub_ca_file", "hub_cert_file", "hub_key_file")
    with pytest.raises(ConfigError, match=r"^hub_ca_file: .*g\.pem is not a PEM certificate$"):
        channel_credentials(str(garbage), settings=names)
    with pytest.raises(ConfigError, match=r"^hub_key_file: .* is not the private key of the certificate in hub_cert"):
        channel_credentials(ca.ca_file, client.cert_file, other.key_file, settings=names)
    with pytest.raises(ConfigError, match=r"^hub_cert_file: .*g\.pem is not a PEM certificate$"):
        channel_credentials(ca.ca_file, str(garbage), client.key_file, settings=names)
    bundle = tmp_path / "bundle.pem"  # a bad block beside a good one: TLS uses the good one
    bundle.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + Path(ca.ca_file).read_text())
    channel_credentials(str(bundle))


# -- settings that are not numbers in their range ----------------------------------------------


@pytest.mark.parametrize(
    ("noun", "env", "expected"),
    [
        ("hub", {"LIANFANG_HUB_LOG_LEVEL": "LOUD"}, "hub: log_level must be one of"),
        ("hub", {"LIANFANG_HUB_GRACE_SECONDS": "nan"}, "LIANFANG_HUB_GRACE_SECONDS: expected a finite number"),
        ("hub", {"LIANFANG_HUB_GRACE_SECONDS": "-5"}, "hub: grace_seconds must be 0 or more"),
        ("hub", {"LIANFANG_HUB_MAX_MESSAGE_BYTES": "-1"}, "hub: max_message_bytes must be 1024 to"),
        ("hub", {"LIANFANG_HUB_PURGE_INTERVAL_SECONDS": "-1"}, "hub: purge_interval_seconds must be 0 or more"),
        ("node", {"LIANFANG_NODE_LOG_LEVEL": "LOUD"}, "node: log_level must be one of"),
        ("node", {"LIANFANG_NODE_GRACE_SECONDS": "inf"}, "LIANFANG_NODE_GRACE_SECONDS: expected a finite number"),
    ],
)
def test_malformed_settings_stop_the_process_naming_the_setting(
    tmp_path: Path, node_env: dict[str, str], noun: str, env: dict[str, str], expected: str
) -> None:
    done = _hub(tmp_path, env) if noun == "hub" else _run(tmp_path, "node", {**node_env, **env})
    line = _refused(done, expected)
    assert "[hub] hub:" not in line and "[node] node:" not in line  # the section said once


HUB_NUMBERS = {
    "daily_check_quota": ["-1"],
    "checks_per_second": ["-1", "nan", "inf"],
    "check_burst": ["-1"],
    "give_to_get_floor": ["-0.5", "nan"],
    "give_to_get_grace": ["-1"],
    "scraping_checks": ["-1"],
    "purge_interval_seconds": ["-1", "nan"],
    "member_cache_seconds": ["-1", "inf"],
    "store_probe_seconds": ["0", "-1", "nan"],
    "max_message_bytes": ["-1", "0", "1023", str(2**31), "inf", "1.5"],
    "grace_seconds": ["-5", "nan", "inf"],
    "application_retention_days": ["nan", "inf", "-1"],
    "ring_link_window_start_hour": ["nan", "-1", "24"],
    "log_level": ["LOUD", "10"],
}

NODE_NUMBERS = {
    "key_epoch": ["-1", str(2**32), "1.5"],
    "key_refresh_seconds": ["0", "-1", "nan"],
    "hub_timeout_seconds": ["0", "nan"],
    "grace_seconds": ["-5", "nan"],
    "source_latency_ms": ["-1", "inf"],
    "source_timeout_rate": ["-0.1", "1.5", "nan"],
    "source_deadline_seconds": ["0", "inf"],
    "key_service_timeout_seconds": ["0", "-1"],
    "monitor_interval_seconds": ["-1", "nan"],
    "bureau_recheck_days": ["-1", "nan", "inf"],
    "bureau_large_loan_share": ["0", "-0.5", "nan", "50"],
    "outbox_poll_seconds": ["0", "nan"],
    "outbox_timeout_seconds": ["-1"],
    "outbox_backoff_base_seconds": ["0"],
    "outbox_backoff_max_seconds": ["inf"],
    "outbox_keep_payload_days": ["-1", "nan"],
    "circuit_failure_threshold": ["0"],
    "circuit_reset_seconds": ["0", "nan"],
    "deadline_margin_seconds": ["-0.1", "nan"],
    "max_message_bytes": ["1023", "-1"],
    "log_level": ["LOUD"],
}


def _node_settings(tmp_path: Path) -> dict[str, str]:
    return {
        "LIANFANG_NODE_MEMBER_ID": "lender-a",
        "LIANFANG_NODE_MEMBER_KEY_FILE": str(tmp_path / "member.pem"),
        "LIANFANG_NODE_CONSORTIUM_KEY_FILE": str(tmp_path / "c.hex"),
        "LIANFANG_NODE_API_IDENTITY_KEY": base64.b64encode(b"\x01" * 32).decode(),
        "LIANFANG_NODE_PLAINTEXT": "true",
        "LIANFANG_NODE_HUB_PLAINTEXT": "true",
    }


@pytest.mark.parametrize(("name", "bad"), [(n, v) for n, values in HUB_NUMBERS.items() for v in values])
def test_every_numeric_hub_setting_out_of_its_range_is_named(name: str, bad: str) -> None:
    env = {"LIANFANG_HUB_PLAINTEXT": "true", f"LIANFANG_HUB_{name.upper()}": bad}
    with pytest.raises(ConfigError, match=f"(?i){name}") as refused:
        load_config(HubConfig, section="hub", env=env)
    assert "[hub] hub:" not in str(refused.value)


@pytest.mark.parametrize(("name", "bad"), [(n, v) for n, values in NODE_NUMBERS.items() for v in values])
def test_every_numeric_node_setting_out_of_its_range_is_named(tmp_path: Path, name: str, bad: str) -> None:
    env = {**_node_settings(tmp_path), f"LIANFANG_NODE_{name.upper()}": bad}
    with pytest.raises(ConfigError, match=f"(?i){name}"):
        load_config(NodeConfig, section="node", env=env)


def test_numeric_settings_built_in_code_are_checked_too() -> None:
    """Direct construction (tests, the demo) skips the loader's parsing, not the checks."""
    for bad in (math.nan, -1.0, math.inf):
        with pytest.raises(ConfigError, match="grace_seconds"):
            HubConfig(plaintext=True, grace_seconds=bad)
    assert HubConfig(plaintext=True, log_level="debug", grace_seconds=0, purge_interval_seconds=0).grace_seconds == 0


# -- the OPRF key service ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("MASTER_KEY_FILE", "garbage.hex", "master_key_file: garbage.hex: expected 64 hex characters"),
        ("MASTER_KEY_FILE", "missing.hex", "master_key_file: missing.hex: No such file or directory"),
        ("DATABASE", "random.db", "database: "),
        ("LOG_LEVEL", "LOUD", "keys: log_level must be one of"),
        ("GRACE_SECONDS", "-5", "keys: grace_seconds must be 0 or more"),
    ],
)
def test_a_key_service_refuses_what_it_cannot_start_with(
    tmp_path: Path, setting: str, value: str, expected: str
) -> None:
    write_secret(tmp_path / "master.hex", os.urandom(32).hex().encode())
    (tmp_path / "garbage.hex").write_text(GARBAGE)
    (tmp_path / "random.db").write_bytes(os.urandom(8192))  # not a database
    env = {"LIANFANG_KEYS_MASTER_KEY_FILE": "master.hex", "LIANFANG_KEYS_DATABASE": "keys.db"}
    env[f"LIANFANG_KEYS_{setting}"] = value
    line = _refused(_run(tmp_path, "keys", env, "--plaintext"), expected)
    if setting == "DATABASE":
        assert "random.db" in line


def test_a_key_service_given_another_master_key_refuses_to_start(tmp_path: Path) -> None:
    """The vault's secrets are sealed under the master key: started with another one, it served,
    answered GetPublicKeys, and failed every Evaluate with INTERNAL."""
    from consortium.key_service.vault import ACTIVE, Vault
    from runtime import oprf

    right, wrong = os.urandom(32), os.urandom(32)
    Vault(str(tmp_path / "keys.db"), right).create(oprf.generate_key_pair(), ACTIVE, 1.0)
    write_secret(tmp_path / "wrong.hex", wrong.hex().encode())
    env = {"LIANFANG_KEYS_MASTER_KEY_FILE": "wrong.hex", "LIANFANG_KEYS_DATABASE": "keys.db"}
    _refused(_run(tmp_path, "keys", env, "--plaintext"), "master_key_file: wrong.hex: ", "not this vault's key")
    Vault(str(tmp_path / "keys.db"), right).check_master_key()  # the right one opens them all


def test_a_key_service_with_a_bad_certificate_makes_no_vault(tmp_path: Path) -> None:
    """Checked before the vault is opened: no database, no first epoch's key left behind."""
    write_secret(tmp_path / "master.hex", os.urandom(32).hex().encode())
    (tmp_path / "g.pem").write_text(GARBAGE)
    env = {
        "LIANFANG_KEYS_MASTER_KEY_FILE": "master.hex",
        "LIANFANG_KEYS_DATABASE": "keys.db",
        "LIANFANG_KEYS_TLS_CERT": "g.pem",
        "LIANFANG_KEYS_TLS_KEY": "g.pem",
    }
    _refused(_run(tmp_path, "keys", env), "tls_cert: g.pem is not a PEM certificate")
    assert not list(tmp_path.glob("keys.db*"))


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "localhost"])
@pytest.mark.parametrize("noun", ["hub", "node", "keys"])
def test_a_server_whose_port_is_taken_says_so_and_leaves_no_database(
    tmp_path: Path, node_env: dict[str, str], noun: str, host: str
) -> None:
    """It used to open (and create) its database first, then fail to bind."""
    write_secret(tmp_path / "master.hex", os.urandom(32).hex().encode())
    env = {
        "hub": {"LIANFANG_HUB_PLAINTEXT": "true", "LIANFANG_HUB_STORE": "sqlite:///hub.db"},
        "node": {**node_env, "LIANFANG_NODE_DATABASE": "node.db"},
        "keys": {"LIANFANG_KEYS_MASTER_KEY_FILE": "master.hex", "LIANFANG_KEYS_DATABASE": "keys.db"},
    }[noun]
    plaintext = ["--plaintext"] if noun == "keys" else []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(tmp_path, noun, env, *plaintext, "--listen", f"{host}:{port}")
    _refused(done, f"cannot listen on '{host}:{port}': the port is in use")
    assert not list(tmp_path.glob(f"{noun}.db*"))


def test_a_node_whose_health_port_is_taken_leaves_no_database(tmp_path: Path, node_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(tmp_path, "node", {**node_env, "LIANFANG_NODE_HEALTH_LISTEN": f"127.0.0.1:{port}"})
    _refused(done, f"cannot listen on '127.0.0.1:{port}': the port is in use")
    assert not list(tmp_path.glob("node.db*"))


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free_again() -> None:
    """A hub restarted right after a crash finds its port in TIME_WAIT (the side that closed a
    connection first keeps it a while): grpc binds it all the same (SO_REUSEADDR), and so must
    the probe, or the restart would be refused as "in use"."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc's listener (its connections inherit it)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server's end closes first: its port stays in TIME_WAIT
            client.recv(1)
    check_port_free(f"127.0.0.1:{port}")


@pytest.mark.parametrize("noun", ["hub", "node"])
def test_two_of_a_server_s_own_settings_on_one_port_are_refused_up_front(
    tmp_path: Path, node_env: dict[str, str], noun: str
) -> None:
    """listen = health_listen used to fail at the second bind: after the store was opened (a
    database left behind), with grpc's own error lines before ours."""
    env = {"hub": {"LIANFANG_HUB_PLAINTEXT": "true", "LIANFANG_HUB_STORE": "sqlite:///hub.db"}, "node": node_env}[noun]
    prefix = f"LIANFANG_{noun.upper()}_"
    done = _run(
        tmp_path,
        noun,
        {**env, f"{prefix}HEALTH_LISTEN": "127.0.0.1:47650", f"{prefix}METRICS_LISTEN": "127.0.0.1:47650"},
    )
    _refused(done, "metrics_listen and health_listen both name 127.0.0.1:47650")
    assert not list(tmp_path.glob(f"{noun}.db*"))


def test_one_port_on_two_addresses_is_no_conflict_but_a_wildcard_over_one_is() -> None:
    hub = {"LIANFANG_HUB_PLAINTEXT": "true", "LIANFANG_HUB_LISTEN": "10.0.0.1:9000"}
    assert load_config(HubConfig, section="hub", env={**hub, "LIANFANG_HUB_HEALTH_LISTEN": "10.0.0.2:9000"})
    with pytest.raises(ConfigError, match=r"health_listen and listen both name 0\.0\.0\.0:9000"):
        load_config(HubConfig, section="hub", env={**hub, "LIANFANG_HUB_HEALTH_LISTEN": "0.0.0.0:9000"})


def test_a_free_port_passes_the_check_and_a_taken_one_fails_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="the port is in use"):
            check_port_free(f"127.0.0.1:{port}")
    check_port_free(f"127.0.0.1:{port}")  # closed: free again
    check_port_free("127.0.0.1:0")  # any free port
    check_port_free("no-such-host.invalid:7443")  # left to the bind, which names the address


@pytest.mark.parametrize("setting", ["RULES_FILE", "SCENARIO_FILE", "PRODUCTS_FILE", "MANAGERS_FILE"])
def test_a_node_whose_configuration_files_are_missing_names_the_setting(
    tmp_path: Path, node_env: dict[str, str], setting: str
) -> None:
    done = _run(tmp_path, "node", {**node_env, f"LIANFANG_NODE_{setting}": "missing.toml"})
    _refused(done, f"{setting.lower()}: ", "missing.toml")


@pytest.mark.parametrize("value", ["127.0.0.1:99999", "7443", "localhost:http"])
def test_a_listen_address_that_is_no_host_and_port_is_refused(value: str) -> None:
    """gRPC would bind 99999 modulo 65536: a hub on a port nobody configured."""
    env = {"LIANFANG_HUB_PLAINTEXT": "true", "LIANFANG_HUB_METRICS_LISTEN": value}
    with pytest.raises(ConfigError, match="hub: metrics_listen must be host:port with a port of 0 to 65535"):
        load_config(HubConfig, section="hub", env=env)
    assert load_config(HubConfig, section="hub", env={**env, "LIANFANG_HUB_METRICS_LISTEN": "[::1]:0"})
