"""deploy/: the Kubernetes and compose examples hold together (a schema check; nothing is deployed here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.cassettes import load as cassettes
from simulator.scenario import file as scenarios

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d]
    for d in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(d) and d["metadata"].get("name"), d
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_kubernetes_manifest_has_a_ready_checked_deployment_its_service_and_config() -> None:
    objs = _k8s()
    deployment, service, config = objs["Deployment", "simctl"], objs["Service", "simctl"], \
        objs["ConfigMap", "simctl-config"]
    assert deployment["apiVersion"] == "apps/v1" and deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/health" and probe["port"] in (*ports, *ports.values())
    assert all(p["targetPort"] in (*ports, *ports.values()) for p in service["spec"]["ports"])
    # The replicas share state through the Redis the manifest also defines.
    args, env = container["args"], {e["name"]: e["value"] for e in container.get("env", [])}
    state = env.get("SIMCTL_STATE") or args[args.index("--state") + 1]
    redis_host = state.removeprefix("redis://").split(":")[0]
    assert state.startswith("redis://") and ("Service", redis_host) in objs
    assert str(ports["http"]) == args[args.index("--port") + 1] and args[0] == "replay"
    # Every file the container is told to read is a key of the mounted ConfigMap.
    (mount,) = container["volumeMounts"]
    (volume,) = pod["spec"]["volumes"]
    assert mount["name"] == volume["name"] and volume["configMap"]["name"] == "simctl-config"
    named = [a for a in args if a.startswith(mount["mountPath"] + "/")]
    assert named and all(Path(a).name in config["data"] for a in named)


def test_config_map_holds_a_valid_scenario_and_cassette(tmp_path: Path) -> None:
    data = _k8s()["ConfigMap", "simctl-config"]["data"]
    (tmp_path / "scenario.yaml").write_text(data["scenario.yaml"])
    assert scenarios.load(str(tmp_path / "scenario.yaml")).rate_limits.requests_per_minute
    assert cassettes.parse(data["chat.yaml"], "chat.yaml").interactions
    # The compose example mounts the same files from deploy/config.
    assert cassettes.load_yaml_only(DEPLOY / "config" / "chat.yaml").interactions
    scenarios.load(str(DEPLOY / "config" / "scenario.yaml"))


def test_compose_runs_replicas_sharing_one_redis() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    assert "redis" in services and "healthcheck" in services["redis"]
    replicas = [s for name, s in services.items() if name.startswith("simctl")]
    assert len(replicas) >= 2
    host_ports = set()
    for s in replicas:
        assert s["command"][0] == "replay" and s["environment"]["SIMCTL_STATE"] == "redis://redis:6379/0"
        assert s["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "/health" in " ".join(s["healthcheck"]["test"])
        host_ports |= {p.split(":")[0] for p in s["ports"]}
        for volume in s["volumes"]:
            assert (DEPLOY / volume.split(":")[0]).is_dir()
    assert len(host_ports) == len(replicas)  # each replica on a port of its own
