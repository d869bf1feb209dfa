"""Pods through CRI on our containerd: network, containers, logs, exec, stats, clean removal."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from pathlib import Path

from kubeherd.kubelet.cri import (
    ContainerFilter,
    ContainerState,
    ContainerStateValue,
    DNSConfig,
    PodSandboxFilter,
    PodSandboxState,
)

from .conftest import Node, mounts_under, wait_for

CRI_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)) (stdout|stderr) ([PF]) (.*)$")


def http_get(ip: str, port: int, path: str = "/", timeout: float = 3.0) -> bytes:
    with socket.create_connection((ip, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def connect_when_listening(ip: str, port: int, timeout: float = 10.0) -> bytes:
    """The first successful GET: the container may need a moment to bind its port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_get(ip, port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_exited(node: Node, container_id: str) -> None:
    wait_for(lambda: node.run(node.cri.container_status(container_id)).state == ContainerState.CONTAINER_EXITED,
             message=f"container {container_id[:12]} to exit")


def test_pod_gets_an_ip_in_the_pod_cidr_and_serves_http_to_the_node(node: Node, cleanup: list[str]) -> None:
    config = node.sandbox_config("web", dns_config=DNSConfig(servers=["10.43.0.10"], searches=["e2e.svc.cluster.local"],
                                                             options=["ndots:5"]))
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    cleanup.append(sandbox_id)
    status = node.run(node.cri.pod_sandbox_status(sandbox_id))
    assert status.state == PodSandboxState.SANDBOX_READY
    assert status.metadata is not None and status.metadata.name == "web"
    assert status.network is not None
    ip = status.network.ip
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(node.pod_cidr), ip
    print(f"\npod IP {ip} in {node.pod_cidr}")

    httpd = node.run(node.cri.create_container(sandbox_id, node.container_config(
        "httpd", ["httpd", "-f", "-p", "8080", "-h", "/var/www"]), config))
    node.run(node.cri.start_container(httpd))
    response = connect_when_listening(ip, 8080)
    assert response.startswith(b"HTTP/1.") and b" 200 " in response.split(b"\r\n", 1)[0], response[:200]
    assert response.endswith(b"kubeherd busybox\n")

    # the sandbox's hostname and DNS config reach the container
    hostname = node.run(node.cri.exec_sync(httpd, ["hostname"], timeout=10))
    assert hostname.stdout == b"web\n"
    resolv = node.run(node.cri.exec_sync(httpd, ["cat", "/etc/resolv.conf"], timeout=10)).stdout.decode()
    assert "nameserver 10.43.0.10" in resolv and "search e2e.svc.cluster.local" in resolv and "ndots:5" in resolv
    # the container sees the node through its gateway, the bridge's address
    gateway = str(next(ipaddress.ip_network(node.pod_cidr).hosts()))
    route = node.run(node.cri.exec_sync(httpd, ["ip", "route"], timeout=10)).stdout.decode()
    assert f"default via {gateway}" in route

    listed = node.run(node.cri.list_pod_sandbox(PodSandboxFilter(label_selector={"io.kubernetes.pod.name": "web"})))
    assert [s.id for s in listed] == [sandbox_id]
    running = node.run(node.cri.list_containers(ContainerFilter(
        pod_sandbox_id=sandbox_id, state=ContainerStateValue(state=ContainerState.CONTAINER_RUNNING))))
    assert [c.id for c in running] == [httpd]


def test_exec_sync_returns_output_and_exit_code(node: Node, cleanup: list[str]) -> None:
    config = node.sandbox_config()
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    cleanup.append(sandbox_id)
    cid = node.run(node.cri.create_container(sandbox_id, node.container_config("sleeper", ["sleep", "3600"]), config))
    node.run(node.cri.start_container(cid))
    hi = node.run(node.cri.exec_sync(cid, ["echo", "hi"], timeout=10))
    assert (hi.stdout, hi.stderr, hi.exit_code) == (b"hi\n", b"", 0)
    failing = node.run(node.cri.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=10))
    assert (failing.stdout, failing.stderr, failing.exit_code) == (b"out\n", b"err\n", 7)
    # the container runs in its own PID namespace: its command is PID 1
    assert node.run(node.cri.exec_sync(cid, ["cat", "/proc/1/cmdline"], timeout=10)).stdout == b"sleep\x003600\x00"


def test_container_output_lands_in_its_cri_log_file(node: Node, cleanup: list[str]) -> None:
    config = node.sandbox_config("logger")
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    cleanup.append(sandbox_id)
    cid = node.run(node.cri.create_container(sandbox_id, node.container_config(
        "printer", ["sh", "-c", "echo hello from stdout; echo oops >&2; printf partial"]), config))
    node.run(node.cri.start_container(cid))
    wait_exited(node, cid)
    status = node.run(node.cri.container_status(cid))
    assert (status.exit_code, status.reason) == (0, "Completed")
    # both set; for a process this short containerd may report finished_at a few µs *before* started_at
    assert status.started_at > 0 and status.finished_at > 0
    assert status.log_path == str(Path(config.log_directory) / "printer" / "0.log")
    lines = Path(status.log_path).read_text().splitlines()
    print("\n" + "\n".join(lines))
    parsed = [CRI_LOG_LINE.match(line) for line in lines]
    assert all(parsed), lines
    entries = sorted((m.group(4), m.group(5), m.group(6)) for m in parsed if m)
    assert entries == [("stderr", "F", "oops"), ("stdout", "F", "hello from stdout"), ("stdout", "P", "partial")]


def test_failing_container_reports_exit_code_and_error(node: Node, cleanup: list[str]) -> None:
    config = node.sandbox_config()
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    cleanup.append(sandbox_id)
    cid = node.run(node.cri.create_container(sandbox_id, node.container_config("fails", ["sh", "-c", "exit 3"]),
                                             config))
    node.run(node.cri.start_container(cid))
    wait_exited(node, cid)
    status = node.run(node.cri.container_status(cid))
    assert (status.state, status.exit_code, status.reason) == (ContainerState.CONTAINER_EXITED, 3, "Error")


def test_running_container_has_stats_and_streaming_urls(node: Node, cleanup: list[str]) -> None:
    config = node.sandbox_config()
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    cleanup.append(sandbox_id)
    cid = node.run(node.cri.create_container(sandbox_id, node.container_config(
        "busy", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 3600"]), config))
    node.run(node.cri.start_container(cid))
    stats = node.run(node.cri.container_stats(cid))
    assert stats.attributes is not None and stats.attributes.id == cid
    assert stats.cpu is not None and (stats.cpu.usage_core_nano_seconds or 0) > 0
    assert stats.memory is not None and (stats.memory.working_set_bytes or 0) > 0
    assert cid in {s.attributes.id for s in node.run(node.cri.list_container_stats()) if s.attributes}
    url = re.compile(r"^http://127\.0\.0\.1:\d+/(exec|attach|portforward)/[A-Za-z0-9_-]+$")
    assert url.match(node.run(node.cri.exec(cid, ["sh"], stdin=True, tty=True)))
    assert url.match(node.run(node.cri.attach(cid, stdin=False)))
    assert url.match(node.run(node.cri.port_forward(sandbox_id, [8080])))


def test_stopping_and_removing_a_pod_releases_its_network_and_mounts(node: Node) -> None:
    config = node.sandbox_config("shortlived")
    sandbox_id = node.run(node.cri.run_pod_sandbox(config))
    verbose = node.run(node.cri.pod_sandbox_status(sandbox_id, verbose=True))
    assert verbose.network is not None
    ip = verbose.network.ip
    leases = node.layout.cni_ipam_dir / "kubeherd"
    assert (leases / ip).exists(), f"no host-local lease for {ip} under {leases}"
    netns = [p for p in node.layout.netns_dir.iterdir()]
    assert any(str(p) in verbose.info.get("info", "") for p in netns), "sandbox netns is not under our state dir"
    cid = node.run(node.cri.create_container(sandbox_id, node.container_config("c", ["sleep", "3600"]), config))
    node.run(node.cri.start_container(cid))
    assert any(cid in m for m in mounts_under(node.layout.data_dir)), "the container's rootfs is not mounted"

    node.run(node.cri.stop_container(cid, 0))
    node.run(node.cri.stop_pod_sandbox(sandbox_id))
    assert node.run(node.cri.pod_sandbox_status(sandbox_id)).state == PodSandboxState.SANDBOX_NOTREADY
    assert not (leases / ip).exists(), "the IP lease outlived the stopped sandbox"
    node.run(node.cri.remove_pod_sandbox(sandbox_id))
    assert not [m for m in mounts_under(node.layout.data_dir) if sandbox_id in m or cid in m]
    assert sandbox_id not in {s.id for s in node.run(node.cri.list_pod_sandbox())}
    assert cid not in {c.id for c in node.run(node.cri.list_containers())}
    # removal is idempotent, as the kubelet's retries need
    node.run(node.cri.remove_pod_sandbox(sandbox_id))
