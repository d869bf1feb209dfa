"""Service environment variables: the builder, the choice of Services, and how they meet env/envFrom."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubeherd.client import Informer, ResourceRef
from kubeherd.kubelet.envvars import NOT_SYNCED, ServiceEnv, from_services, service_env
from kubeherd.kubelet.kuberuntime import container_config, environment

Obj = dict[str, Any]


def svc(name: str, namespace: str, ip: str, *ports: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": list(ports) or [{"port": 80, "protocol": "TCP"}]}}


def pod(namespace: str = "ns", links: bool | None = True, **container: Any) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox", **container}]}
    if links is not None:
        spec["enableServiceLinks"] = links
    return {"metadata": {"name": "p", "namespace": namespace, "uid": "u1"}, "spec": spec}


KUBERNETES = svc("kubernetes", "default", "10.43.0.1", {"name": "https", "port": 443, "protocol": "TCP"})


def test_one_port_service_gives_upstream_names_and_values() -> None:
    env = dict(from_services([svc("fooservice", "ns", "10.43.7.8", {"port": 8765, "protocol": "TCP"})]))
    assert env == {
        "FOOSERVICE_SERVICE_HOST": "10.43.7.8",
        "FOOSERVICE_SERVICE_PORT": "8765",
        "FOOSERVICE_PORT": "tcp://10.43.7.8:8765",
        "FOOSERVICE_PORT_8765_TCP": "tcp://10.43.7.8:8765",
        "FOOSERVICE_PORT_8765_TCP_PROTO": "tcp",
        "FOOSERVICE_PORT_8765_TCP_PORT": "8765",
        "FOOSERVICE_PORT_8765_TCP_ADDR": "10.43.7.8",
    }


def test_named_ports_dashes_protocols_and_ipv6() -> None:
    service = svc("redis-master", "ns", "fd00::a", {"name": "db-port", "port": 6379},
                  {"name": "dns", "port": 53, "protocol": "UDP"})
    env = dict(from_services([service]))
    assert env["REDIS_MASTER_SERVICE_PORT"] == "6379"  # the first port
    assert env["REDIS_MASTER_SERVICE_PORT_DB_PORT"] == "6379"
    assert env["REDIS_MASTER_SERVICE_PORT_DNS"] == "53"
    assert env["REDIS_MASTER_PORT"] == "tcp://[fd00::a]:6379"  # protocol defaults to TCP
    assert env["REDIS_MASTER_PORT_53_UDP"] == "udp://[fd00::a]:53"
    assert env["REDIS_MASTER_PORT_53_UDP_PROTO"] == "udp"
    assert env["REDIS_MASTER_PORT_53_UDP_ADDR"] == "fd00::a"
    assert "REDIS_MASTER_PORT_53_TCP" not in env


def test_services_without_cluster_ip_give_nothing() -> None:
    assert from_services([svc("headless", "ns", "None"), svc("pending", "ns", "")]) == []


def test_pod_sees_its_namespace_and_the_kubernetes_service() -> None:
    services = [KUBERNETES, svc("here", "ns", "10.43.0.5"), svc("there", "other", "10.43.0.6")]
    env = service_env(services, "ns")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://10.43.0.1:443"
    assert env["HERE_SERVICE_HOST"] == "10.43.0.5"
    assert not any(k.startswith("THERE_") for k in env)


def test_disabled_service_links_keep_only_the_kubernetes_service() -> None:
    env = service_env([KUBERNETES, svc("here", "ns", "10.43.0.5")], "ns", enable_service_links=False)
    assert env and all(k.startswith("KUBERNETES_") for k in env)


def test_a_local_kubernetes_service_wins_whatever_the_order() -> None:
    local = svc("kubernetes", "ns", "10.43.9.9")
    assert service_env([KUBERNETES, local], "ns")["KUBERNETES_SERVICE_HOST"] == "10.43.9.9"
    assert service_env([local, KUBERNETES], "ns")["KUBERNETES_SERVICE_HOST"] == "10.43.9.9"
    assert service_env([local, KUBERNETES], "ns", False)["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"


def test_env_and_env_from_win_and_expansion_sees_service_variables() -> None:
    services = service_env([KUBERNETES, svc("fooservice", "ns", "10.43.7.8", {"port": 8765})], "ns")
    secret = {"data": {"FOOSERVICE_SERVICE_PORT": base64.b64encode(b"1").decode()}}
    p = pod(envFrom=[{"secretRef": {"name": "s"}}],
            env=[{"name": "URL", "value": "http://$(FOOSERVICE_SERVICE_HOST):$(FOOSERVICE_SERVICE_PORT)"},
                 {"name": "KUBERNETES_SERVICE_HOST", "value": "mine"}],
            command=["echo", "$(KUBERNETES_PORT)"])
    container = p["spec"]["containers"][0]
    env = environment(p, container, {("secrets", "s"): secret}, services)
    values = {kv.key: kv.value for kv in env}
    assert len(values) == len(env)  # no name twice
    assert values["URL"] == "http://10.43.7.8:1"  # envFrom beats the Service variable in expansion too
    assert values["FOOSERVICE_SERVICE_PORT"] == "1"
    assert values["KUBERNETES_SERVICE_HOST"] == "mine"
    assert values["FOOSERVICE_PORT_8765_TCP_ADDR"] == "10.43.7.8"
    keys = [kv.key for kv in env]
    assert keys.index("URL") < keys.index("FOOSERVICE_PORT_8765_TCP_ADDR")  # the container's own come first
    cfg = container_config(p, container, kind="app", restart_count=0, image_ref="busybox", env=env, mount_list=[])
    assert cfg.command == ["echo", "tcp://10.43.0.1:443"]


def test_service_env_waits_for_the_first_list_except_for_static_pods() -> None:
    informer = Informer(None, ResourceRef("v1", "services", True, "Service"))  # type: ignore[arg-type]
    source = ServiceEnv(informer)
    with pytest.raises(LookupError, match=NOT_SYNCED):
        source.for_pod(pod())
    static = pod()
    static["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    assert source.for_pod(static) == {}
    informer.indexer.upsert(KUBERNETES)
    informer.indexer.upsert(svc("here", "ns", "10.43.0.5"))
    informer.synced.set()
    assert "HERE_SERVICE_HOST" in source.for_pod(pod(links=None))  # unset means enabled, as the API default
    assert "HERE_SERVICE_HOST" not in source.for_pod(pod(links=False))
    assert source.for_pod(pod(links=False))["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
