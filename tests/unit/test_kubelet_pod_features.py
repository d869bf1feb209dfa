"""Pure parts of the kubelet's pod features: pod cgroup limits, OOM scores, security contexts,
fsGroup ownership and the status of pods with sidecars (upstream's rules)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kubeherd.kubelet.cgroups import ResourceConfig, pod_cgroup_name, pod_total, resource_config_for_pod
from kubeherd.kubelet.cri import ContainerState, ContainerStatus, Image, NamespaceOption, ProfileType
from kubeherd.kubelet.kuberuntime import oom_score_adj, qos_class
from kubeherd.kubelet.security import (
    SecurityContextError,
    container_security_context,
    sandbox_security_context,
    set_volume_ownership,
)
from kubeherd.kubelet.status import RuntimeView, app_containers_done, pod_status

MI = 1024 * 1024
ROOT = Path("/seccomp")


def pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    for i, c in enumerate(containers + (init or [])):
        c.setdefault("name", f"c{i}")
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": containers, "initContainers": init or [], **spec}}


def res(limits: dict[str, str] | None = None, requests: dict[str, str] | None = None) -> dict[str, Any]:
    return {"resources": {**({"limits": limits} if limits else {}), **({"requests": requests} if requests else {})}}


# ------------------------------------------------------------------ cgroups


def test_guaranteed_pod_gets_every_limit() -> None:
    p = pod([res({"cpu": "500m", "memory": "64Mi"}), res({"cpu": "250m", "memory": "32Mi"})])
    assert qos_class(p) == "Guaranteed"
    assert resource_config_for_pod(p, "Guaranteed") == ResourceConfig(
        cpu_shares=768, cpu_quota=75_000, cpu_period=100_000, memory_limit=96 * MI)
    assert pod_cgroup_name("u1", "Guaranteed") == "kubepods/podu1"


def test_burstable_limits_only_when_every_container_declares_them() -> None:
    p = pod([res({"memory": "64Mi"}, {"cpu": "100m"}), res({"cpu": "1", "memory": "16Mi"})])
    config = resource_config_for_pod(p, qos_class(p))
    assert qos_class(p) == "Burstable"
    assert config.memory_limit == 80 * MI
    assert config.cpu_quota is None and config.cpu_shares == (100 + 1000) * 1024 // 1000
    assert pod_cgroup_name("u1", "Burstable") == "kubepods/burstable/podu1"


def test_init_containers_and_sidecars_in_the_pod_total() -> None:
    app = res({"memory": "64Mi"})
    big_init = {"name": "init", **res({"memory": "200Mi"})}
    sidecar = {"name": "side", "restartPolicy": "Always", **res({"memory": "10Mi"})}
    # an init container that needs more than the app containers sets the pod's limit
    assert pod_total(pod([app], [big_init]), "limits", "memory") == 200 * MI
    # sidecars run beside the app and beside the init containers after them
    assert pod_total(pod([app], [sidecar, big_init]), "limits", "memory") == 210 * MI
    assert pod_total(pod([app], [big_init, sidecar]), "limits", "memory") == 200 * MI
    assert pod_total(pod([res({"memory": "300Mi"})], [sidecar]), "limits", "memory") == 310 * MI


def test_best_effort_pod_gets_minimum_shares_only() -> None:
    assert resource_config_for_pod(pod([{}]), "BestEffort") == ResourceConfig(cpu_shares=2)


def test_oom_score_adj_per_qos() -> None:
    capacity = 1000 * MI
    assert oom_score_adj(pod([{}]), {}, capacity) == 1000
    guaranteed = pod([res({"cpu": "1", "memory": "1Gi"})])
    assert oom_score_adj(guaranteed, guaranteed["spec"]["containers"][0], capacity) == -997
    burstable = pod([res(requests={"memory": f"{250 * MI}"})])
    assert oom_score_adj(burstable, burstable["spec"]["containers"][0], capacity) == 750
    tiny = pod([res(requests={"cpu": "1m"})])
    assert oom_score_adj(tiny, tiny["spec"]["containers"][0], capacity) == 999  # never BestEffort's 1000
    huge = pod([res(requests={"memory": f"{999 * MI}"})])
    assert oom_score_adj(huge, huge["spec"]["containers"][0], capacity) == 3


# ------------------------------------------------------------------ security contexts


def ctx(p: dict[str, Any], image: Image | None = None) -> Any:
    return container_security_context(p, p["spec"]["containers"][0], NamespaceOption(), image, ROOT)


def test_container_fields_win_over_the_pod() -> None:
    p = pod([{"securityContext": {"runAsUser": 5, "seccompProfile": {"type": "Localhost",
                                                                     "localhostProfile": "x.json"}}}],
            securityContext={"runAsUser": 7, "runAsGroup": 8, "fsGroup": 9, "supplementalGroups": [10, 11],
                             "seccompProfile": {"type": "RuntimeDefault"}})
    sc = ctx(p, Image(uid=0))
    assert sc.run_as_user == 5 and sc.run_as_group == 8
    assert sc.supplemental_groups == [9, 10, 11]
    assert sc.seccomp.profile_type == ProfileType.Localhost and sc.seccomp.localhost_ref == "/seccomp/x.json"
    assert not sc.no_new_privs and not sc.privileged and sc.capabilities is None
    assert "/proc/kcore" in sc.masked_paths and "/proc/sys" in sc.readonly_paths


def test_defaults_image_user_and_escalation() -> None:
    sc = ctx(pod([{"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["CHOWN"]}}}]),
             Image(username="web"))
    assert sc.run_as_user is None and sc.run_as_username == "web"
    assert sc.no_new_privs and sc.capabilities.drop_capabilities == ["CHOWN"]
    assert sc.seccomp.profile_type == ProfileType.Unconfined  # upstream's default without SeccompDefault


@pytest.mark.parametrize(("container_sc", "image", "message"), [
    ({}, Image(), "container has runAsNonRoot and image will run as root"),
    ({}, None, "container has runAsNonRoot and image will run as root"),
    ({}, Image(uid=0), "container has runAsNonRoot and image will run as root"),
    ({"runAsUser": 0}, Image(uid=1000), "container's runAsUser breaks non-root policy"),
    ({}, Image(username="app"), "container has runAsNonRoot and image has non-numeric user (app), cannot verify "
                                "user is non-root"),
])
def test_run_as_non_root_refusals(container_sc: dict[str, Any], image: Image | None, message: str) -> None:
    p = pod([{"name": "web", "securityContext": container_sc}], securityContext={"runAsNonRoot": True})
    with pytest.raises(SecurityContextError) as err:
        ctx(p, image)
    assert str(err.value) == f'{message} (pod: "p_ns(u1)", container: web)'


def test_run_as_non_root_accepts_a_non_root_user() -> None:
    assert ctx(pod([{}], securityContext={"runAsNonRoot": True}), Image(uid=1000)).run_as_user == 1000
    assert ctx(pod([{"securityContext": {"runAsUser": 3}}], securityContext={"runAsNonRoot": True}),
               Image(uid=0)).run_as_user == 3


def test_sandbox_is_privileged_when_a_container_is() -> None:
    p = pod([{}], [{"securityContext": {"privileged": True}}], securityContext={"fsGroup": 4})
    sc = sandbox_security_context(p, NamespaceOption())
    assert sc.privileged and sc.supplemental_groups == [4]
    assert sc.seccomp is not None and sc.seccomp.profile_type == ProfileType.RuntimeDefault


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's group to an arbitrary gid needs root")
def test_volume_ownership(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir(mode=0o755)
    (tmp_path / "sub" / "f").write_text("x")
    os.chmod(tmp_path / "sub" / "f", 0o600)
    set_volume_ownership(tmp_path, 4242, readonly=False)
    for path in (tmp_path, tmp_path / "sub", tmp_path / "sub" / "f"):
        assert path.stat().st_gid == 4242
    assert stat.S_IMODE((tmp_path / "sub").stat().st_mode) == 0o2775
    assert stat.S_IMODE((tmp_path / "sub" / "f").stat().st_mode) == 0o660
    (tmp_path / "ro").write_text("y")
    os.chmod(tmp_path / "ro", 0o600)
    set_volume_ownership(tmp_path, 4242, readonly=True)
    assert stat.S_IMODE((tmp_path / "ro").stat().st_mode) == 0o640


# ------------------------------------------------------------------ status with sidecars


def instance(name: str, state: ContainerState, exit_code: int = 0) -> ContainerStatus:
    return ContainerStatus(id=f"id-{name}", state=state, exit_code=exit_code, started_at=1, finished_at=2,
                           labels={"io.kubernetes.container.name": name})


def view(**states: ContainerStatus) -> RuntimeView:
    return RuntimeView(sandbox_id="s", sandbox_ready=True, pod_ip="10.0.0.2",
                       containers={name: [st] for name, st in states.items()})


def sidecar_pod(policy: str = "Never") -> dict[str, Any]:
    return pod([{"name": "main"}], [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
               restartPolicy=policy)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_pod_waits_for_its_sidecar_to_start() -> None:
    p = sidecar_pod()
    v = view(setup=instance("setup", ContainerState.CONTAINER_EXITED),
             proxy=instance("proxy", ContainerState.CONTAINER_RUNNING))
    status = pod_status(p, v, host_ip="1.2.3.4", readiness={}, startup={"proxy": False}, waiting={})
    assert status["phase"] == "Pending"
    initialized = conditions(status)["Initialized"]
    assert initialized["status"] == "False" and initialized["message"] == "containers with incomplete status: [proxy]"
    proxy = status["initContainerStatuses"][1]
    assert proxy["started"] is False and proxy["ready"] is False


def test_sidecar_counts_in_readiness_and_not_in_completion() -> None:
    p = sidecar_pod()
    running = view(setup=instance("setup", ContainerState.CONTAINER_EXITED),
                   proxy=instance("proxy", ContainerState.CONTAINER_RUNNING),
                   main=instance("main", ContainerState.CONTAINER_RUNNING))
    status = pod_status(p, running, host_ip="", readiness={"proxy": False}, startup={}, waiting={})
    assert status["phase"] == "Running" and conditions(status)["Initialized"]["status"] == "True"
    assert conditions(status)["Ready"]["message"] == "containers with unready status: [proxy]"
    # the app finished: the pod completes once the sidecar is stopped, whatever its exit code
    finished = view(setup=instance("setup", ContainerState.CONTAINER_EXITED),
                    proxy=instance("proxy", ContainerState.CONTAINER_RUNNING),
                    main=instance("main", ContainerState.CONTAINER_EXITED))
    assert app_containers_done(p, finished)
    assert pod_status(p, finished, host_ip="", readiness={}, startup={}, waiting={})["phase"] == "Running"
    finished.containers["proxy"] = [instance("proxy", ContainerState.CONTAINER_EXITED, 137)]
    status = pod_status(p, finished, host_ip="", readiness={}, startup={}, waiting={})
    assert status["phase"] == "Succeeded"
    assert "terminated" in status["initContainerStatuses"][1]["state"]
    # with restartPolicy Always the app containers are never done
    assert not app_containers_done(sidecar_pod("Always"), finished)


def test_restarting_sidecar_in_an_initialized_pod_keeps_it_running() -> None:
    p = sidecar_pod()
    v = view(setup=instance("setup", ContainerState.CONTAINER_EXITED),
             proxy=instance("proxy", ContainerState.CONTAINER_EXITED, 1),
             main=instance("main", ContainerState.CONTAINER_RUNNING))
    status = pod_status(p, v, host_ip="", readiness={}, startup={},
                        waiting={"proxy": ("CrashLoopBackOff", "back-off 10s")})
    assert status["phase"] == "Running"
    assert status["initContainerStatuses"][1]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert conditions(status)["Initialized"]["status"] == "True"
