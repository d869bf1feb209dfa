"""The kubelet-managed ``/etc/hosts`` of a pod's containers.

Design, after upstream's ``makeMounts``/``ensureHostsFile`` (``pkg/kubelet/kubelet_pods.go``):

* Each pod has one file, ``<pod dir>/etc-hosts`` (mode 0644), brought up to date in place before
  every container start (so it follows the sandbox's current IPs, and the containers already
  running see the same file) and bind-mounted read-write at ``/etc/hosts`` into every container;
  containerd then leaves its own copy out. It goes with the pod directory.
* **Pod network:** a header, the loopback and IPv6 multicast names, then one line per pod IP
  naming the pod's hostname (``spec.hostname`` or the pod name, at most 63 characters), with
  ``<hostname>.<subdomain>.<namespace>.svc.<cluster domain>`` first when ``spec.subdomain`` is set.
* **Host network:** a different header (so nobody mistakes it for the managed kind) followed by
  the node's own ``/etc/hosts`` as it is.
* Both end with ``spec.hostAliases``, one line per alias IP with its hostnames tab-separated.
* Not mounted into a container that mounts something at ``/etc/hosts`` itself, nor into any
  container of a pod-network pod that has no IP yet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .cri import Mount

Obj = dict[str, Any]

ETC_HOSTS = "/etc/hosts"
FILE_NAME = "etc-hosts"
MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"
HOSTNAME_MAX = 63
_LOCAL_ENTRIES = ("127.0.0.1\tlocalhost\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "fe00::0\tip6-localnet\n"
                  "fe00::0\tip6-mcastprefix\n"
                  "fe00::1\tip6-allnodes\n"
                  "fe00::2\tip6-allrouters\n")


def pod_hostname(pod: Obj) -> str:
    """The pod's host name: ``spec.hostname`` or its name, cut to 63 characters without a
    trailing ``-`` or ``.``."""
    name = (pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"]
    if len(name) > HOSTNAME_MAX:
        name = name[:HOSTNAME_MAX].rstrip("-.")
    return str(name)


def pod_domain(pod: Obj, cluster_domain: str) -> str:
    """``<subdomain>.<namespace>.svc.<cluster domain>`` when the pod has a subdomain, else ""."""
    subdomain = (pod.get("spec") or {}).get("subdomain") or ""
    if not subdomain:
        return ""
    return f"{subdomain}.{pod['metadata']['namespace']}.svc.{cluster_domain}"


def alias_entries(pod: Obj) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    lines = "".join(f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases)
    return "\n# Entries added by HostAliases.\n" + lines


def managed_content(pod: Obj, pod_ips: list[str], cluster_domain: str) -> str:
    """The file of a pod on the pod network."""
    hostname = pod_hostname(pod)
    domain = pod_domain(pod, cluster_domain)
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    return MANAGED_HEADER + _LOCAL_ENTRIES + "".join(f"{ip}\t{names}\n" for ip in pod_ips) + alias_entries(pod)


def host_network_content(pod: Obj, node_hosts: str) -> str:
    """The file of a pod on the node's network: the node's file under its own header."""
    return HOST_NETWORK_HEADER + node_hosts + alias_entries(pod)


def should_mount(pod: Obj, pod_ips: list[str]) -> bool:
    return bool(pod_ips) or bool((pod.get("spec") or {}).get("hostNetwork"))


def ensure_hosts_file(pod_dir: Path, pod: Obj, pod_ips: list[str], cluster_domain: str,
                      node_hosts: Path = Path(ETC_HOSTS)) -> Path:
    """Write the pod's hosts file (blocking: call from a thread); returns its path."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        content = host_network_content(pod, node_hosts.read_text(errors="replace"))
    else:
        content = managed_content(pod, pod_ips, cluster_domain)
    pod_dir.mkdir(parents=True, exist_ok=True)
    path = pod_dir / FILE_NAME
    try:
        unchanged = path.read_text(errors="replace") == content
    except OSError:
        unchanged = False
    if not unchanged:  # in place: running containers have this very file mounted
        path.write_text(content)
    os.chmod(path, 0o644)
    return path


def mounts_own_hosts(container: Obj) -> bool:
    """The container mounts a volume at ``/etc/hosts`` itself (then the kubelet's stays out)."""
    return any(vm.get("mountPath") == ETC_HOSTS for vm in container.get("volumeMounts") or [])


def hosts_mount(path: Path) -> Mount:
    return Mount(container_path=ETC_HOSTS, host_path=str(path), readonly=False)


def container_mounts(pod_dir: Path, pod: Obj, container: Obj, pod_ips: list[str], cluster_domain: str) -> list[Mount]:
    """The ``/etc/hosts`` mount of one container, if it gets one, with the file brought up to
    date (blocking: call from a thread)."""
    if mounts_own_hosts(container) or not should_mount(pod, pod_ips):
        return []
    return [hosts_mount(ensure_hosts_file(pod_dir, pod, pod_ips, cluster_domain))]
