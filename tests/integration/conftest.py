"""A real kubeherd server per test module, and the real kubectl clients to drive it."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")
KUBECTL_DIR = Path(os.path.realpath(KUBECTL)).parent if KUBECTL else None
# The oldest and newest clients shipped beside the dispatcher.
CLIENT_VERSIONS = ("1.27", "1.33")


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path
    url: str
    process: subprocess.Popen[str]
    home: Path

    def kubectl(self, *args: str, version: str = "1.33", input: str | None = None, check: bool = True,
                timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        assert KUBECTL_DIR is not None, "kubectl is not installed"
        binary = KUBECTL_DIR / f"kubectl.{version}" if version != "dispatcher" else Path(KUBECTL or "kubectl")
        full_env = {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig), **(env or {})}
        result = subprocess.run([str(binary), *args], input=input, capture_output=True, text=True,
                                timeout=timeout, env=full_env)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def kubectl_json(self, *args: str, version: str = "1.33") -> dict:
        return json.loads(self.kubectl(*args, "-o", "json", version=version).stdout)


TEST_SLOT = int(os.environ.get("KUBEHERD_TEST_SLOT", "0"))


def agent_network_args() -> list[str]:
    """A pod network of its own per ``KUBEHERD_TEST_SLOT``, so test runs side by side on one
    machine never hand out the same pod IPs (they may share the bridge: its subnets differ),
    and a free port for the kubelet's HTTPS server (the Node reports which)."""
    port = ["--kubelet-arg", "port=0"]
    return ["--cluster-cidr", f"10.{60 + TEST_SLOT}.0.0/16", *port] if TEST_SLOT else port


def start_server(tmp: Path, extra: list[str] | None = None, agent: bool = False) -> Cluster:
    data_dir = tmp / "data"
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = tmp / "kubeconfig.yaml"
    # control plane only: these tests play kubelet themselves (tests/e2e runs real containers)
    cmd = [sys.executable, "-m", "kubeherd.cli.main", "server", "--data-dir", str(data_dir),
           "--https-listen-port", "0", "--bind-address", "127.0.0.1", "--write-kubeconfig", str(kubeconfig),
           *(agent_network_args() if agent else ["--disable-agent"]), *(extra or [])]
    log = open(tmp / "server.log", "a")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    url = ""
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            port = line.rsplit(":", 1)[1].strip()
            url = f"https://127.0.0.1:{port}"
        if line.startswith("kubeconfig written to"):
            break
    if not url:
        process.kill()
        raise RuntimeError(f"server did not start: {(tmp / 'server.log').read_text()}")
    if "--disable-controllers" not in (extra or []):
        wait_for_default_service_account(data_dir, url, time.monotonic() + 30)
    return Cluster(data_dir, kubeconfig, url, process, home)


def wait_for_default_service_account(data_dir: Path, url: str, deadline: float) -> None:
    """Pods are refused until their namespace's `default` ServiceAccount exists (as upstream's
    admission does): a fresh server is ready for tests once the controller made it in `default`."""
    tls = data_dir / "server" / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/namespaces/default/serviceaccounts/default",
                                        context=context, timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        time.sleep(0.1)
    raise RuntimeError("the default ServiceAccount did not appear in the default namespace")


def stop_server(cluster: Cluster) -> None:
    cluster.process.terminate()
    try:
        cluster.process.wait(10)
    except subprocess.TimeoutExpired:
        cluster.process.kill()
        cluster.process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server whose pods no scheduler touches: tests play kubelet (and binder) themselves.
    Tests of scheduling start their own server with the scheduler on."""
    c = start_server(tmp_path_factory.mktemp("cluster"), ["--disable-scheduler"])
    yield c
    stop_server(c)


@pytest.fixture(scope="module")
def client(cluster: Cluster):  # type: ignore[no-untyped-def]
    """The official kubernetes Python client, configured from the server's kubeconfig."""
    from kubernetes import client as k8s
    from kubernetes import config

    api_client = config.new_client_from_config(str(cluster.kubeconfig))
    yield k8s
    api_client.close()


@pytest.fixture(scope="module")
def api_client(cluster: Cluster):  # type: ignore[no-untyped-def]
    from kubernetes import config

    c = config.new_client_from_config(str(cluster.kubeconfig))
    yield c
    c.close()


def pod_status_running(pod: dict, ready: bool = True, node: str = "node-1") -> dict:
    """The status a kubelet would report for a running pod (used until kubelets exist)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    containers = pod["spec"]["containers"]
    flag = "True" if ready else "False"
    return {
        "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.42.0.10", "startTime": now,
        "podIPs": [{"ip": "10.42.0.10"}],
        "conditions": [{"type": t, "status": flag if t in ("Ready", "ContainersReady") else "True",
                        "lastTransitionTime": now}
                       for t in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled")],
        "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "", "ready": ready,
                               "restartCount": 0, "started": True, "state": {"running": {"startedAt": now}}}
                              for c in containers],
    }


def run_pods(cluster: Cluster, namespace: str, ready: bool = True, label_selector: str = "") -> int:
    """Act as a kubelet once: mark every pending pod in `namespace` Running (and Ready)."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    count = 0
    for pod in api.list_namespaced_pod(namespace, label_selector=label_selector).items:
        if pod.metadata.deletion_timestamp:
            continue
        raw = api.api_client.sanitize_for_serialization(pod)
        status = pod_status_running(raw, ready)
        api.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": status},
                                        _content_type="application/merge-patch+json")
        count += 1
    api.api_client.close()
    return count


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Kubelet:
    """Keeps marking a namespace's pods Running/Ready while a test runs."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from kubernetes import client, config

        api = client.CoreV1Api(config.new_client_from_config(str(self.cluster.kubeconfig)))
        while not self.stop.is_set():
            for pod in api.list_namespaced_pod(self.namespace).items:
                try:
                    if pod.metadata.deletion_timestamp:
                        api.delete_namespaced_pod(pod.metadata.name, self.namespace, grace_period_seconds=0)
                    elif pod.status.phase != "Running":
                        raw = api.api_client.sanitize_for_serialization(pod)
                        api.patch_namespaced_pod_status(pod.metadata.name, self.namespace,
                                                        {"status": pod_status_running(raw)},
                                                        _content_type="application/merge-patch+json")
                except client.ApiException:
                    pass
            self.stop.wait(0.2)
        api.api_client.close()
