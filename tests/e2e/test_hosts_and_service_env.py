"""What the kubelet puts into every container besides the spec: /etc/hosts and Service variables.

One `kubeherd server` with its agent serves the module. Services are created with an explicit
cluster IP inside the service CIDR (so the tests do not depend on IP allocation), and the
``default/kubernetes`` Service is created the same way when the server has not made it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
NAMESPACE = "svcenv"


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        yield c


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, containers: list[dict[str, Any]], namespace: str = "default", **spec: Any) -> dict[str, Any]:
    for c in containers:
        c.setdefault("image", BUSYBOX)
        c.setdefault("command", ["sleep", "3600"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 1, **spec}}


def service(name: str, namespace: str, port: int, cluster_ip: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": name}, "ports": [{"port": port, "targetPort": 8080, "protocol": "TCP"}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def phase(cluster: Cluster, name: str, namespace: str = "default") -> str:
    return str(cluster.kubectl_json("get", "pod", name, "-n", namespace).get("status", {}).get("phase", ""))


def cat(cluster: Cluster, name: str, container: str, path: str) -> str:
    return cluster.kubectl("exec", name, "-c", container, "--", "cat", path, timeout=30).stdout


def kubernetes_service(cluster: Cluster) -> tuple[str, int]:
    """The ``default/kubernetes`` Service's IP and port (the API server keeps that Service)."""
    spec = cluster.kubectl_json("get", "service", "kubernetes")["spec"]
    return spec["clusterIP"], spec["ports"][0]["port"]


def cluster_ip(cluster: Cluster, name: str, namespace: str) -> str:
    return str(cluster.kubectl_json("get", "service", name, "-n", namespace)["spec"]["clusterIP"])


def env_of(cluster: Cluster, name: str) -> dict[str, str]:
    wait_for(lambda: phase(cluster, name, NAMESPACE) in ("Succeeded", "Failed"), timeout=90,
             message=f"pod {name} to finish")
    assert phase(cluster, name, NAMESPACE) == "Succeeded"
    text = cluster.kubectl("logs", name, "-n", NAMESPACE).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_service_variables(cluster: Cluster) -> None:
    """Upstream's "Pods should contain environment variables for services", plus precedence,
    ``$(VAR)`` expansion and ``enableServiceLinks: false``."""
    api_ip, api_port = kubernetes_service(cluster)
    cluster.kubectl("create", "namespace", NAMESPACE)
    wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", NAMESPACE, check=False).returncode == 0,
             timeout=30, message="the namespace's default service account")
    apply(cluster, service("fooservice", NAMESPACE, 8765))
    apply(cluster, service("other", "default", 80))  # another namespace: not linked
    apply(cluster, service("headless", NAMESPACE, 81, "None"))  # no cluster IP: no variables
    foo_ip = cluster_ip(cluster, "fooservice", NAMESPACE)
    assert foo_ip.startswith("10.43.")
    env = [{"name": "ADDR", "value": "$(FOOSERVICE_PORT_8765_TCP_ADDR)|$(KUBERNETES_SERVICE_HOST)"},
           {"name": "FOOSERVICE_SERVICE_PORT", "value": "overridden"}]
    apply(cluster, pod("client-envvars", [{"name": "env3cont", "env": env,
                                           "command": ["sh", "-c", "env; echo ARG=$(FOOSERVICE_PORT)"]}],
                       NAMESPACE, restartPolicy="Never"))
    apply(cluster, pod("no-links", [{"name": "c", "command": ["env"]}], NAMESPACE, restartPolicy="Never",
                       enableServiceLinks=False))

    got = env_of(cluster, "client-envvars")
    url = f"tcp://{foo_ip}:8765"
    assert {k: got.get(k) for k in ("FOOSERVICE_SERVICE_HOST", "FOOSERVICE_PORT", "FOOSERVICE_PORT_8765_TCP",
                                     "FOOSERVICE_PORT_8765_TCP_PROTO", "FOOSERVICE_PORT_8765_TCP_PORT",
                                     "FOOSERVICE_PORT_8765_TCP_ADDR")} == {
        "FOOSERVICE_SERVICE_HOST": foo_ip, "FOOSERVICE_PORT": url, "FOOSERVICE_PORT_8765_TCP": url,
        "FOOSERVICE_PORT_8765_TCP_PROTO": "tcp", "FOOSERVICE_PORT_8765_TCP_PORT": "8765",
        "FOOSERVICE_PORT_8765_TCP_ADDR": foo_ip}
    assert got["FOOSERVICE_SERVICE_PORT"] == "overridden"  # the container's own env wins
    assert got["ADDR"] == f"{foo_ip}|{api_ip}"  # env values expand Service variables
    assert got["ARG"] == url  # so do command and args
    assert got["KUBERNETES_SERVICE_HOST"] == api_ip
    assert got["KUBERNETES_SERVICE_PORT"] == str(api_port)
    assert got["KUBERNETES_PORT"] == f"tcp://{api_ip}:{api_port}"
    assert not any(k.startswith(("OTHER_", "HEADLESS_")) for k in got)

    bare = env_of(cluster, "no-links")
    service_vars = {k for k in bare if k.endswith(("_SERVICE_HOST", "_SERVICE_PORT")) or "_PORT_" in k
                    or k.endswith("_PORT")}
    assert service_vars and all(k.startswith("KUBERNETES_") for k in service_vars), service_vars
    assert bare["KUBERNETES_SERVICE_HOST"] == api_ip


def test_kubelet_managed_etc_hosts(cluster: Cluster) -> None:
    """Upstream's KubeletManagedEtcHosts and hostAliases tests, plus the hostname/subdomain line."""
    original = {"name": "host-etc-hosts", "mountPath": "/etc/hosts-original"}
    volumes = [{"name": "host-etc-hosts", "hostPath": {"path": "/etc/hosts", "type": "FileOrCreate"}}]
    apply(cluster, pod("test-pod", [
        {"name": "busybox-1", "volumeMounts": [original]},
        {"name": "busybox-3", "volumeMounts": [original, {"name": "host-etc-hosts", "mountPath": "/etc/hosts"}]},
    ], volumes=volumes, hostname="web", subdomain="sub",
        hostAliases=[{"ip": "123.45.67.89", "hostnames": ["foo", "bar"]}]))
    apply(cluster, pod("test-host-network-pod", [{"name": "busybox-1", "volumeMounts": [original]}],
                       volumes=volumes, hostNetwork=True))
    for name in ("test-pod", "test-host-network-pod"):
        wait_for(lambda n=name: phase(cluster, n) == "Running", timeout=90, message=f"pod {name} to run")
    node_hosts = Path("/etc/hosts").read_text()
    pod_ip = cluster.kubectl_json("get", "pod", "test-pod")["status"]["podIP"]

    managed = cat(cluster, "test-pod", "busybox-1", "/etc/hosts")
    assert managed.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert managed != cat(cluster, "test-pod", "busybox-1", "/etc/hosts-original")
    assert f"\n{pod_ip}\tweb.sub.default.svc.cluster.local\tweb\n" in managed
    assert managed.endswith("\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n")

    assert cat(cluster, "test-pod", "busybox-3", "/etc/hosts") == node_hosts  # its own mount stays

    on_host = cat(cluster, "test-host-network-pod", "busybox-1", "/etc/hosts")
    assert on_host == "# Kubernetes-managed hosts file (host network).\n" + node_hosts
