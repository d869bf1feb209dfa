"""Pure parts of the kubelet behaviours upstream's node conformance tests observe: downward-API
values (runtime IPs, limits defaulted to the node's allocatable), default waiting reasons,
termination messages, activeDeadlineSeconds and ephemeral-container configs and statuses."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path
from typing import Any

import pytest

from kubeherd.kubelet.cri import ContainerState, ContainerStatus, Mount, NamespaceMode
from kubeherd.kubelet.eviction import deadline_exceeded_status
from kubeherd.kubelet.kuberuntime import (
    CONTAINER_NAME,
    TERMINATION_MESSAGE_PATH,
    TERMINATION_MESSAGE_POLICY,
    RuntimeValues,
    container_config,
    environment,
    runtime_field_value,
)
from kubeherd.kubelet.status import RuntimeView, active_deadline_left, pod_status, terminated
from kubeherd.kubelet.terminationmessage import log_tail, message_mount, read_message
from kubeherd.kubelet.volumes import downward_files, resource_value

ALLOCATABLE = {"cpu": "3", "memory": "2000Mi", "ephemeral-storage": "10Gi", "pods": "110"}


def pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": containers, **({"initContainers": init} if init else {}), **spec},
            "status": {"podIP": "", "hostIP": ""}}


# ------------------------------------------------------------------ downward API


@pytest.mark.parametrize(("resource", "divisor", "expected"), [
    ("limits.cpu", "1", "3"), ("limits.cpu", "1m", "3000"), ("limits.memory", "1", str(2000 * 1024 * 1024)),
    ("limits.memory", "1Mi", "2000"), ("limits.ephemeral-storage", "1Gi", "10"),
    ("requests.cpu", "1", "0"), ("requests.memory", "1", "0"),  # requests are not defaulted
])
def test_unset_limits_read_as_the_node_allocatable(resource: str, divisor: str, expected: str) -> None:
    p = pod([{"name": "c"}])
    ref = {"resource": resource, "divisor": divisor}
    assert resource_value(p, ref, "c", ALLOCATABLE) == expected


def test_set_limits_and_requests_round_up_per_divisor() -> None:
    p = pod([{"name": "c", "resources": {"limits": {"cpu": "1250m", "memory": "64Mi"},
                                         "requests": {"cpu": "250m", "memory": "32Mi"}}}])
    values = {r: resource_value(p, {"resource": r}, "c", ALLOCATABLE)
              for r in ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")}
    assert values == {"limits.cpu": "2", "limits.memory": "67108864", "requests.cpu": "1", "requests.memory": "33554432"}
    assert resource_value(p, {"resource": "limits.memory", "divisor": "1Gi"}, "c") == "1"


def test_zero_limit_is_defaulted_and_init_containers_are_found() -> None:
    p = pod([{"name": "c"}], init=[{"name": "i", "resources": {"limits": {"cpu": "0", "memory": "10Mi"}}}])
    assert resource_value(p, {"containerName": "i", "resource": "limits.cpu"}, "", ALLOCATABLE) == "3"
    assert resource_value(p, {"containerName": "i", "resource": "limits.memory", "divisor": "1Mi"}) == "10"


def test_downward_volume_files_default_limits() -> None:
    p = pod([{"name": "c"}])
    items = [{"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}]
    assert downward_files(p, {"items": items}, ALLOCATABLE)["cpu"][0] == b"3"


def test_environment_takes_ips_from_the_runtime_not_the_pod_object() -> None:
    env = [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": f}}}
           for n, f in (("IP", "status.podIP"), ("IPS", "status.podIPs"), ("HOST", "status.hostIP"),
                        ("HOSTS", "status.hostIPs"), ("NAME", "metadata.name"))]
    env.append({"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}})
    env.append({"name": "URL", "value": "http://$(IP):80"})
    p = pod([{"name": "c", "env": env}])
    values = RuntimeValues(pod_ips=("10.42.0.7", "fd00::7"), host_ips=("192.0.2.1",), allocatable=ALLOCATABLE)
    got = {kv.key: kv.value for kv in environment(p, p["spec"]["containers"][0], {}, runtime=values)}
    assert got == {"IP": "10.42.0.7", "IPS": "10.42.0.7,fd00::7", "HOST": "192.0.2.1", "HOSTS": "192.0.2.1",
                   "NAME": "p", "MEM": "2000", "URL": "http://10.42.0.7:80"}
    # without runtime values (as before the sandbox exists) the pod object is read
    assert runtime_field_value({**p, "status": {"podIP": "10.1.1.1"}}, "status.podIP", None) == "10.1.1.1"


# ------------------------------------------------------------------ waiting reasons


def instance(name: str, state: ContainerState, *, cid: str = "", exit_code: int = 0, restart: int = 0,
             **extra: Any) -> ContainerStatus:
    return ContainerStatus(id=cid or f"id-{name}-{restart}", state=state, exit_code=exit_code,
                           labels={CONTAINER_NAME: name, "io.kubernetes.container.restartCount": str(restart)},
                           started_at=1, finished_at=2 if state == ContainerState.CONTAINER_EXITED else 0, **extra)


def status_of(p: dict[str, Any], view: RuntimeView, waiting: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    return pod_status(p, view, host_ip="192.0.2.1", readiness={}, startup={}, waiting=waiting or {})


def reasons(statuses: list[dict[str, Any]]) -> list[Any]:
    return [(s["state"].get("waiting") or {}).get("reason") if "waiting" in s["state"] else None for s in statuses]


def test_every_container_of_a_pod_with_init_containers_waits_pod_initializing() -> None:
    p = pod([{"name": "run1"}, {"name": "run2"}], init=[{"name": "init1"}, {"name": "init2"}])
    status = status_of(p, RuntimeView())
    assert reasons(status["initContainerStatuses"]) == ["PodInitializing", "PodInitializing"]
    assert reasons(status["containerStatuses"]) == ["PodInitializing", "PodInitializing"]
    # init1 crash-loops: its own reason wins, the others keep the default
    view = RuntimeView(containers={"init1": [instance("init1", ContainerState.CONTAINER_EXITED, exit_code=1)]})
    status = status_of(p, view, {"init1": ("CrashLoopBackOff", "back-off")})
    assert reasons(status["initContainerStatuses"]) == ["CrashLoopBackOff", "PodInitializing"]
    assert reasons(status["containerStatuses"]) == ["PodInitializing", "PodInitializing"]


def test_containers_of_a_pod_without_init_containers_wait_container_creating() -> None:
    p = pod([{"name": "a"}, {"name": "b"}])
    view = RuntimeView(containers={"b": [instance("b", ContainerState.CONTAINER_CREATED)]})
    statuses = status_of(p, view, {"x": ("ErrImagePull", "")})["containerStatuses"]
    assert statuses[0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert statuses[1]["state"] == {"waiting": {}}  # created, not started: no reason, as upstream


# ------------------------------------------------------------------ termination messages


def test_termination_message_joins_the_runtime_message() -> None:
    exited = instance("c", ContainerState.CONTAINER_EXITED, exit_code=1, message="oom")
    assert terminated(exited, "last words")["message"] == "oom: last words"
    assert terminated(exited)["message"] == "oom"
    assert "message" not in terminated(instance("c", ContainerState.CONTAINER_EXITED))


def test_message_file_is_writable_by_anyone_and_mounted_read_write(tmp_path: Path) -> None:
    mount = message_mount(tmp_path / "containers" / "c", {"name": "c", "terminationMessagePath": "/dev/custom"})
    assert mount is not None and mount.container_path == "/dev/custom" and not mount.readonly
    host = Path(mount.host_path)
    assert host.parent == tmp_path / "containers" / "c" and host.read_bytes() == b""
    assert stat.S_IMODE(host.stat().st_mode) == 0o666
    other = message_mount(tmp_path / "containers" / "c", {"name": "c"})
    assert other is not None and other.container_path == "/dev/termination-log" and other.host_path != mount.host_path
    assert message_mount(tmp_path, {"name": "c", "terminationMessagePath": ""}) is None


def cri_log(path: Path, *pieces: tuple[str, str]) -> Path:
    path.write_text("".join(f"2026-11-25T12:00:00.1Z stdout {tag} {body}\n" for tag, body in pieces))
    return path


def exited_with(tmp_path: Path, content: bytes | None, exit_code: int, policy: str = "FallbackToLogsOnError",
                reason: str = "", log: Path | None = None) -> ContainerStatus:
    host = tmp_path / "msg"
    if content is not None:
        host.write_bytes(content)
    return instance("c", ContainerState.CONTAINER_EXITED, exit_code=exit_code, reason=reason,
                    annotations={TERMINATION_MESSAGE_PATH: "/dev/termination-log", TERMINATION_MESSAGE_POLICY: policy},
                    mounts=[Mount(container_path="/dev/termination-log", host_path=str(host))],
                    log_path=str(log or tmp_path / "0.log"))


def test_read_message_from_file_and_log_fallback(tmp_path: Path) -> None:
    log = cri_log(tmp_path / "0.log", ("F", "first"), ("P", "DO"), ("P", "NE"))
    assert read_message(exited_with(tmp_path, b"OK", 0, log=log)) == "OK"
    assert read_message(exited_with(tmp_path, b"OK", 1, log=log)) == "OK"  # the file wins
    assert read_message(exited_with(tmp_path, b"", 0, log=log)) == ""  # succeeded: no fallback
    assert read_message(exited_with(tmp_path, b"", 1, log=log)) == "first\nDONE"
    assert read_message(exited_with(tmp_path, b"", 1, "File", log=log)) == ""
    assert read_message(exited_with(tmp_path, b"", 128, reason="ContainerCannotRun", log=log)) == ""
    (tmp_path / "msg").unlink()
    assert read_message(exited_with(tmp_path, None, 1, log=log)) == "first\nDONE"  # no file: the log
    assert read_message(exited_with(tmp_path, b"x" * 5000 + b"END", 0)) == "x" * 4093 + "END"  # the last 4096 bytes
    running = instance("c", ContainerState.CONTAINER_RUNNING)
    assert read_message(running) == ""


def test_log_tail_keeps_80_lines_and_2048_bytes(tmp_path: Path) -> None:
    log = cri_log(tmp_path / "a.log", *[("F", f"line{i}") for i in range(200)])
    assert log_tail(log, 80, 2048).decode().splitlines() == [f"line{i}" for i in range(120, 200)]
    long = cri_log(tmp_path / "b.log", *[("F", "y" * 100 + str(i)) for i in range(50)])
    tail = log_tail(long, 80, 2048)
    assert len(tail) == 2048 and tail.endswith(b"y49\n")
    big = cri_log(tmp_path / "c.log", *[("F", "z" * 300) for _ in range(100)], ("F", "last"))
    assert log_tail(big, 2, 2048) == b"z" * 300 + b"\nlast\n"


def test_container_carries_its_termination_message_settings() -> None:
    p = pod([{"name": "c", "terminationMessagePolicy": "FallbackToLogsOnError"}])
    cfg = container_config(p, p["spec"]["containers"][0], kind="app", restart_count=0, image_ref="img", env=[],
                           mount_list=[])
    assert cfg.annotations[TERMINATION_MESSAGE_PATH] == "/dev/termination-log"
    assert cfg.annotations[TERMINATION_MESSAGE_POLICY] == "FallbackToLogsOnError"


# ------------------------------------------------------------------ activeDeadlineSeconds


def started_ago(seconds: float) -> str:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_active_deadline_counts_from_the_start_time() -> None:
    p = pod([{"name": "c"}], activeDeadlineSeconds=30)
    p["status"]["startTime"] = started_ago(10)
    left = active_deadline_left(p)
    assert left is not None and 18 <= left <= 21
    p["status"]["startTime"] = started_ago(31)
    left = active_deadline_left(p)
    assert left is not None and left <= 0
    assert active_deadline_left(pod([{"name": "c"}])) is None  # no deadline
    assert active_deadline_left({**p, "status": {}}) is None  # not started
    assert active_deadline_left({**p, "status": {}}, {"startTime": started_ago(40)}) is not None


def test_deadline_exceeded_status() -> None:
    status = deadline_exceeded_status({"phase": "Running", "conditions": []})
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert status["message"] == "Pod was active on the node longer than the specified deadline"


# ------------------------------------------------------------------ ephemeral containers


def test_ephemeral_container_joins_its_targets_pid_namespace() -> None:
    debugger = {"name": "debugger", "targetContainerName": "c"}
    p = pod([{"name": "c"}], ephemeralContainers=[debugger])
    cfg = container_config(p, debugger, kind="ephemeral", restart_count=0, image_ref="img", env=[], mount_list=[],
                           target_id="abc")
    assert cfg.linux is not None and cfg.linux.security_context is not None
    namespaces = cfg.linux.security_context.namespace_options
    assert namespaces is not None
    assert (namespaces.pid, namespaces.target_id) == (NamespaceMode.TARGET, "abc")
    assert cfg.labels["io.kubernetes.kubeherd.container-type"] == "ephemeral"
    shared = pod([{"name": "c"}], ephemeralContainers=[debugger], shareProcessNamespace=True)
    cfg = container_config(shared, debugger, kind="ephemeral", restart_count=0, image_ref="img", env=[],
                           mount_list=[], target_id="abc")
    assert cfg.linux is not None and cfg.linux.security_context is not None
    assert cfg.linux.security_context.namespace_options is not None
    assert cfg.linux.security_context.namespace_options.pid == NamespaceMode.POD


def test_ephemeral_statuses_never_ready_and_outside_phase_and_readiness() -> None:
    p = pod([{"name": "c"}], ephemeralContainers=[{"name": "dbg"}, {"name": "new"}], restartPolicy="Never")
    view = RuntimeView(sandbox_ready=True, containers={
        "c": [instance("c", ContainerState.CONTAINER_RUNNING)],
        "dbg": [instance("dbg", ContainerState.CONTAINER_EXITED, exit_code=3)]})
    status = status_of(p, view, {"new": ("ErrImagePull", "no such image")})
    assert status["phase"] == "Running"
    assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
    dbg, new = status["ephemeralContainerStatuses"]
    assert dbg["state"]["terminated"]["exitCode"] == 3 and dbg["restartCount"] == 0
    assert new["state"] == {"waiting": {"reason": "ErrImagePull", "message": "no such image"}}
    assert all(s["ready"] is False and "started" not in s for s in (dbg, new))
    assert "ephemeralContainerStatuses" not in status_of(pod([{"name": "c"}]), view)



def test_logs_show_a_last_line_without_newline(tmp_path: Path) -> None:
    """`echo -n DONE`: containerd logs a partial piece; `kubectl logs` shows it (as upstream)."""
    import asyncio

    from kubeherd.kubelet.logs import LogOptions, read_log

    log = cri_log(tmp_path / "0.log", ("F", "first"), ("P", "DO"), ("P", "NE"))

    async def read(options: LogOptions) -> bytes:
        return b"".join([chunk async for chunk in read_log(log, options)])

    assert asyncio.run(read(LogOptions())) == b"first\nDONE"
    assert asyncio.run(read(LogOptions(timestamps=True))) == b"2026-11-25T12:00:00.1Z first\n2026-11-25T12:00:00.1Z DONE"
