"""What a pod's resolv.conf is made of: the dnsPolicy, the kubelet's cluster DNS and dnsConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeherd.kubelet.config import parse_kubelet_args
from kubeherd.kubelet.kuberuntime import ClusterDNS, dns_config


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "team"}, "spec": {"containers": [{"name": "c"}], **spec}}


@pytest.fixture
def host_resolv(tmp_path: Path) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n")
    return path


def test_cluster_first_uses_the_cluster_dns_and_domain(host_resolv: Path) -> None:
    config = dns_config(pod(), ClusterDNS(("10.96.0.10",), "k8s.test"), host_resolv)
    assert config is not None
    assert config.servers == ["10.96.0.10"]
    assert config.searches == ["team.svc.k8s.test", "svc.k8s.test", "k8s.test"]
    assert config.options == ["ndots:5"]


def test_host_network_and_default_use_the_node_resolver(host_resolv: Path) -> None:
    for spec in ({"hostNetwork": True}, {"dnsPolicy": "Default"}):
        config = dns_config(pod(**spec), ClusterDNS(), host_resolv)
        assert config is not None and config.servers == ["192.0.2.53"] and config.searches == ["corp.example"]
    with_host_net = dns_config(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), ClusterDNS(), host_resolv)
    assert with_host_net is not None and with_host_net.servers == ["10.43.0.10"]


def test_without_cluster_dns_cluster_first_falls_back_to_the_node(host_resolv: Path) -> None:
    config = dns_config(pod(), ClusterDNS((), "cluster.local"), host_resolv)
    assert config is not None and config.servers == ["192.0.2.53"]


def test_dns_config_adds_to_the_policy(host_resolv: Path) -> None:
    config = dns_config(pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.2.3.4"], "searches": ["a.example"],
                                                         "options": [{"name": "ndots", "value": "2"},
                                                                     {"name": "rotate"}]}),
                        ClusterDNS(), host_resolv)
    assert config is not None
    assert (config.servers, config.searches, config.options) == (["1.2.3.4"], ["a.example"], ["ndots:2", "rotate"])


def test_cluster_dns_kubelet_args() -> None:
    config = parse_kubelet_args(["cluster-dns=10.96.0.10,10.96.0.11", "cluster-domain=k8s.test"])
    assert config.cluster_dns == ["10.96.0.10", "10.96.0.11"] and config.cluster_domain == "k8s.test"
    with pytest.raises(ValueError, match="cluster-dns"):
        parse_kubelet_args(["cluster-dns=not-an-ip"])
