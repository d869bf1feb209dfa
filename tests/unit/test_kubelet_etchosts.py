"""The kubelet-managed /etc/hosts: content for both network modes, hostAliases, and which containers get it."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from kubeherd.kubelet import etchosts

Obj = dict[str, Any]


def pod(name: str = "web-0", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "shop", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


LOCAL = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
         "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


def test_pod_network_file_names_the_pod_for_each_ip() -> None:
    text = etchosts.managed_content(pod(), ["10.42.0.7", "fd00::7"], "cluster.local")
    assert text == "# Kubernetes-managed hosts file.\n" + LOCAL + "10.42.0.7\tweb-0\nfd00::7\tweb-0\n"


def test_hostname_and_subdomain_give_the_fqdn_first() -> None:
    text = etchosts.managed_content(pod(hostname="db", subdomain="backend"), ["10.42.0.7"], "cluster.local")
    assert text.endswith("10.42.0.7\tdb.backend.shop.svc.cluster.local\tdb\n")


def test_long_names_are_cut_to_63_without_a_trailing_dash() -> None:
    name = "a" * 62 + "-b"
    assert etchosts.pod_hostname(pod(name)) == "a" * 62
    assert len(etchosts.pod_hostname(pod("x" * 70))) == 63


def test_host_aliases_one_line_per_ip_tab_separated() -> None:
    aliases = [{"ip": "123.45.67.89", "hostnames": ["foo", "bar"]}, {"ip": "10.0.0.1", "hostnames": ["baz"]}]
    text = etchosts.managed_content(pod(hostAliases=aliases), ["10.42.0.7"], "cluster.local")
    assert text.endswith("10.42.0.7\tweb-0\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n10.0.0.1\tbaz\n")


def test_host_network_pod_gets_the_node_file_under_its_own_header(tmp_path: Path) -> None:
    node = tmp_path / "hosts"
    node.write_text("127.0.0.1 localhost\n192.0.2.5 node-a\n")
    p = pod(hostNetwork=True, hostAliases=[{"ip": "1.2.3.4", "hostnames": ["x"]}])
    path = etchosts.ensure_hosts_file(tmp_path / "pod", p, [], "cluster.local", node)
    text = path.read_text()
    assert text == ("# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.5 node-a\n"
                    "\n# Entries added by HostAliases.\n1.2.3.4\tx\n")
    assert not text.startswith("# Kubernetes-managed hosts file.")


def test_file_is_0644_and_rewritten_in_place(tmp_path: Path) -> None:
    first = etchosts.ensure_hosts_file(tmp_path, pod(), ["10.42.0.7"], "cluster.local")
    assert first == tmp_path / "etc-hosts"
    assert stat.S_IMODE(first.stat().st_mode) == 0o644
    inode = first.stat().st_ino
    etchosts.ensure_hosts_file(tmp_path, pod(), ["10.42.0.8"], "cluster.local")
    assert first.stat().st_ino == inode  # containers already running have this inode mounted
    assert "10.42.0.8\tweb-0\n" in first.read_text()


def test_which_containers_get_the_mount(tmp_path: Path) -> None:
    p = pod()
    plain = {"name": "a", "volumeMounts": [{"name": "h", "mountPath": "/etc/hosts-original"}]}
    own = {"name": "b", "volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]}
    [mount] = etchosts.container_mounts(tmp_path, p, plain, ["10.42.0.7"], "cluster.local")
    assert (mount.container_path, mount.host_path, mount.readonly) == ("/etc/hosts", str(tmp_path / "etc-hosts"),
                                                                        False)
    assert etchosts.container_mounts(tmp_path, p, own, ["10.42.0.7"], "cluster.local") == []
    assert etchosts.container_mounts(tmp_path / "none", p, plain, [], "cluster.local") == []  # no pod IP yet
    assert not (tmp_path / "none").exists()
