"""Controllers are crash-safe: SIGKILL the server mid-scale-up and mid-rollout, restart it, and the
final state has exactly the desired pods — none extra, none lost."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.integration.conftest import Cluster, Kubelet, start_server, stop_server, wait_for

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: crash}
spec:
  replicas: 40
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 5, maxUnavailable: 5}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}
"""


def kill(cluster: Cluster) -> None:
    cluster.process.send_signal(signal.SIGKILL)
    cluster.process.wait(10)


def pods(cluster: Cluster) -> list[dict]:
    return [p for p in cluster.kubectl_json("get", "pods", "-n", "crash")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def settled(cluster: Cluster, image: str) -> bool:
    current = pods(cluster)
    return len(current) == 40 and all(p["spec"]["containers"][0]["image"] == image for p in current)


def test_sigkill_mid_scale_up_and_mid_rollout(tmp_path: Path) -> None:
    c = start_server(tmp_path)
    c.kubectl("create", "namespace", "crash", version="1.27")
    c.kubectl("create", "-f", "-", input=DEPLOYMENT, version="1.27")
    wait_for(lambda: len(pods(c)) >= 3, message="scale-up under way")
    kill(c)  # mid scale-up: some pods exist, more were about to be created

    c = start_server(tmp_path)
    kubelet = Kubelet(c, "crash")
    kubelet.thread.start()
    c.kubectl("rollout", "status", "deploy/web", "-n", "crash", "--timeout=90s")
    assert settled(c, "nginx:1.25")
    c.kubectl("patch", "deploy", "web", "-n", "crash", "--type=json", "-p",
              '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.26"}]')
    wait_for(lambda: any(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in pods(c)),
             message="rollout under way")
    kubelet.stop.set()
    kubelet.thread.join(5)
    kill(c)  # mid rollout: both replica sets have pods

    c = start_server(tmp_path)
    kubelet = Kubelet(c, "crash")
    kubelet.thread.start()
    try:
        c.kubectl("rollout", "status", "deploy/web", "-n", "crash", "--timeout=90s")
        wait_for(lambda: settled(c, "nginx:1.26"), message="40 new pods")
        time.sleep(2)  # nothing more happens once settled: no extra pod appears
        assert settled(c, "nginx:1.26")
        sets = c.kubectl_json("get", "rs", "-n", "crash")["items"]
        assert sorted(s["spec"]["replicas"] for s in sets) == [0, 40]
        events = c.kubectl("get", "events", "-n", "crash", "-o", "json")
        assert '"FailedCreate"' not in events.stdout
    finally:
        kubelet.stop.set()
        kubelet.thread.join(5)
        stop_server(c)
