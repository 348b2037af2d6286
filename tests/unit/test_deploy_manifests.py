"""deploy/ is checked against the code (Docker itself is not run here): every YAML parses, the
Dockerfile builds from files that exist, every LIANFANG_* variable is a real setting of the hub
or node configuration, and every container, probe, Service and Prometheus port is the one the
referenced configuration listens on."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from consortium.config import HubConfig
from node.config import NodeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROOT = DEPLOY.parent
SETTINGS = {
    "hub": {f.name for f in dataclasses.fields(HubConfig)},
    "node": {f.name for f in dataclasses.fields(NodeConfig)},
}
PORT_SETTINGS = ("listen", "metrics_listen", "health_listen")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def ports_of(section: str, settings: dict[str, Any], env: dict[str, str]) -> dict[str, int]:
    """listen/metrics_listen/health_listen ports after LIANFANG_<SECTION>_* overrides."""
    merged = dict(settings)
    for var, value in env.items():
        if var.startswith(f"LIANFANG_{section.upper()}_"):
            merged[var.removeprefix(f"LIANFANG_{section.upper()}_").lower()] = value
    return {k: port_of(merged[k]) for k in PORT_SETTINGS if merged.get(k)}


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert {f.name for f in files} >= {
        "compose.yaml",
        "prometheus.yml",
        "hub.yaml",
        "configmap.yaml",
        "secrets.example.yaml",
    }
    for f in files:
        assert documents(f), f


def test_every_lianfang_variable_is_a_real_setting() -> None:
    referenced: set[str] = set()
    for f in [DEPLOY / "compose.yaml", *DEPLOY.glob("k8s/*.yaml"), DEPLOY / "secrets.example.yaml"]:
        referenced |= set(re.findall(r"\bLIANFANG_[A-Z0-9_]+", f.read_text()))
    assert referenced
    for var in sorted(referenced):
        section, _, name = var.removeprefix("LIANFANG_").partition("_")
        assert section.lower() in SETTINGS, var
        assert name.lower() in SETTINGS[section.lower()], f"{var} is not a setting of {section.lower()}"


def test_every_toml_key_is_a_real_setting() -> None:
    tables = [tomllib.loads(f.read_text()) for f in DEPLOY.glob("config/*.toml")]
    tables += [tomllib.loads(text) for text in _configmap().values()]
    tables.append(tomllib.loads((DEPLOY / "local" / "consortium.toml").read_text()))
    for table in tables:
        for section in ("hub", "node"):
            assert set(table.get(section, {})) <= SETTINGS[section], table.get(section)


def test_dockerfile_builds_a_non_root_lianfang_image_from_files_that_exist() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.strip()]
    instructions = [line for line in lines if not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    for line in instructions:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert any(line.startswith("RUN pip install .") for line in instructions)
    copied = {source for line in instructions if line.startswith("COPY ") for source in line.split()[1:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {project["readme"], *project.get("license-files", [])} <= copied  # pip install . reads them
    user = next(line for line in instructions if line.startswith("USER "))
    assert user.split()[1] not in ("root", "0")
    assert 'ENTRYPOINT ["lianfang"]' in instructions
    exposed = {int(p) for line in instructions if line.startswith("EXPOSE ") for p in line.split()[1:]}
    compose_ports = {p for ports in _compose_ports().values() for p in ports.values()}
    assert compose_ports <= exposed


def _compose() -> dict[str, Any]:
    return documents(DEPLOY / "compose.yaml")[0]


def _compose_ports() -> dict[str, dict[str, int]]:
    """Per lianfang service: the ports of the config file it mounts, after its environment."""
    out = {}
    for name, service in _compose()["services"].items():
        command = " ".join(service.get("command") or [])
        match = re.search(r"lianfang (hub|node) serve --config (\S+)", command)
        if not match:
            continue
        section, target = match.groups()
        source = next(v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == target)
        settings = tomllib.loads((DEPLOY / source).read_text())[section]
        out[name] = ports_of(section, settings, service.get("environment", {}))
    return out


def test_compose_runs_hub_redis_three_nodes_and_prometheus() -> None:
    services = _compose()["services"]
    assert {"redis", "hub", "prometheus", "init", "enrol"} <= set(services)
    nodes = [n for n, s in services.items() if "node serve" in " ".join(s.get("command") or [])]
    assert len(nodes) == 3
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--appendonly") + 1] == "yes"
    assert redis_args[redis_args.index("--appendfsync") + 1] == "always"
    assert "lianfang certs init" in (DEPLOY / "bootstrap" / "init-state.sh").read_text()
    entrypoints = {" ".join(s.get("entrypoint") or []) for s in services.values()}
    for script in (DEPLOY / "bootstrap").glob("*.sh"):  # the image holds deploy/bootstrap at /opt/lianfang/bootstrap
        assert f"sh /opt/lianfang/bootstrap/{script.name}" in entrypoints, script.name


def test_compose_ports_are_the_configured_ones() -> None:
    services = _compose()["services"]
    for name, ports in _compose_ports().items():
        service = services[name]
        published = {int(str(p).split(":")[-1]) for p in service.get("ports", [])}
        exposed = {int(p) for p in service.get("expose", [])}
        assert ports["listen"] in published, name
        assert {ports["metrics_listen"], ports["health_listen"]} <= exposed | published, name


def test_prometheus_scrapes_every_metrics_port() -> None:
    config = documents(DEPLOY / "prometheus.yml")[0]
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    expected = {f"{name}:{ports['metrics_listen']}" for name, ports in _compose_ports().items()}
    assert targets == expected


GRACE_DEFAULTS = {"hub": HubConfig.grace_seconds, "node": NodeConfig.grace_seconds}


def _configmap() -> dict[str, str]:
    cm = next(d for d in documents(DEPLOY / "k8s" / "configmap.yaml") if d["kind"] == "ConfigMap")
    return dict(cm["data"])


def _k8s() -> list[dict[str, Any]]:
    return [d for f in sorted(DEPLOY.glob("k8s/*.yaml")) for d in documents(f)]


def _example_secrets() -> dict[str, dict[str, Any]]:
    """The Secrets the manifests read, by name: deploy/secrets.example.yaml (placeholders)."""
    return {d["metadata"]["name"]: d for d in documents(DEPLOY / "secrets.example.yaml") if d["kind"] == "Secret"}


def _deployments() -> list[dict[str, Any]]:
    return [d for d in _k8s() if d["kind"] == "Deployment"]


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["metadata"]["name"])
def test_k8s_ports_and_grpc_probes_match_the_configmap(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    section, verb, flag, target = container["args"]
    assert section in ("hub", "node") and (verb, flag) == ("serve", "--config")
    mount = next(m for m in container["volumeMounts"] if target.startswith(m["mountPath"] + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "lianfang-config"
    settings = tomllib.loads(_configmap()[target.rsplit("/", 1)[1]])[section]
    env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
    ports = ports_of(section, settings, env)
    declared = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert declared == {"grpc": ports["listen"], "metrics": ports["metrics_listen"], "health": ports["health_listen"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == ports["health_listen"], probe
    # the pod leaves the endpoints before SIGTERM, then drains, all within the grace period
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    drain = float(settings.get("grace_seconds", GRACE_DEFAULTS[section]))
    assert float(command[1]) + drain < spec.get("terminationGracePeriodSeconds", 30)
    secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    secret_names = _example_secrets()
    assert secrets <= set(secret_names)
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secret_names[ref["name"]]["stringData"], ref
    for key, path in settings.items():  # every file a setting names is a key of a mounted Secret
        if isinstance(path, str) and path.startswith("/etc/lianfang/secrets/"):
            assert any(path.rsplit("/", 1)[1] in secret_names[s]["stringData"] for s in secrets), key


def test_k8s_services_target_declared_container_ports() -> None:
    deployments = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: d for d in _deployments()}
    statefulsets = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: d
        for d in _k8s()
        if d["kind"] == "StatefulSet"
    }
    for service in (d for d in _k8s() if d["kind"] == "Service"):
        app = service["spec"]["selector"]["app.kubernetes.io/name"]
        workload = deployments.get(app) or statefulsets[app]
        names = {p["name"] for c in workload["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)


def test_applying_the_k8s_folder_creates_no_secret() -> None:
    """``kubectl apply -f deploy/k8s/`` must not overwrite real Secrets with placeholders."""
    assert not [d["metadata"]["name"] for d in _k8s() if d["kind"] == "Secret"]
    secrets = _example_secrets()
    refs = [  # every Secret key a workload reads is one the example documents
        e["valueFrom"]["secretKeyRef"]
        for d in _k8s()
        if d["kind"] in ("Deployment", "StatefulSet")
        for c in d["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if "valueFrom" in e
    ]
    assert refs and all(r["key"] in secrets[r["name"]]["stringData"] for r in refs)


def test_k8s_pods_run_restricted_with_memory_limits() -> None:
    workloads = [d for d in _k8s() if d["kind"] in ("Deployment", "StatefulSet")]
    assert {w["metadata"]["name"] for w in workloads} >= {"lianfang-hub", "lianfang-node-lender-a", "lianfang-redis"}
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            }
            assert container["resources"]["limits"]["memory"], name


def test_redis_needs_a_password_and_admits_only_hubs() -> None:
    redis = next(d for d in _k8s() if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "lianfang-redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    started = " ".join(container["args"])
    assert "requirepass" in started and "--maxmemory-policy noeviction" in started
    assert "REDIS_PASSWORD" not in " ".join(container["command"])  # not on redis-server's command line
    (policy,) = [d for d in _k8s() if d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "lianfang-redis"}
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "lianfang-hub"}}}]
    hub = next(d for d in _deployments() if d["metadata"]["name"] == "lianfang-hub")
    env = {e["name"]: e for e in hub["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LIANFANG_HUB_STORE"]["valueFrom"]["secretKeyRef"]["key"] == "store-url"


def test_deployed_nodes_run_the_daily_post_loan_batch() -> None:
    nodes = [tomllib.loads((DEPLOY / "config" / "node.toml").read_text())["node"]]
    nodes.append(tomllib.loads(_configmap()["node.toml"])["node"])
    assert all(node.get("monitor_interval_seconds", 0) > 0 for node in nodes)  # 0 (the default) is off


def test_the_build_context_leaves_out_the_venv_git_and_local_keys() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "deploy/local/state"} <= ignored
