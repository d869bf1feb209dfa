"""Pod runtime features end to end: lifecycle hooks, gRPC probes, sidecars, securityContext,
pod cgroups and graceful deletion — `kubeherd server` with its agent, real containers, kubectl.

Observations go through the API (status, events, logs) or the node itself, which the tests run
on: hostPath directories the containers write into, the pod cgroups under /sys/fs/cgroup, and
servers on loopback or on the pod network's gateway that the kubelet or a pod connects to.
Assertions are about order and outcome, never about how long something took.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.integration.conftest import Cluster

from .conftest import agent_cluster, run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
CGROUP = Path("/sys/fs/cgroup")


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        yield c


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A node directory the test's pods mount as a hostPath."""
    path = Path(tempfile.mkdtemp(prefix="khc-vol", dir="/tmp"))
    os.chmod(path, 0o777)
    yield path
    run("rm", "-rf", str(path), check=False)


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    for c in containers + list(spec.get("initContainers") or []):
        c.setdefault("image", BUSYBOX)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 1, **spec}}


def get(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "pod", name)


def exists(cluster: Cluster, name: str) -> bool:
    return cluster.kubectl("get", "pod", name, "--ignore-not-found", "-o", "name", check=False).stdout.strip() != ""


def status_of(cluster: Cluster, name: str, container: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    statuses = get(cluster, name).get("status", {}).get(key) or []
    return next((s for s in statuses if s.get("name") == container), {})


def running(cluster: Cluster, name: str, container: str = "c") -> bool:
    return "running" in status_of(cluster, name, container).get("state", {})


def condition(cluster: Cluster, name: str, kind: str) -> dict[str, Any]:
    conds = get(cluster, name).get("status", {}).get("conditions") or []
    return next((c for c in conds if c["type"] == kind), {})


def logs(cluster: Cluster, *args: str) -> str:
    return cluster.kubectl("logs", *args, check=False).stdout


def events(cluster: Cluster, name: str, reason: str) -> list[dict[str, Any]]:
    items = cluster.kubectl_json("get", "events", "--field-selector",
                                 f"involvedObject.name={name},reason={reason}")["items"]
    return list(items)


def host_path(path: Path) -> dict[str, Any]:
    return {"name": "host", "hostPath": {"path": str(path), "type": "Directory"}}


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


# ------------------------------------------------------------------------------ lifecycle hooks


def test_post_start_runs_before_the_container_counts_as_running(cluster: Cluster, host_dir: Path) -> None:
    hook = "sleep 2; echo hook-ran > /tmp/hook; echo done > /host/poststart"
    apply(cluster, pod("poststart", [{
        "name": "c", "command": ["sh", "-c", "until [ -f /tmp/hook ]; do sleep 0.1; done; cat /tmp/hook; sleep 3600"],
        "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", hook]}}}}], volumes=[host_path(host_dir)]))
    apply(cluster, pod("poststart-fails", [{
        "name": "c", "command": ["sleep", "3600"],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo no-luck; exit 7"]}}}}]))
    # the first status that says running comes after the hook returned (it writes its marker last)
    wait_for(lambda: running(cluster, "poststart"), timeout=40, message="poststart running")
    assert (host_dir / "poststart").exists(), "the container was reported running while its postStart hook ran"
    assert status_of(cluster, "poststart", "c")["started"] is True
    # what the hook did is visible inside the container
    wait_for(lambda: "hook-ran" in logs(cluster, "poststart"), timeout=20, message="the hook's file in the container")

    # a failing hook: an event, the container killed and started again
    wait_for(lambda: events(cluster, "poststart-fails", "FailedPostStartHook"), timeout=40,
             message="a FailedPostStartHook event")
    event = events(cluster, "poststart-fails", "FailedPostStartHook")[0]
    assert event["type"] == "Warning" and event["source"]["component"] == "kubelet"
    assert event["message"].startswith('Exec lifecycle hook ([sh -c echo no-luck; exit 7]) for Container "c" in Pod '
                                       '"poststart-fails_default(')
    assert "exited with 7" in event["message"] and "no-luck" in event["message"]
    wait_for(lambda: status_of(cluster, "poststart-fails", "c").get("restartCount", 0) >= 1, timeout=40,
             message="a restart after the failed hook")
    assert not running(cluster, "poststart-fails")  # never reported running: every run fails its hook


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        type(self).seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(503)  # hooks do not look at the status code
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server() -> Iterator[tuple[int, list[tuple[str, dict[str, str]]]]]:
    seen: list[tuple[str, dict[str, str]]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), seen
    finally:
        server.shutdown()
        server.server_close()


def test_pre_stop_http_get_reaches_a_server(cluster: Cluster) -> None:
    with http_server() as (port, seen):
        apply(cluster, pod("prestop-http", [{
            "name": "c", "command": ["sleep", "3600"],
            "lifecycle": {"preStop": {"httpGet": {"host": "127.0.0.1", "port": port, "path": "/bye?from=prestop",
                                                  "httpHeaders": [{"name": "X-Hook", "value": "pre-stop"}]}}}}]))
        wait_for(lambda: running(cluster, "prestop-http"), timeout=40, message="prestop-http running")
        assert not seen
        cluster.kubectl("delete", "pod", "prestop-http", "--wait=true", "--timeout=60s")
        assert [path for path, _ in seen] == ["/bye?from=prestop"]
        headers = seen[0][1]
        assert headers["x-hook"] == "pre-stop" and headers["user-agent"].startswith("kube-lifecycle/")


# ------------------------------------------------------------------------------ graceful deletion


def test_deleting_a_pod_runs_pre_stop_and_honours_the_grace_period(cluster: Cluster, host_dir: Path) -> None:
    log = host_dir / "log"
    # traps SIGTERM: preStop first, then SIGTERM, then the pod goes
    apply(cluster, pod("graceful", [{
        "name": "c", "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        "command": ["sh", "-c", "trap 'echo got-term >> /host/log; exit 0' TERM; echo started >> /host/log; "
                                "while true; do sleep 0.2; done"],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop-begin >> /host/log; sleep 3; "
                                                                   "echo prestop-end >> /host/log"]}}}}],
        volumes=[host_path(host_dir)], terminationGracePeriodSeconds=30))
    # ignores SIGTERM: only SIGKILL at the end of its grace period stops it
    apply(cluster, pod("stubborn", [{
        "name": "c", "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        "command": ["sh", "-c", "trap '' TERM; while true; do date +%s%N > /host/beat; sleep 0.2; done"],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo done > /host/prestop-done"]}}}}],
        volumes=[host_path(host_dir)], terminationGracePeriodSeconds=5))
    wait_for(lambda: running(cluster, "graceful") and running(cluster, "stubborn"), timeout=40, message="running")
    wait_for(lambda: (host_dir / "beat").exists(), timeout=10, message="the heartbeat")

    cluster.kubectl("delete", "pod", "graceful", "--wait=false")
    # while the preStop hook runs the pod object stays (Terminating) and the container got no SIGTERM
    wait_for(lambda: "prestop-begin" in lines(log), timeout=30, message="the preStop hook to start")
    assert "got-term" not in lines(log)
    assert get(cluster, "graceful")["metadata"].get("deletionTimestamp")
    wait_for(lambda: not exists(cluster, "graceful"), timeout=60, message="graceful to be gone")
    assert lines(log) == ["started", "prestop-begin", "prestop-end", "got-term"]

    # SIGTERM follows the preStop hook; the stubborn container outlives it while its pod is
    # Terminating, and is killed when the grace period ends — then the pod goes
    beat = host_dir / "beat"
    cluster.kubectl("delete", "pod", "stubborn", "--wait=false")
    wait_for(lambda: (host_dir / "prestop-done").exists(), timeout=30, message="the preStop hook")
    for _ in range(2):  # two more heartbeats: the second surely after the SIGTERM
        seen = beat.read_text()
        wait_for(lambda seen=seen: beat.read_text() != seen, timeout=10, message="a heartbeat after SIGTERM")
    assert get(cluster, "stubborn")["metadata"].get("deletionTimestamp")
    wait_for(lambda: not exists(cluster, "stubborn"), timeout=60, message="stubborn to be gone")
    last = beat.read_text()
    time.sleep(1.5)
    assert beat.read_text() == last, "the container still runs after its pod is gone"


# ------------------------------------------------------------------------------ gRPC probes


class HealthServer:
    """grpc.health.v1.Health/Check served from the test on the pod network's gateway address."""

    def __init__(self, host: str) -> None:
        self.status = 2  # NOT_SERVING
        self.services: list[str] = []
        handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(self._check, request_deserializer=lambda b: b,
                                                         response_serializer=lambda b: b)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
        self.port = self.server.add_insecure_port(f"{host}:0")
        self.server.start()

    def _check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        service = request[2:2 + request[1]].decode() if request[:1] == b"\n" else ""
        self.services.append(service)
        return bytes([0x08, self.status])  # field 1 (status), varint

    def stop(self) -> None:
        self.server.stop(0)


def test_grpc_probe_gates_readiness(cluster: Cluster) -> None:
    # The probe goes to the pod's IP. busybox cannot serve gRPC, so the pod uses the host's network
    # (its IP is the node's) and this test serves the health service on that address: the kubelet
    # probes it exactly as it would a server in the container.
    node = cluster.kubectl_json("get", "nodes")["items"][0]
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    health = HealthServer(node_ip)
    try:
        apply(cluster, pod("grpc-probed", [{
            "name": "c", "command": ["sleep", "3600"],
            "readinessProbe": {"grpc": {"port": health.port, "service": "kubeherd.test"}, "periodSeconds": 1,
                               "failureThreshold": 1}}], hostNetwork=True))
        wait_for(lambda: running(cluster, "grpc-probed"), timeout=40, message="grpc-probed running")
        wait_for(lambda: health.services, timeout=30, message="a health check")
        assert get(cluster, "grpc-probed")["status"]["podIP"] == node_ip
        assert condition(cluster, "grpc-probed", "Ready")["status"] == "False"  # NOT_SERVING
        assert set(health.services) == {"kubeherd.test"}
        health.status = 1  # SERVING
        wait_for(lambda: condition(cluster, "grpc-probed", "Ready").get("status") == "True", timeout=20,
                 message="Ready once the service is SERVING")
        health.status = 2
        wait_for(lambda: condition(cluster, "grpc-probed", "Ready").get("status") == "False", timeout=20,
                 message="not Ready once it is NOT_SERVING")
        assert condition(cluster, "grpc-probed", "Ready")["message"] == "containers with unready status: [c]"
        health.stop()  # nobody answers: still not ready, and the pod keeps running
        time.sleep(2)
        assert condition(cluster, "grpc-probed", "Ready")["status"] == "False" and running(cluster, "grpc-probed")
    finally:
        health.stop()
        cluster.kubectl("delete", "pod", "grpc-probed", "--wait=false", check=False)


# ------------------------------------------------------------------------------ sidecars


def test_sidecar_runs_beside_the_app_and_does_not_hold_completion(cluster: Cluster, host_dir: Path) -> None:
    apply(cluster, pod("sidecar", [
        {"name": "main", "volumeMounts": [{"name": "host", "mountPath": "/host"}],
         "command": ["sh", "-c", "until [ -f /host/ping ]; do sleep 0.1; done; cat /host/from-sidecar"]}],
        initContainers=[
            {"name": "setup", "command": ["sh", "-c", "echo setup-done"]},
            {"name": "helper", "restartPolicy": "Always", "volumeMounts": [{"name": "host", "mountPath": "/host"}],
             "command": ["sh", "-c", "echo run-$(date +%s%N) >> /host/sidecar-runs; echo from-sidecar > "
                                     "/host/from-sidecar; sleep 2; exit 1"],
             "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}],
        volumes=[host_path(host_dir)], restartPolicy="Never"))
    # the app starts only after the sidecar did; the sidecar is restarted whenever it exits,
    # although the pod's restartPolicy is Never
    wait_for(lambda: len(lines(host_dir / "sidecar-runs")) >= 2, timeout=60, message="the sidecar to be restarted")
    st = get(cluster, "sidecar")["status"]
    assert st["phase"] in ("Pending", "Running"), st["phase"]
    helper = status_of(cluster, "sidecar", "helper", init=True)
    assert helper["restartCount"] >= 1
    (host_dir / "ping").touch()  # the app finishes: the pod completes, the sidecar is stopped
    wait_for(lambda: get(cluster, "sidecar")["status"]["phase"] == "Succeeded", timeout=60, message="Succeeded")
    st = get(cluster, "sidecar")["status"]
    assert st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert logs(cluster, "sidecar", "-c", "main").strip() == "from-sidecar"
    setup, helper = st["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert "running" not in helper["state"]
    initialized = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert initialized["status"] == "True"
    runs = len(lines(host_dir / "sidecar-runs"))
    time.sleep(3)
    assert len(lines(host_dir / "sidecar-runs")) == runs, "the sidecar of a completed pod was started again"


def test_sidecar_status_started_and_ready(cluster: Cluster) -> None:
    apply(cluster, pod("sidecar-ready", [{"name": "c", "command": ["sleep", "3600"]}], initContainers=[
        {"name": "proxy", "restartPolicy": "Always",
         "command": ["sh", "-c", "sleep 3; touch /tmp/ready; sleep 3600"],
         "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}}]))
    wait_for(lambda: running(cluster, "sidecar-ready"), timeout=40, message="the app container running")
    proxy = status_of(cluster, "sidecar-ready", "proxy", init=True)
    assert "running" in proxy["state"] and proxy["started"] is True
    wait_for(lambda: condition(cluster, "sidecar-ready", "Ready").get("status") == "True", timeout=30,
             message="Ready once the sidecar is ready")
    assert status_of(cluster, "sidecar-ready", "proxy", init=True)["ready"] is True
    assert condition(cluster, "sidecar-ready", "Initialized")["status"] == "True"


# ------------------------------------------------------------------------------ securityContext


def test_security_context(cluster: Cluster) -> None:
    apply(cluster, pod("nonroot", [{"name": "c", "command": ["sleep", "3600"]}],
                       securityContext={"runAsNonRoot": True}))
    apply(cluster, pod("nonroot-ok", [{"name": "c", "command": ["sh", "-c", "id -u; sleep 3600"],
                                       "securityContext": {"runAsUser": 1234}}],
                       securityContext={"runAsNonRoot": True}))
    apply(cluster, pod("locked", [{
        "name": "c", "volumeMounts": [{"name": "v", "mountPath": "/v"}],
        "command": ["sh", "-c", "touch /rootfs 2>/dev/null && echo rootfs-writable || echo rootfs-readonly; "
                                "touch /v/f; chown 4321 /v/f 2>/dev/null && echo chown-ok || echo chown-denied; "
                                "id -G; ls -ldn /v | awk '{print $1, $4}'; sleep 3600"],
        "securityContext": {"readOnlyRootFilesystem": True, "capabilities": {"drop": ["CHOWN"]}}}],
        volumes=[{"name": "v", "emptyDir": {}}], securityContext={"fsGroup": 2345, "supplementalGroups": [777]}))
    apply(cluster, pod("open", [{"name": "c", "command": ["sh", "-c", "touch /v/f; chown 4321 /v/f && echo chown-ok; "
                                                         "ls /dev | wc -l; grep Seccomp: /proc/self/status; "
                                                         "sleep 3600"],
                                 "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                       volumes=[{"name": "v", "emptyDir": {}}]))
    apply(cluster, pod("filtered", [{"name": "c", "command": ["sh", "-c", "grep Seccomp: /proc/self/status; "
                                                                    "sleep 3600"]}],
                       securityContext={"seccompProfile": {"type": "RuntimeDefault"}}))
    block = sorted(os.listdir("/sys/block"))[0]  # a host device no ordinary container has
    apply(cluster, pod("privileged", [{"name": "c", "command": ["sh", "-c", f"ls /dev/{block} && ls /dev | wc -l; "
                                                                     "sleep 3600"],
                                       "securityContext": {"privileged": True}}]))

    wait_for(lambda: status_of(cluster, "nonroot", "c").get("state", {}).get("waiting", {}).get("reason")
             == "CreateContainerConfigError", timeout=40, message="the runAsNonRoot refusal")
    uid = get(cluster, "nonroot")["metadata"]["uid"]
    assert status_of(cluster, "nonroot", "c")["state"]["waiting"]["message"] == (
        f'container has runAsNonRoot and image will run as root (pod: "nonroot_default({uid})", container: c)')
    wait_for(lambda: events(cluster, "nonroot", "Failed"), timeout=20, message="the Failed event")

    wait_for(lambda: logs(cluster, "nonroot-ok").strip() == "1234", timeout=40, message="runAsUser 1234")
    wait_for(lambda: len(logs(cluster, "locked").splitlines()) >= 4, timeout=40, message="locked output")
    out = logs(cluster, "locked").splitlines()
    assert out[0] == "rootfs-readonly"
    assert out[1] == "chown-denied"  # CAP_CHOWN dropped: even root cannot chown
    assert set(out[2].split()) >= {"0", "777", "2345"}  # fsGroup and supplementalGroups joined
    mode, group = out[3].split()
    assert group == "2345" and mode[6] == "s", out[3]  # the emptyDir: the fsGroup's, setgid

    wait_for(lambda: len(logs(cluster, "open").splitlines()) >= 3, timeout=40, message="open output")
    open_out = logs(cluster, "open").splitlines()
    assert open_out[0] == "chown-ok"
    assert open_out[2].split() == ["Seccomp:", "0"]  # no profile asked for: unconfined, as upstream's default
    wait_for(lambda: logs(cluster, "filtered").strip(), timeout=40, message="filtered output")
    assert logs(cluster, "filtered").split() == ["Seccomp:", "2"]  # RuntimeDefault: a filter is installed
    wait_for(lambda: len(logs(cluster, "privileged").splitlines()) >= 2, timeout=40, message="privileged output")
    priv_out = logs(cluster, "privileged").splitlines()
    assert priv_out[0] == f"/dev/{block}" and int(priv_out[1]) > int(open_out[1])


# ------------------------------------------------------------------------------ pod cgroups


def _pod_cgroup_dirs(uid: str) -> list[Path]:
    return [p for p in CGROUP.glob(f"*/kubepods/**/pod{uid}") if p.is_dir()]


def test_pod_cgroup_limits_and_removal(cluster: Cluster) -> None:
    apply(cluster, pod("limited", [
        {"name": "a", "command": ["sleep", "3600"], "resources": {"limits": {"memory": "48Mi", "cpu": "250m"},
                                                                   "requests": {"memory": "32Mi", "cpu": "100m"}}},
        {"name": "b", "command": ["sleep", "3600"], "resources": {"limits": {"memory": "16Mi", "cpu": "250m"}}}],
        initContainers=[{"name": "init", "command": ["true"], "resources": {"limits": {"memory": "40Mi"}}}]))
    apply(cluster, pod("unlimited", [{"name": "c", "command": ["sh", "-c", "cat /proc/self/oom_score_adj; "
                                                                      "sleep 3600"]}]))
    wait_for(lambda: running(cluster, "limited", "a") and running(cluster, "limited", "b"), timeout=40,
             message="limited running")
    obj = get(cluster, "limited")
    uid = obj["metadata"]["uid"]
    assert obj["status"]["qosClass"] == "Burstable"
    base = CGROUP / "memory" / "kubepods" / "burstable" / f"pod{uid}"
    # max(sum of the app containers' limits, the init container's): 64Mi
    assert int((base / "memory.limit_in_bytes").read_text()) == 64 * 1024 * 1024
    cpu = CGROUP / "cpu" / "kubepods" / "burstable" / f"pod{uid}"
    assert int((cpu / "cpu.shares").read_text()) == (100 + 250) * 1024 // 1000  # the requests
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 50_000  # 500m of a 100 ms period
    # the containers live inside it
    assert any(p.is_dir() for p in base.iterdir())

    wait_for(lambda: logs(cluster, "unlimited").strip(), timeout=40, message="unlimited output")
    assert logs(cluster, "unlimited").strip() == "1000"  # BestEffort: first to go on OOM
    other = get(cluster, "unlimited")["metadata"]["uid"]
    besteffort = CGROUP / "memory" / "kubepods" / "besteffort" / f"pod{other}"
    assert besteffort.is_dir()
    assert int((besteffort / "memory.limit_in_bytes").read_text()) > 2**60  # no limit

    cluster.kubectl("delete", "pod", "limited", "unlimited", "--wait=true", "--timeout=60s")
    wait_for(lambda: not _pod_cgroup_dirs(uid) and not _pod_cgroup_dirs(other), timeout=30,
             message="the pod cgroups to be removed")
