"""Our containerd: where it keeps its files, adoption after a restart, an external endpoint,
and the latency of the CRI calls that start a pod beside a raw `ctr run` of the same image."""

from __future__ import annotations

import statistics
import subprocess
import time
import tomllib

from kubeherd.kubelet.cri import ContainerState
from kubeherd.kubelet.images import BUSYBOX_IMAGE, PAUSE_IMAGE
from kubeherd.kubelet.runtime import Containerd, cni_bin_dir, start_runtime

from .conftest import Node, processes_mentioning, wait_for


def test_runtime_reports_containerd_v1_and_ready(node: Node) -> None:
    version = node.run(node.cri.version())
    assert (version.runtime_name, version.runtime_api_version) == ("containerd", "v1")
    assert version.runtime_version.startswith("1.")
    status = node.run(node.cri.status(verbose=True))
    for condition in ("RuntimeReady", "NetworkReady"):
        c = status.condition(condition)
        assert c is not None and c.status, status
    assert "config" in status.info


def test_config_keeps_everything_under_the_data_dir(node: Node) -> None:
    config = tomllib.loads(node.layout.config_file.read_text())
    data = str(node.layout.data_dir) + "/"
    assert all(config[k].startswith(data) for k in ("root", "state"))
    assert config["grpc"]["address"].startswith(data) and config["ttrpc"]["address"].startswith(data)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == PAUSE_IMAGE
    assert cri["restrict_oom_score_adj"] is True and cri["netns_mounts_under_state_dir"] is True
    assert cri["cni"]["bin_dir"] == str(cni_bin_dir()) and cri["cni"]["conf_dir"].startswith(data)
    assert cri["registry"]["config_path"].startswith(data)
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["Root"].startswith(data) and runc["SystemdCgroup"] is False
    # the streaming server listens on loopback only, on a port of its own choosing
    assert cri["stream_server_address"] == "127.0.0.1" and cri["stream_server_port"] == "0"


def test_a_restarted_kubeherd_adopts_the_running_containerd(node: Node) -> None:
    again = Containerd(node.layout)
    version = node.run(again.start())
    assert again.adopted and again.pid == node.containerd.pid
    assert version.runtime_name == "containerd"
    assert len(processes_mentioning(f"--config {node.layout.config_file}")) == 1


def test_an_external_endpoint_is_used_as_given(node: Node) -> None:
    runtime = node.run(start_runtime(node.layout.data_dir / "unused", container_runtime_endpoint=
                                     f"unix://{node.containerd.endpoint}"))
    assert not runtime.managed and runtime.version.runtime_name == "containerd"
    node.run(runtime.stop())  # leaves the runtime alone
    assert node.containerd.running()
    assert not (node.layout.data_dir / "unused").exists()


def test_pod_start_latency_beside_ctr_run(node: Node, cleanup: list[str]) -> None:
    """Prints RunPodSandbox / CreateContainer / StartContainer latencies and a raw `ctr run`
    of the same image (no thresholds: figures for the issue note)."""
    runs = 5
    timings: dict[str, list[float]] = {"RunPodSandbox": [], "CreateContainer": [], "StartContainer": [],
                                       "StopPodSandbox": [], "RemovePodSandbox": [], "ctr run --rm": []}
    for i in range(runs):
        config = node.sandbox_config(f"lat{i}")
        t0 = time.perf_counter()
        sandbox_id = node.run(node.cri.run_pod_sandbox(config))
        t1 = time.perf_counter()
        cleanup.append(sandbox_id)
        cid = node.run(node.cri.create_container(sandbox_id, node.container_config("c", ["sleep", "3600"]), config))
        t2 = time.perf_counter()
        node.run(node.cri.start_container(cid))
        t3 = time.perf_counter()
        assert node.run(node.cri.container_status(cid)).state == ContainerState.CONTAINER_RUNNING
        t4 = time.perf_counter()
        node.run(node.cri.stop_pod_sandbox(sandbox_id))
        t5 = time.perf_counter()
        node.run(node.cri.remove_pod_sandbox(sandbox_id))
        t6 = time.perf_counter()
        timings["RunPodSandbox"].append(t1 - t0)
        timings["CreateContainer"].append(t2 - t1)
        timings["StartContainer"].append(t3 - t2)
        timings["StopPodSandbox"].append(t5 - t4)
        timings["RemovePodSandbox"].append(t6 - t5)
    for i in range(runs):
        t0 = time.perf_counter()
        result = subprocess.run(["ctr", "--address", node.containerd.endpoint, "--namespace", "k8s.io", "run", "--rm",
                                 "--runc-root", str(node.layout.runc_root), BUSYBOX_IMAGE, f"e2e-ctr-{i}", "true"],
                                capture_output=True, text=True, timeout=60)
        timings["ctr run --rm"].append(time.perf_counter() - t0)
        assert result.returncode == 0, result.stderr
    wait_for(lambda: not processes_mentioning("e2e-ctr-"), message="ctr containers to go")
    print(f"\nlatency over {runs} runs (ms): median [min–max]")
    for name, values in timings.items():
        ms = [v * 1000 for v in values]
        print(f"  {name:17s} {statistics.median(ms):7.1f}  [{min(ms):.1f}–{max(ms):.1f}]")
    pod_start = [a + b + c for a, b, c in zip(timings["RunPodSandbox"], timings["CreateContainer"],
                                              timings["StartContainer"], strict=True)]
    print(f"  {'pod start (sum)':17s} {statistics.median(pod_start) * 1000:7.1f}  "
          f"(sandbox + create + start; ctr run also includes its own process start and the container's exit)")
