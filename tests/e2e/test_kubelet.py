"""The kubelet end to end: `kubeherd server` with its agent, real containers, the real kubectl.

One server (with our containerd under a short temporary data dir) serves the whole module;
the pods of different tests run side by side to keep the module fast. At the end the server
is stopped, `kubeherd killall` stops its pods and containerd, and the data dir is deleted.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Cluster, start_server

from .conftest import agent_cluster, run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        yield c


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    for c in containers:
        c.setdefault("image", BUSYBOX)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 1, **spec}}


def get(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "pod", name)


def status_of(cluster: Cluster, name: str, container: str = "") -> dict[str, Any]:
    statuses = get(cluster, name).get("status", {}).get("containerStatuses") or [{}]
    return next((s for s in statuses if s.get("name") == container), statuses[0]) if container else statuses[0]


def condition(cluster: Cluster, name: str, kind: str) -> str:
    conds = get(cluster, name).get("status", {}).get("conditions") or []
    return next((c["status"] for c in conds if c["type"] == kind), "")


def logs(cluster: Cluster, *args: str) -> str:
    return cluster.kubectl("logs", *args, check=False).stdout


def http_get(ip: str, port: int) -> bytes:
    with socket.create_connection((ip, port), timeout=3) as s:
        s.sendall(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_pods_run_and_report_status(cluster: Cluster) -> None:
    """Many behaviours at once, so their waits overlap: logs, env, volumes, init, probes, OOM."""
    cluster.kubectl("create", "configmap", "conf", "--from-literal=greeting=hello-cm", "--from-literal=mode=v1")
    cluster.kubectl("create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    apply(cluster, pod("talk", [{"name": "c", "command": ["sh", "-c", "echo line1; echo line2; sleep 2; echo line3;"
                                                          " sleep 3600"]}]))
    apply(cluster, pod("env", [{"name": "c", "command": ["sh", "-c", "echo G=$GREETING P=$PASSWORD M=$mode "
                                                         "N=$MY_NAME X=$(EXPANDED); sleep 3600"],
                                "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "conf",
                                                                                              "key": "greeting"}}},
                                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds",
                                                                                           "key": "password"}}},
                                        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                        {"name": "EXPANDED", "value": "pre-$(GREETING)"}],
                                "envFrom": [{"configMapRef": {"name": "conf"}}]}]))
    apply(cluster, pod("vols", [
        {"name": "writer", "command": ["sh", "-c", "echo shared-data > /data/f; sleep 3600"],
         "volumeMounts": [{"name": "scratch", "mountPath": "/data"}]},
        {"name": "reader", "command": ["sh", "-c", "cat /init/first; while true; do cat /data/f /cm/mode /sec/password"
                                       " 2>/dev/null; echo; sleep 1; done"],
         "volumeMounts": [{"name": "scratch", "mountPath": "/data"}, {"name": "cm", "mountPath": "/cm"},
                          {"name": "sec", "mountPath": "/sec"}, {"name": "init", "mountPath": "/init"}]}],
        initContainers=[{"name": "setup", "image": BUSYBOX, "command": ["sh", "-c", "echo init-ran-first > /init/first"],
                         "volumeMounts": [{"name": "init", "mountPath": "/init"}]}],
        volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "init", "emptyDir": {"medium": "Memory"}},
                 {"name": "cm", "configMap": {"name": "conf"}}, {"name": "sec", "secret": {"secretName": "creds"}}]))
    apply(cluster, pod("live", [{"name": "c", "command": ["sh", "-c", "touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 3600"],
                                 "livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/ok"]},
                                                   "periodSeconds": 1, "failureThreshold": 1}}]))
    apply(cluster, pod("ready", [{"name": "c", "command": ["sh", "-c", "sleep 10; touch /tmp/ready; sleep 3600"],
                                  "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                                                     "periodSeconds": 1}}]))
    apply(cluster, pod("oom", [{"name": "c", "command": ["sh", "-c", "head -c 200m /dev/zero | tail"],
                                "resources": {"limits": {"memory": "32Mi"}}}], restartPolicy="Never"))
    apply(cluster, pod("crash", [{"name": "c", "command": ["sh", "-c", "echo run-$(date +%s%N); exit 3"]}]))

    # logs, and -f follows until the container stops writing (the command is bounded by timeout)
    wait_for(lambda: "line1\nline2\n" in logs(cluster, "talk"), timeout=30, message="logs of talk")
    followed = subprocess.run(["timeout", "5", *_kubectl(cluster), "logs", "-f", "talk"], capture_output=True,
                              text=True)
    assert "line1\nline2\nline3\n" in followed.stdout, followed
    assert logs(cluster, "talk", "--tail", "1").strip() == "line3"
    stamped = logs(cluster, "talk", "--timestamps", "--tail", "1")
    assert stamped.split(" ", 1)[1] == "line3\n" and stamped[:4].isdigit(), stamped

    # readiness gates Ready
    wait_for(lambda: status_of(cluster, "ready").get("state", {}).get("running"), timeout=30, message="ready running")
    assert condition(cluster, "ready", "Ready") == "False"
    wait_for(lambda: condition(cluster, "ready", "Ready") == "True", timeout=15, message="readiness to pass")

    # env from configMap, secret, fieldRef and $(VAR) expansion
    wait_for(lambda: "G=hello-cm P=s3cret M=v1 N=env X=pre-hello-cm" in logs(cluster, "env"), timeout=20,
             message="env output")

    # init container ran first; emptyDir shared by two containers; configMap and secret volumes
    wait_for(lambda: "init-ran-first" in logs(cluster, "vols", "-c", "reader"), timeout=20, message="init output")
    wait_for(lambda: "shared-data\nv1s3cret" in logs(cluster, "vols", "-c", "reader"), timeout=20,
             message="volume contents")
    assert get(cluster, "vols")["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    cluster.kubectl("patch", "configmap", "conf", "-p", '{"data":{"mode":"v2"}}')
    wait_for(lambda: "shared-data\nv2s3cret" in logs(cluster, "vols", "-c", "reader", "--tail", "3"), timeout=30,
             message="the configMap update to reach the pod")

    # a failing liveness probe restarts the container
    wait_for(lambda: status_of(cluster, "live").get("restartCount", 0) >= 1, timeout=30, message="liveness restart")

    # OOMKilled
    wait_for(lambda: status_of(cluster, "oom").get("state", {}).get("terminated"), timeout=30, message="oom exit")
    assert status_of(cluster, "oom")["state"]["terminated"]["reason"] == "OOMKilled"
    assert get(cluster, "oom")["status"]["phase"] == "Failed"

    # CrashLoopBackOff, and --previous shows the last run
    wait_for(lambda: status_of(cluster, "crash").get("state", {}).get("waiting", {}).get("reason")
             == "CrashLoopBackOff", timeout=30, message="CrashLoopBackOff")
    st = status_of(cluster, "crash")
    assert st["lastState"]["terminated"]["exitCode"] == 3 and st["lastState"]["terminated"]["reason"] == "Error"
    assert "run-" in logs(cluster, "crash", "--previous")
    pod_obj = get(cluster, "talk")
    assert pod_obj["status"]["phase"] == "Running" and pod_obj["status"]["qosClass"] == "BestEffort"
    assert pod_obj["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
    node = json.loads(run(*_kubectl(cluster), "get", "node", pod_obj["spec"]["nodeName"], "-o", "json").stdout)
    assert pod_obj["status"]["hostIP"]
    assert ipaddress.ip_address(pod_obj["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])


def _kubectl(cluster: Cluster) -> list[str]:
    from tests.integration.conftest import KUBECTL_DIR

    return [str(KUBECTL_DIR / "kubectl.1.33"), "--kubeconfig", str(cluster.kubeconfig)]


def test_deployment_serves_http_on_pod_ips(cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "web", f"--image={BUSYBOX}", "--replicas=2", "--",
                    "sh", "-c", "mkdir -p /www && echo hello-$(hostname) > /www/index.html && httpd -f -p 8080 -h /www")
    cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    pods = cluster.kubectl_json("get", "pods", "-l", "app=web")["items"]
    assert len(pods) == 2
    for p in pods:
        ip = p["status"]["podIP"]
        body = wait_for(lambda ip=ip: _try_get(ip), timeout=10, message=f"httpd on {ip}")
        assert f"hello-{p['metadata']['name']}".encode() in body


def _try_get(ip: str) -> bytes | None:
    try:
        return http_get(ip, 8080)
    except OSError:
        return None


def test_deleting_a_pod_honours_the_grace_period(cluster: Cluster) -> None:
    apply(cluster, pod("stubborn", [{"name": "c", "command": ["sh", "-c", "trap '' TERM; sleep 3600"]}],
                       terminationGracePeriodSeconds=3))
    wait_for(lambda: status_of(cluster, "stubborn").get("state", {}).get("running"), timeout=30, message="running")
    start = time.monotonic()
    cluster.kubectl("delete", "pod", "stubborn", "--wait=true")
    took = time.monotonic() - start
    assert 2.5 <= took < 10, took


def test_server_killed_leaves_pods_running_and_readopts_them(cluster: Cluster) -> None:
    apply(cluster, pod("survivor", [{"name": "c", "command": ["sh", "-c", "echo up; sleep 3600"]}]))
    wait_for(lambda: status_of(cluster, "survivor").get("state", {}).get("running"), timeout=30, message="running")
    before = status_of(cluster, "survivor")
    os.kill(cluster.process.pid, signal.SIGKILL)
    cluster.process.wait()
    restarted = start_server(cluster.data_dir.parent, agent=True)
    cluster.process, cluster.kubeconfig, cluster.url = restarted.process, restarted.kubeconfig, restarted.url
    time.sleep(4)  # a few relists and housekeeping rounds: nothing must be killed
    after = status_of(cluster, "survivor")
    assert after["containerID"] == before["containerID"], (before, after)
    assert after["restartCount"] == before["restartCount"]
    assert "running" in after["state"]
    assert "up" in logs(cluster, "survivor")
