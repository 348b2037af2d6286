"""Configuration: defaults ← TOML ← env ← flags, with errors that name the key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from consortium.config import HubConfig
from graph.policy import DEFAULT_CAPS, LinkPolicy, TokenType
from node.config import NodeConfig
from runtime.config import ConfigError, load_config

ADMIN = base64.b64encode(b"\x01" * 32).decode()


def test_layers_override_in_order(tmp_path: Path) -> None:
    f = tmp_path / "hub.toml"
    f.write_text('[hub]\nlisten = "0.0.0.0:9000"\nplaintext = true\nmember_cache_seconds = 3\n')
    env = {"LIANFANG_HUB_LISTEN": "127.0.0.1:9100", "LIANFANG_HUB_ADMIN_KEYS": f"ops={ADMIN}"}
    config = load_config(HubConfig, section="hub", file=str(f), env=env, overrides={"store": "redis://x:1/0"})
    assert config.listen == "127.0.0.1:9100"
    assert config.plaintext is True
    assert config.member_cache_seconds == 3.0
    assert config.store == "redis://x:1/0"
    assert config.admin_key_bytes("ops") == b"\x01" * 32


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ('[hub]\nlisen = "x"\nplaintext = true\n', {}, "lisen: unknown setting"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_MEMBER_CACHE_SECONDS": "soon"}, "expected a number"),
        ("[hub]\nplaintext = 'maybe'\n", {}, "expected a boolean"),
        ("[hub]\n", {}, "tls_cert and tls_key are required"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_ADMIN_KEYS": "ops=bm90IGEga2V5"}, "admin_keys.ops"),
        ("[hub\n", {}, "config file"),
        ("[hub]\nplaintext = true\nring_link_caps = { wifi = 3 }\n", {}, "ring_link_caps: unknown token type 'wifi'"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_RING_LINK_CAPS": "ip=-1"}, "ip must be ≥ 0"),
        ("[hub]\nplaintext = true\nring_link_caps = { ip = 2.5 }\n", {}, "ip must be a whole number"),
        ("[hub]\nplaintext = true\nring_link_windows_hours = { ip = -6 }\n", {}, "ring_link_windows_hours: ip"),
        ("[hub]\nplaintext = true\nring_link_windows_hours = { ip = 'inf' }\n", {}, "ip must be a finite"),
        ("[hub]\nplaintext = true\nring_link_window_start_hour = 24\n", {}, "ring_link_window_start_hour must be"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_RING_LINK_WINDOW_START_HOUR": "-1"}, "0 to < 24, got -1.0"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_RING_LINK_WINDOW_START_HOUR": "nan"}, "HOUR: expected a finite"),
        ("[hub]\nplaintext = true\napplication_retention_days = 30\n", {}, "at least 90 .* got 30"),
        ("[hub]\nplaintext = true\nmarker_retention_years = { fraud = 3 }\n", {}, "unknown marker type 'fraud'"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_MARKER_RETENTION_YEARS": "suspect=-1"}, "suspect must be"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_MARKER_RETENTION_YEARS": "suspect=soon"}, "number of years"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_MARKER_RETENTION_YEARS": "suspect=1e308"}, "0 to 100 years"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_MARKER_RETENTION_YEARS": "suspect=nan"}, "0 to 100 years"),
        ("[hub]\nplaintext = true\nmarker_retention_years = { suspect = 1, SUSPECT = 2 }\n", {}, "given twice"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_APPLICATION_RETENTION_DAYS": "0"}, "application_retention_days"),
        ("[hub]\nplaintext = true\n", {"LIANFANG_HUB_APPLICATION_RETENTION_DAYS": "inf"}, "DAYS: expected a finite"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    f = tmp_path / "hub.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(HubConfig, section="hub", file=str(f), env=env)


def test_ring_linking_is_the_default_policy_with_the_configured_changes(tmp_path: Path) -> None:
    assert HubConfig(plaintext=True).link_policy() == LinkPolicy()
    assert HubConfig(plaintext=True).link_policy().fingerprint == LinkPolicy().fingerprint  # stamped on events
    f = tmp_path / "hub.toml"
    f.write_text(
        "[hub]\nplaintext = true\nring_link_caps = { ip = 50, address = 0 }\n"
        "ring_link_windows_hours = { ip = 6, device_id = 168 }\n"
    )
    env = {"LIANFANG_HUB_RING_LINK_WINDOWS_HOURS": "ip=0.5,device_id=0"}  # the env wins, as for every setting
    policy = load_config(HubConfig, section="hub", file=str(f), env=env).link_policy()
    assert policy.caps[TokenType.IP] == 50 and TokenType.ADDRESS not in policy.caps
    assert policy.caps[TokenType.PHONE] == DEFAULT_CAPS[TokenType.PHONE]  # not named: the default
    assert policy.windows[TokenType.IP] == 1800 and TokenType.DEVICE_ID not in policy.windows
    assert policy.describe()["ip"] == "50 per 1800 s from 20:00 UTC" and "address" not in policy.describe()
    assert policy.window_start == 20 * 3600  # not named: 04:00 in China


def test_link_windows_start_at_the_configured_hour() -> None:
    policy = HubConfig(plaintext=True, ring_link_window_start_hour=16.5).link_policy()
    assert policy.window_start == 16 * 3600 + 1800 and policy.describe()["ip"] == "20 per 86400 s from 16:30 UTC"
    assert policy != LinkPolicy() and policy.fingerprint != LinkPolicy().fingerprint  # replicas must agree on it
    midnight = HubConfig(plaintext=True, ring_link_window_start_hour=0).link_policy()
    assert midnight == LinkPolicy(window_start=0)
    last = HubConfig(plaintext=True, ring_link_window_start_hour=23.99999).link_policy()
    assert last.window_start == 86_399  # within the hour of the day, not rounded to the next day
    with pytest.raises(ConfigError, match=r"got -0\.0001"):
        HubConfig(plaintext=True, ring_link_window_start_hour=-0.0001).link_policy()
    # Where windows start says nothing when no type has a window: the fingerprint ignores it.
    no_windows = {"ring_link_windows_hours": {"ip": "0"}}
    assert (
        HubConfig(plaintext=True, ring_link_window_start_hour=3, **no_windows).link_policy().fingerprint  # type: ignore[arg-type]
        == HubConfig(plaintext=True, **no_windows).link_policy().fingerprint  # type: ignore[arg-type]
    )


def test_a_window_that_does_not_divide_a_day_names_the_instant_it_counts_from() -> None:
    policy = LinkPolicy(windows={TokenType.IP: 5 * 3600, TokenType.DEVICE_ID: 7 * 86_400, TokenType.PHONE: 3600})
    described = policy.describe()
    assert described["ip"] == "20 per 18000 s from 1970-01-01 20:00 UTC"  # 20:00, 01:00, 06:00 … then 21:00
    assert described["device_id"].endswith(" per 604800 s from 1970-01-01 20:00 UTC")  # a week from that Thursday
    assert described["phone"].endswith(" per 3600 s from 20:00 UTC")  # every hour on the hour, every day


def test_node_requires_identity_and_hub_trust() -> None:
    with pytest.raises(ConfigError, match="member_id"):
        load_config(NodeConfig, section="node", env={"LIANFANG_NODE_PLAINTEXT": "1"})
    env = {
        "LIANFANG_NODE_MEMBER_ID": "lender-a",
        "LIANFANG_NODE_MEMBER_KEY_FILE": "k.pem",
        "LIANFANG_NODE_CONSORTIUM_KEY_FILE": "c.hex",
        "LIANFANG_NODE_PLAINTEXT": "true",
        "LIANFANG_NODE_API_IDENTITY_KEY": ADMIN,
    }
    with pytest.raises(ConfigError, match="hub_ca_file"):
        load_config(NodeConfig, section="node", env=env)
    config = load_config(NodeConfig, section="node", env={**env, "LIANFANG_NODE_HUB_PLAINTEXT": "yes"})
    assert config.hub_timeout_seconds == 0.8 and config.key_epoch == 1
    with pytest.raises(ConfigError, match="hub_cert_file and hub_key_file go together"):  # grpc would abort
        load_config(
            NodeConfig,
            section="node",
            env={**env, "LIANFANG_NODE_HUB_CA_FILE": "ca.pem", "LIANFANG_NODE_HUB_CERT_FILE": "c.pem"},
        )
    assert config.hub_unavailable_policy == "refer"
    with pytest.raises(ConfigError, match="never approve"):
        load_config(
            NodeConfig,
            section="node",
            env={**env, "LIANFANG_NODE_HUB_PLAINTEXT": "yes", "LIANFANG_NODE_HUB_UNAVAILABLE_POLICY": "approve"},
        )
    no_idp = {k: v for k, v in env.items() if k != "LIANFANG_NODE_API_IDENTITY_KEY"}
    with pytest.raises(ConfigError, match="api_identity_key"):
        load_config(NodeConfig, section="node", env={**no_idp, "LIANFANG_NODE_HUB_PLAINTEXT": "yes"})
    from_a_file = {**env, "LIANFANG_NODE_HUB_PLAINTEXT": "yes", "LIANFANG_NODE_API_IDENTITY_KEY": ADMIN + "\n"}
    assert len(load_config(NodeConfig, section="node", env=from_a_file).identity_public_key()) == 32
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigError, match="api_identity_key must be a base64 raw 32-byte"):  # at load, not start
            load_config(
                NodeConfig,
                section="node",
                env={**env, "LIANFANG_NODE_HUB_PLAINTEXT": "yes", "LIANFANG_NODE_API_IDENTITY_KEY": bad},
            )
    assert config.outbox_keep_payload_days == 30.0
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(ConfigError, match=r"(?i)outbox_keep_payload_days"):
            load_config(
                NodeConfig,
                section="node",
                env={**env, "LIANFANG_NODE_HUB_PLAINTEXT": "yes", "LIANFANG_NODE_OUTBOX_KEEP_PAYLOAD_DAYS": bad},
            )


def test_tls_files_that_cannot_be_used_are_configuration_errors(tmp_path: Path) -> None:
    """A client certificate without its key makes grpc abort the whole process (SIGABRT), and a
    missing PEM file a traceback: both are refused first, naming what is wrong."""
    from runtime.tls import DevCertificateAuthority, TlsConfig, channel_credentials, server_credentials

    ca = DevCertificateAuthority(tmp_path / "ca")
    client = ca.issue_client("lender-a")
    with pytest.raises(ConfigError, match="client certificate without its key"):
        channel_credentials(ca.ca_file, cert_file=client.cert_file)
    with pytest.raises(ConfigError, match="client key without its certificate"):
        channel_credentials(ca.ca_file, key_file=client.key_file)
    with pytest.raises(ConfigError, match=r"CA certificate: .*nowhere\.pem: No such file"):
        channel_credentials(str(tmp_path / "nowhere.pem"))
    with pytest.raises(ConfigError, match=r"tls_key: .*gone\.pem: No such file"):
        server_credentials(TlsConfig(cert_file=client.cert_file, key_file=str(tmp_path / "gone.pem")))
    channel_credentials(ca.ca_file, client.cert_file, client.key_file)  # both: fine


def test_the_readme_s_node_toml_loads(tmp_path: Path) -> None:
    """The "Running a consortium by hand" example is a node configuration that loads as written
    (with a real key in place of the placeholder)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("with `node.toml`", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    example = example.replace("<the base64 keys new printed for keys/lender-a-idp.pem>", ADMIN)
    f = tmp_path / "node.toml"
    f.write_text(example)
    config = load_config(NodeConfig, section="node", file=str(f))
    assert (config.member_id, config.hub_cert_file, config.tls_key) == (
        "lender-a",
        "certs/client-lender-a.pem",
        "certs/node-a-key.pem",
    )


def test_a_config_file_saved_by_a_windows_or_chinese_editor(tmp_path: Path) -> None:
    """A byte-order mark is skipped; a GBK file is refused naming the file and the encoding (it
    was a bare UnicodeDecodeError), as for every TOML file a person edits."""
    path = tmp_path / "node.toml"
    path.write_bytes(b"\xef\xbb\xbf" + "[hub]\nplaintext = true\nlog_level = 'DEBUG'  # 中文注释\n".encode())
    assert load_config(HubConfig, section="hub", file=str(path), env={}).log_level == "DEBUG"
    path.write_bytes("[hub]\nlog_level = 'DEBUG'  # 中文注释\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"config file .*node\.toml: must be UTF-8"):
        load_config(HubConfig, section="hub", file=str(path), env={})
