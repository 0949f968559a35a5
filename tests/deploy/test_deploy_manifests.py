"""Every manifest in deploy/ (Kubernetes, compose) and the Dockerfile, checked against what the code accepts.

No container runtime or cluster here: the manifests are parsed with PyYAML and every port, probe,
environment name, flag and config key in them is fed to the code that would consume it
(`swimfd run`'s parser, the config loader, the health service, deploy/entrypoint.sh).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_files import (
    COMPOSE,
    DOCKERFILE,
    ENTRYPOINT,
    K8S,
    compose,
    entrypoint_variables,
    k8s_documents,
    k8s_env,
    run_entrypoint,
    settings_for,
    stub_output,
)

from swimfd.commands import config_file
from swimfd.commands import health as health_command
from swimfd.commands.certs import make_ca, make_node
from swimfd.commands.run import ENV_VARS
from swimfd.runtime.server import SERVICE
from swimfd.runtime.settings import DISS_PORT_OFFSET

# The names the detector's health service answers for (runtime/health.py HealthReporter: "" and each service).
HEALTH_SERVICES = {"", SERVICE}
# Measured by tests/deploy/test_deploy_entrypoint.py (a real leave takes ~1 s); generous margin on top.
LEAVE_BOUND_S = 10
ENTRYPOINT_NAME = "swimfd-entrypoint"  # where the Dockerfile puts deploy/entrypoint.sh


def container(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [c] = docs["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return c


def port_named(c: dict[str, Any], name: str) -> int:
    return int(next(p["containerPort"] for p in c["ports"] if p["name"] == name))


def accepted_env_names() -> set[str]:
    return set(ENV_VARS.values()) | entrypoint_variables()


def test_every_manifest_parses_and_kustomization_lists_them_all() -> None:
    docs = k8s_documents()
    assert set(docs) == {"ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "Kustomization"}
    listed = set(docs["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert compose()["services"]


def test_service_is_headless_publishes_unready_pods_and_matches_the_statefulset() -> None:
    docs = k8s_documents()
    svc, sts = docs["Service"], docs["StatefulSet"]
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True  # members join through names before readiness
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    c = container(docs)
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    for port in svc["spec"]["ports"]:
        assert named[port["targetPort"]] == port["port"]


def test_ports_probes_and_grace_period_match_the_detector() -> None:
    docs = k8s_documents()
    c = container(docs)
    env = k8s_env(c, "default")
    detector, diss = port_named(c, "detector"), port_named(c, "diss")
    assert detector == int(env["SWIMFD_PORT"])
    assert diss == detector + DISS_PORT_OFFSET
    for probe in ("readinessProbe", "livenessProbe"):
        grpc_probe = c[probe]["grpc"]
        assert grpc_probe["port"] == detector
        assert grpc_probe.get("service", "") in HEALTH_SERVICES
    # Liveness is patient: a member still joining must not be restarted before readiness had its chance.
    live, ready = c["livenessProbe"], c["readinessProbe"]
    assert live["initialDelaySeconds"] + live["periodSeconds"] * live["failureThreshold"] >= 60
    assert ready["periodSeconds"] <= 10
    pod = docs["StatefulSet"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 2 * LEAVE_BOUND_S
    pre_stop = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -TERM 1" in pre_stop  # the detector is PID 1: the entrypoint execs it


def test_statefulset_starts_seeds_together_and_has_enough_replicas_for_them() -> None:
    docs = k8s_documents()
    spec = docs["StatefulSet"]["spec"]
    env = k8s_env(container(docs), "default")
    assert spec["podManagementPolicy"] == "Parallel"
    assert 1 <= int(env["SWIMFD_SEED_COUNT"]) <= spec["replicas"]
    assert docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_env_names_are_ones_the_entrypoint_or_the_detector_reads() -> None:
    accepted = accepted_env_names()
    k8s = {item["name"] for item in container(k8s_documents())["env"]}
    referenced = set(re.findall(r"\$\(([A-Z_]+)\)", json.dumps(container(k8s_documents())["env"])))
    assert k8s - referenced <= accepted, k8s - referenced - accepted
    for name, service in compose()["services"].items():
        assert set(service["environment"]) <= accepted, (name, set(service["environment"]) - accepted)


def test_the_configmap_is_a_config_the_detector_loads(tmp_path: Path) -> None:
    docs = k8s_documents()
    env = k8s_env(container(docs), "default")
    [volume] = [v for v in docs["StatefulSet"]["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    [mount] = [m for m in container(docs)["volumeMounts"] if m["name"] == volume["name"]]
    assert volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"] and mount["name"] == volume["name"]
    file_name = env["SWIMFD_CONFIG"].removeprefix(mount["mountPath"] + "/")
    path = tmp_path / file_name
    path.write_text(docs["ConfigMap"]["data"][file_name])
    config = config_file.load(path)
    assert config.cluster == "swimfd"


@pytest.mark.parametrize("ordinal", [0, 2, 4])
def test_each_pod_gets_settings_the_detector_accepts(tmp_path: Path, ordinal: int) -> None:
    docs = k8s_documents()
    c = container(docs)
    env = {**k8s_env(c, "prod"), "HOSTNAME": f"swimfd-{ordinal}"}
    done = run_entrypoint(tmp_path, env, *c.get("args", []))
    assert done.returncode == 0, done.stderr
    _, node_id, argv = stub_output(done.stdout)
    config = tmp_path / "config.json"
    config.write_text(docs["ConfigMap"]["data"]["config.json"])
    # Mutual TLS from the swimfd-tls Secret: SWIMFD_TLS_DIR is where it is mounted; the parser then
    # checks real files, so the test makes the Secret's content (`swimfd certs`) and points there.
    [volume] = [v for v in docs["StatefulSet"]["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    [mount] = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert env["SWIMFD_TLS_DIR"] == mount["mountPath"] and volume["secret"]["secretName"] == "swimfd-tls"
    secret = tmp_path / "tls"
    make_ca(secret)
    make_node(secret, node_id, [f"swimfd-{ordinal}.swimfd.prod.svc.cluster.local"])
    s = settings_for(argv, {**env, "NODE_ID": node_id, "SWIMFD_CONFIG": str(config), "SWIMFD_TLS_DIR": str(secret)})
    assert s.tls_dir == str(secret) and not s.insecure
    domain = "swimfd.prod.svc.cluster.local"
    assert s.node_id == str(ordinal + 1)
    assert s.advertise == f"swimfd-{ordinal}.{domain}:{port_named(c, 'detector')}"
    assert s.diss_addr == f"swimfd-{ordinal}.{domain}:{port_named(c, 'diss')}"
    assert s.diss_listen == f"0.0.0.0:{port_named(c, 'diss')}"
    seeds = int(env["SWIMFD_SEED_COUNT"])
    assert s.seeds == tuple(f"swimfd-{i}.{domain}:50051" for i in range(seeds) if i != ordinal)
    assert s.log_level == env["LOG_LEVEL"]


def test_compose_members_are_hosts_0_to_4_that_join_each_other(tmp_path: Path) -> None:
    services = compose()["services"]
    assert sorted(services) == [f"swimfd-{k}" for k in range(5)]
    ids = set()
    for name, service in services.items():
        assert service["hostname"] == name  # compose DNS resolves the service name to this host
        env = {k: str(v) for k, v in service["environment"].items()}
        done = run_entrypoint(tmp_path, {**env, "HOSTNAME": service["hostname"]}, *service.get("command", []))
        assert done.returncode == 0, done.stderr
        _, node_id, argv = stub_output(done.stdout)
        s = settings_for(argv, {**env, "NODE_ID": node_id})
        ids.add(s.node_id)
        port = int(env["SWIMFD_PORT"])
        assert s.advertise == f"{name}:{port}"
        assert all(seed.rsplit(":", 1)[0] in services for seed in s.seeds)
        # The healthcheck is a `swimfd health` the command's parser accepts, at this member's detector.
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "swimfd", "health"]
        parser = argparse.ArgumentParser()
        health_command.add_arguments(parser)
        args = parser.parse_args(test[3:])
        assert args.target == f"127.0.0.1:{port}" and args.service in HEALTH_SERVICES
        assert int(service["stop_grace_period"].removesuffix("s")) >= LEAVE_BOUND_S
        assert service["stop_signal"] == "SIGTERM"
    assert ids == {"1", "2", "3", "4", "5"}
    assert services["swimfd-0"]["ports"] == ["127.0.0.1:50051:50051"]
    build = services["swimfd-0"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_the_dockerfile_builds_go_diss_installs_from_the_lock_and_runs_the_entrypoint() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.MULTILINE)
    assert [s[1] for s in stages] == ["go-diss", "python-deps", ""]  # multi-stage, slim last
    assert stages[-1][0].endswith("-slim")
    assert "go build" in text and "./cmd/go-diss" in text
    assert "--require-hashes -r requirements.lock" in text
    assert "COPY --from=go-diss /out/go-diss /usr/local/bin/go-diss" in text  # on PATH: found by default_binary
    assert f"COPY deploy/entrypoint.sh /usr/local/bin/{ENTRYPOINT_NAME}" in text
    assert f'ENTRYPOINT ["{ENTRYPOINT_NAME}"]' in text
    exposed = {int(p) for p in re.findall(r"^EXPOSE (.+)$", text, re.MULTILINE)[0].split()}
    c = container(k8s_documents())
    assert exposed == {port_named(c, "detector"), port_named(c, "diss")}
    assert ENTRYPOINT.stat().st_mode & 0o111  # executable, as COPY keeps the mode
    image = k8s_documents()["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == compose()["services"]["swimfd-0"]["image"]
