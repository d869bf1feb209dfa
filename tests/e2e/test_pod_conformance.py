"""Kubelet behaviours the upstream node conformance tests observe, end to end: `kubeherd server`
with its agent, real containers, the real kubectl and the official Python client.

Each test mirrors what an upstream conformance test looks at (named in its docstring): the
downward API's values on a container's first start, the waiting reasons of a pod whose init
containers fail (on every status the kubelet writes, seen through a watch), termination
messages, ``activeDeadlineSeconds``, and ephemeral containers added through the
``pods/ephemeralcontainers`` subresource (PATCH, GET and PUT) or by ``kubectl debug``, with and
without a terminal.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import queue
import select
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch

from kubeherd.api.quantity import Quantity
from tests.integration.conftest import KUBECTL_DIR, Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[Any]:
    """The official client's CoreV1Api on the test server."""
    api_client = config.new_client_from_config(str(cluster.kubeconfig))
    yield k8s.CoreV1Api(api_client)
    api_client.close()


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    for c in containers + spec.get("initContainers", []):
        c.setdefault("image", BUSYBOX)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 1, **spec}}


def get(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "pod", name)


def phase(cluster: Cluster, name: str) -> str:
    return str(get(cluster, name).get("status", {}).get("phase", ""))


def logs(cluster: Cluster, *args: str) -> str:
    return cluster.kubectl("logs", *args, check=False).stdout


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def node_allocatable(cluster: Cluster) -> dict[str, str]:
    return dict(cluster.kubectl_json("get", "nodes")["items"][0]["status"]["allocatable"])


# ------------------------------------------------------------------------------ downward API

RESOURCE_ENV = [{"name": name, "valueFrom": {"resourceFieldRef": {"resource": resource}}}
                for name, resource in (("CPU_LIMIT", "limits.cpu"), ("MEMORY_LIMIT", "limits.memory"),
                                       ("CPU_REQUEST", "requests.cpu"), ("MEMORY_REQUEST", "requests.memory"))]
FIELD_ENV = [{"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
             for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                                ("POD_UID", "metadata.uid"), ("POD_IP", "status.podIP"), ("POD_IPS", "status.podIPs"),
                                ("HOST_IP", "status.hostIP"), ("HOST_IPS", "status.hostIPs"))]
LIMIT_ITEMS = [{"path": path, "resourceFieldRef": {"containerName": "c", "resource": resource}}
               for path, resource in (("cpu_limit", "limits.cpu"), ("memory_limit", "limits.memory"))]


def test_downward_api_values_on_the_first_start(cluster: Cluster) -> None:
    """Downward API: pod name, namespace, IP and host IP as env vars; limits (set, and defaulted to the
    node's allocatable) as env vars and in downwardAPI and projected volumes.

    Each container runs once (restartPolicy Never) and prints what it got on its first start,
    when the pod object has no IPs yet: the values must be the sandbox's and the node's."""
    script = "env; for f in /dapi/* /proj/*; do echo $f=$(cat $f); done"
    volumes = [{"name": "dapi", "downwardAPI": {"items": LIMIT_ITEMS}},
               {"name": "proj", "projected": {"sources": [{"downwardAPI": {"items": LIMIT_ITEMS}}]}}]
    mounts = [{"name": "dapi", "mountPath": "/dapi"}, {"name": "proj", "mountPath": "/proj"}]
    apply(cluster, pod("dapi-defaults", [{"name": "c", "command": ["sh", "-c", script], "env": FIELD_ENV + RESOURCE_ENV,
                                          "volumeMounts": mounts}], restartPolicy="Never", volumes=volumes))
    apply(cluster, pod("dapi-limits", [{"name": "c", "command": ["sh", "-c", script], "env": RESOURCE_ENV,
                                        "volumeMounts": mounts,
                                        "resources": {"requests": {"cpu": "250m", "memory": "32Mi"},
                                                      "limits": {"cpu": "1250m", "memory": "64Mi"}}}],
                       restartPolicy="Never", volumes=volumes))
    apply(cluster, pod("dapi-hostnet", [{"name": "c", "command": ["sh", "-c", "env"], "env": FIELD_ENV}],
                       restartPolicy="Never", hostNetwork=True))
    for name in ("dapi-defaults", "dapi-limits", "dapi-hostnet"):
        wait_for(lambda name=name: phase(cluster, name) == "Succeeded", timeout=60, interval=0.5,
                 message=f"{name} to succeed")

    allocatable = node_allocatable(cluster)
    cpu = math.ceil(Quantity.parse(allocatable["cpu"]).milli_value() / 1000)
    memory = Quantity.parse(allocatable["memory"]).value()
    assert cpu >= 1 and memory > 0

    status = get(cluster, "dapi-defaults")["status"]
    env = env_of(logs(cluster, "dapi-defaults"))
    assert env["POD_NAME"] == "dapi-defaults" and env["POD_NAMESPACE"] == "default"
    assert env["POD_UID"] == get(cluster, "dapi-defaults")["metadata"]["uid"]
    assert env["POD_IP"] == status["podIP"] and env["POD_IP"].startswith("10.")
    assert env["POD_IPS"] == ",".join(ip["ip"] for ip in status["podIPs"])
    assert env["HOST_IP"] == status["hostIP"] and env["HOST_IP"]
    assert env["HOST_IPS"] == ",".join(ip["ip"] for ip in status["hostIPs"])
    # no limits: the node's allocatable, in the environment and in both kinds of volume
    assert (env["CPU_LIMIT"], env["MEMORY_LIMIT"]) == (str(cpu), str(memory))
    assert (env["CPU_REQUEST"], env["MEMORY_REQUEST"]) == ("0", "0")  # requests are not defaulted
    for where in ("/dapi", "/proj"):
        assert (env[f"{where}/cpu_limit"], env[f"{where}/memory_limit"]) == (str(cpu), str(memory))

    env = env_of(logs(cluster, "dapi-limits"))
    assert (env["CPU_LIMIT"], env["MEMORY_LIMIT"]) == ("2", "67108864")  # 1250m rounds up to 2 cores
    assert (env["CPU_REQUEST"], env["MEMORY_REQUEST"]) == ("1", "33554432")
    assert (env["/dapi/cpu_limit"], env["/proj/memory_limit"]) == ("2", "67108864")

    env = env_of(logs(cluster, "dapi-hostnet"))
    host_ip = get(cluster, "dapi-hostnet")["status"]["hostIP"]
    assert env["POD_IP"] == env["HOST_IP"] == host_ip


# ------------------------------------------------------------------------------ init containers


def _watch_until(core: Any, body: dict[str, Any], done: Any, check: Any, timeout: int = 120) -> dict[str, Any]:
    """Create ``body`` and watch it from its creation: ``check(pod)`` on every event, until
    ``done(pod)``; returns the last pod."""
    created = core.create_namespaced_pod("default", body)
    w = watch.Watch()
    last: dict[str, Any] = {}
    events = 0
    for event in w.stream(core.list_namespaced_pod, "default", field_selector=f"metadata.name={body['metadata']['name']}",
                          resource_version=created.metadata.resource_version, timeout_seconds=timeout):
        last = event["raw_object"]
        events += 1
        check(last)
        if done(last):
            w.stop()
            return last
    raise AssertionError(f"{body['metadata']['name']}: not done after {events} events: {json.dumps(last.get('status'))}")


def _waiting_reason(status: dict[str, Any]) -> str | None:
    waiting = (status.get("state") or {}).get("waiting")
    return None if waiting is None else str(waiting.get("reason", ""))


def test_failing_init_container_on_restart_never(cluster: Cluster, core: Any) -> None:
    """InitContainer should not start app containers and fail the pod if init containers fail on
    a RestartNever pod: on every status, the app containers wait with PodInitializing (and so
    does a waiting first init container); the pod ends Failed, not initialized."""
    body = pod("init-never", [{"name": "run1", "command": ["/bin/true"]}], restartPolicy="Never",
               initContainers=[{"name": "init1", "command": ["/bin/true"]}, {"name": "init2", "command": ["/bin/false"]}])

    def check(p: dict[str, Any]) -> None:
        status = p.get("status") or {}
        for st in status.get("containerStatuses") or []:
            assert _waiting_reason(st) == "PodInitializing", st
        inits = status.get("initContainerStatuses") or []
        if inits and _waiting_reason(inits[0]) is not None:
            assert _waiting_reason(inits[0]) == "PodInitializing", inits[0]

    final = _watch_until(core, body, lambda p: (p.get("status") or {}).get("phase") == "Failed", check)
    status = final["status"]
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")
    assert initialized["message"] == "containers with incomplete status: [init2]"
    init1, init2 = status["initContainerStatuses"]
    assert init1["state"]["terminated"]["exitCode"] == 0 and init1["ready"]
    assert init2["state"]["terminated"]["exitCode"] == 1
    assert _waiting_reason(status["containerStatuses"][0]) == "PodInitializing"


def test_failing_init_container_on_restart_always(cluster: Cluster, core: Any) -> None:
    """InitContainer should not start app containers if init containers fail on a RestartAlways
    pod: while the first init container crash-loops, the second and the app containers wait with
    PodInitializing on every status."""
    body = pod("init-always", [{"name": "run1", "command": ["sleep", "3600"]}],
               initContainers=[{"name": "init1", "command": ["/bin/false"]}, {"name": "init2", "command": ["/bin/true"]}])

    def check(p: dict[str, Any]) -> None:
        status = p.get("status") or {}
        for st in status.get("containerStatuses") or []:
            assert _waiting_reason(st) == "PodInitializing", st
        inits = status.get("initContainerStatuses") or []
        if len(inits) == 2:
            assert _waiting_reason(inits[1]) == "PodInitializing", inits[1]

    def restarted(p: dict[str, Any]) -> bool:
        inits = (p.get("status") or {}).get("initContainerStatuses") or []
        return bool(inits) and inits[0]["restartCount"] >= 3

    final = _watch_until(core, body, restarted, check)
    status = final["status"]
    assert status["phase"] == "Pending"
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert (initialized["status"], initialized["message"]) == ("False",
                                                               "containers with incomplete status: [init1 init2]")
    cluster.kubectl("delete", "pod", "init-always", "--wait=false")


# ------------------------------------------------------------------------------ termination messages


def _terminated(cluster: Cluster, name: str) -> dict[str, Any]:
    return dict(get(cluster, name)["status"]["containerStatuses"][0]["state"]["terminated"])


def test_termination_messages(cluster: Cluster) -> None:
    """Container Runtime blackbox test on terminated container: the message comes from the
    termination-message file (also written by a non-root user at a custom path), from the log
    with FallbackToLogsOnError when the container failed, and is empty when it succeeded."""
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    apply(cluster, pod("tm-file", [{"name": "c", "command": ["sh", "-c", "echo -n OK > /dev/termination-log; "
                                                              "echo DONE; true"], **fallback}], restartPolicy="Never"))
    apply(cluster, pod("tm-logs", [{"name": "c", "command": ["sh", "-c", "echo -n DONE; false"], **fallback}],
                       restartPolicy="Never"))
    apply(cluster, pod("tm-empty", [{"name": "c", "command": ["sh", "-c", "echo -n DONE; true"], **fallback}],
                       restartPolicy="Never"))
    apply(cluster, pod("tm-nonroot", [{"name": "c", "command": ["/bin/sh", "-c"],
                                       "args": ["/bin/echo -n DONE > /dev/termination-custom-log"],
                                       "terminationMessagePath": "/dev/termination-custom-log",
                                       "securityContext": {"runAsUser": 10000}}], restartPolicy="Never"))
    apply(cluster, pod("tm-both", [{"name": "c", "command": ["sh", "-c", "echo -n from-file > /dev/termination-log;"
                                                              " echo from-log; exit 3"], **fallback}],
                       restartPolicy="Never"))
    expected = {"tm-file": ("Succeeded", "OK"), "tm-logs": ("Failed", "DONE"), "tm-empty": ("Succeeded", None),
                "tm-nonroot": ("Succeeded", "DONE"), "tm-both": ("Failed", "from-file")}
    for name, (want, _) in expected.items():
        wait_for(lambda name=name, want=want: phase(cluster, name) == want, timeout=60, interval=0.5,
                 message=f"{name} to be {want}")
    for name, (_, message) in expected.items():
        assert _terminated(cluster, name).get("message") == message, name
    assert logs(cluster, "tm-logs") == "DONE"  # the log's last line, though it has no newline


def test_termination_message_of_a_restarted_container_is_kept_in_last_state(cluster: Cluster) -> None:
    """The message of the instance before a restart shows as ``lastState.terminated.message``,
    and each instance has its own file: the new one starts with an empty message file."""
    script = ("if [ -s /dev/termination-log ]; then echo not-empty; fi; "
              "echo -n run-$(date +%s%N) > /dev/termination-log; exit 1")
    apply(cluster, pod("tm-restart", [{"name": "c", "command": ["sh", "-c", script]}], restartPolicy="OnFailure"))

    def last_message() -> str:
        st = get(cluster, "tm-restart")["status"].get("containerStatuses") or [{}]
        return str(((st[0].get("lastState") or {}).get("terminated") or {}).get("message", ""))

    first = wait_for(last_message, timeout=60, interval=0.5, message="a restart with a message")
    assert first.startswith("run-")
    assert "not-empty" not in logs(cluster, "tm-restart") + logs(cluster, "tm-restart", "--previous")
    cluster.kubectl("delete", "pod", "tm-restart", "--wait=false")


# ------------------------------------------------------------------------------ activeDeadlineSeconds


def test_active_deadline_seconds_can_be_set_on_a_running_pod(cluster: Cluster) -> None:
    """Pods should allow activeDeadlineSeconds to be updated: a running pod given a deadline of 5 s
    ends Failed with reason DeadlineExceeded, its containers stopped, with a Normal event."""
    apply(cluster, pod("deadline", [{"name": "c", "command": ["sleep", "3600"]}]))
    wait_for(lambda: phase(cluster, "deadline") == "Running", timeout=60, interval=0.5, message="deadline to run")
    cluster.kubectl("patch", "pod", "deadline", "-p", json.dumps({"spec": {"activeDeadlineSeconds": 5}}))
    status = wait_for(lambda: (s := get(cluster, "deadline")["status"])["phase"] == "Failed" and s,
                      timeout=60, interval=0.5, message="the pod to fail")
    assert status["reason"] == "DeadlineExceeded"
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    wait_for(lambda: "terminated" in get(cluster, "deadline")["status"]["containerStatuses"][0]["state"],
             timeout=30, interval=0.5, message="the container to be stopped")
    events = cluster.kubectl_json("get", "events", "--field-selector",
                                  "involvedObject.name=deadline,reason=DeadlineExceeded")["items"]
    assert events and events[0]["type"] == "Normal"
    assert events[0]["message"] == "Pod was active on the node longer than the specified deadline"
    # the pod stays stopped, though its restartPolicy is Always
    assert get(cluster, "deadline")["status"]["containerStatuses"][0]["restartCount"] == 0


# ------------------------------------------------------------------------------ ephemeral containers


def _ephemeral_status(cluster: Cluster, name: str, container: str) -> dict[str, Any]:
    statuses = get(cluster, name).get("status", {}).get("ephemeralContainerStatuses") or []
    return next((s for s in statuses if s["name"] == container), {})


def test_ephemeral_container_added_by_patch_runs_and_takes_exec(cluster: Cluster, core: Any) -> None:
    """Ephemeral Containers will start an ephemeral container in an existing pod: a strategic-merge
    PATCH of pods/ephemeralcontainers adds one; it runs, takes `kubectl exec -c`, logs, and with a
    targetContainerName shares the target's processes; it is never restarted."""
    apply(cluster, pod("eph", [{"name": "app", "command": ["sh", "-c", "exec sleep 3601"]}]))
    wait_for(lambda: phase(cluster, "eph") == "Running", timeout=60, interval=0.5, message="eph to run")
    debugger = {"name": "debugger", "image": BUSYBOX, "stdin": True, "tty": True,
                "command": ["/bin/sh", "-c", "while true; do echo polo; sleep 2; done"]}
    core.patch_namespaced_pod_ephemeralcontainers("eph", "default", {"spec": {"ephemeralContainers": [debugger]}})
    state = wait_for(lambda: _ephemeral_status(cluster, "eph", "debugger").get("state", {}).get("running"),
                     timeout=60, interval=0.5, message="the ephemeral container to run")
    assert state["startedAt"]
    status = _ephemeral_status(cluster, "eph", "debugger")
    assert status["ready"] is False and status["restartCount"] == 0 and "started" not in status
    assert cluster.kubectl("exec", "eph", "-c", "debugger", "--", "sh", "-c", "echo marco").stdout == "marco\n"
    wait_for(lambda: "polo" in logs(cluster, "eph", "-c", "debugger"), timeout=30, interval=0.5,
             message="the ephemeral container's log")
    # its own PID namespace: the app's sleep is not among its processes
    assert "sleep 3601" not in cluster.kubectl("exec", "eph", "-c", "debugger", "--", "ps", "-o", "args").stdout

    # a second one, by a PUT of what GET pods/ephemeralcontainers returned (Ephemeral Containers should
    # update the ephemeral containers in an existing pod), targeting the app: it sees the app's processes
    current = core.read_namespaced_pod_ephemeralcontainers("eph", "default")
    assert [c.name for c in current.spec.ephemeral_containers] == ["debugger"]
    current.spec.ephemeral_containers.append(k8s.V1EphemeralContainer(
        name="target", image=BUSYBOX, target_container_name="app", command=["sleep", "3600"]))
    core.replace_namespaced_pod_ephemeralcontainers("eph", "default", current)
    wait_for(lambda: _ephemeral_status(cluster, "eph", "target").get("state", {}).get("running"),
             timeout=60, interval=0.5, message="the targeting ephemeral container to run")
    assert "sleep 3601" in cluster.kubectl("exec", "eph", "-c", "target", "--", "ps", "-o", "args").stdout
    assert sorted(c["name"] for c in get(cluster, "eph")["spec"]["ephemeralContainers"]) == ["debugger", "target"]

    # an ephemeral container that exits stays exited: never restarted
    once = {"name": "once", "image": BUSYBOX, "command": ["sh", "-c", "exit 2"]}
    core.patch_namespaced_pod_ephemeralcontainers("eph", "default", {"spec": {"ephemeralContainers": [once]}})
    terminated = wait_for(lambda: _ephemeral_status(cluster, "eph", "once").get("state", {}).get("terminated"),
                          timeout=60, interval=0.5, message="the short ephemeral container to exit")
    assert terminated["exitCode"] == 2
    pod_now = get(cluster, "eph")
    assert pod_now["status"]["phase"] == "Running"
    assert _ephemeral_status(cluster, "eph", "once")["restartCount"] == 0
    ready = next(c for c in pod_now["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"  # ephemeral containers take no part in readiness
    cluster.kubectl("delete", "pod", "eph", "--wait=false")


def test_kubectl_debug_attaches_to_a_new_ephemeral_container(cluster: Cluster) -> None:
    """`kubectl debug -i POD --image=…` (kubectl 1.33) adds an ephemeral container and attaches to
    it: what is typed reaches the container, what it prints comes back. (Stdin stays open until
    the answer is in: as upstream, closing an attached stdin that is not stdinOnce detaches.)"""
    apply(cluster, pod("dbg", [{"name": "app", "command": ["sleep", "3600"]}]))
    wait_for(lambda: phase(cluster, "dbg") == "Running", timeout=60, interval=0.5, message="dbg to run")
    assert KUBECTL_DIR is not None
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.kubeconfig)}
    proc = subprocess.Popen([str(KUBECTL_DIR / "kubectl.1.33"), "debug", "-i", "dbg", f"--image={BUSYBOX}",
                             "--image-pull-policy=IfNotPresent", "--container=dbgc", "--",
                             "sh", "-c", "read line; echo got-$line; sleep 600"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    answer: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: answer.put(proc.stdout.readline() if proc.stdout else ""), daemon=True).start()
    try:
        wait_for(lambda: _ephemeral_status(cluster, "dbg", "dbgc").get("state", {}).get("running"),
                 timeout=60, interval=0.5, message="the debug container to run")
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        assert answer.get(timeout=60) == "got-hello\n"
    finally:
        proc.stdin.close()
        proc.wait(30)
    status = _ephemeral_status(cluster, "dbg", "dbgc")
    assert "running" in status["state"]  # detaching leaves it running
    cluster.kubectl("delete", "pod", "dbg", "--wait=false")


def test_kubectl_debug_with_a_terminal(cluster: Cluster) -> None:
    """`kubectl debug -it POD --image=…` on a terminal: the ephemeral container gets a TTY of the
    terminal's size, runs what is typed, and exits when the shell does."""
    apply(cluster, pod("dbgt", [{"name": "app", "command": ["sleep", "3600"]}]))
    wait_for(lambda: phase(cluster, "dbgt") == "Running", timeout=60, interval=0.5, message="dbgt to run")
    assert KUBECTL_DIR is not None
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.kubeconfig)}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen([str(KUBECTL_DIR / "kubectl.1.33"), "debug", "-it", "dbgt", f"--image={BUSYBOX}",
                             "--image-pull-policy=IfNotPresent", "--container=shell", "--", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    screen = bytearray()

    def shown(text: bytes) -> bool:
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen.extend(chunk)
        return text in screen

    try:
        wait_for(lambda: _ephemeral_status(cluster, "dbgt", "shell").get("state", {}).get("running"),
                 timeout=60, interval=0.5, message="the debug shell to run")
        os.write(master, b"echo on-$(tty) size-$(stty size | tr ' ' x)\n")
        wait_for(lambda: shown(b"size-33x101"), timeout=30, interval=0.2, message="the shell's answer")
        assert b"on-/dev/pts/" in screen
        os.write(master, b"exit\n")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    terminated = wait_for(lambda: _ephemeral_status(cluster, "dbgt", "shell").get("state", {}).get("terminated"),
                          timeout=30, interval=0.5, message="the shell to exit")
    assert terminated["exitCode"] == 0
    spec = next(c for c in get(cluster, "dbgt")["spec"]["ephemeralContainers"] if c["name"] == "shell")
    assert spec["tty"] is True and spec["stdin"] is True
    cluster.kubectl("delete", "pod", "dbgt", "--wait=false")
