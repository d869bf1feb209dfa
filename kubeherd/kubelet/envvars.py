"""Service environment variables: what a container learns about Services from its environment.

Design, after upstream's ``pkg/kubelet/envvars`` and ``getServiceEnvVarMap``:

* **Which Services.** The kubelet keeps one Service informer over all namespaces. A pod sees the
  ``kubernetes`` Service of ``default`` always (that is how in-cluster clients find the API,
  even with ``enableServiceLinks: false``) and, when ``enableServiceLinks`` is true (the
  default), every Service of its own namespace; a local Service named ``kubernetes`` wins over
  the one in ``default``. Services without a cluster IP (``""``, headless ``None``) give nothing.
* **Which names.** Per Service ``NAME`` (upper case, ``-`` → ``_``): ``NAME_SERVICE_HOST``,
  ``NAME_SERVICE_PORT`` (the first port), ``NAME_SERVICE_PORT_<PORTNAME>`` per named port, and
  the Docker-link variables ``NAME_PORT`` (first port) and ``NAME_PORT_<port>_<PROTO>``
  (``…_PROTO``, ``…_PORT``, ``…_ADDR``) per port.
* **Where they go.** :func:`kubeherd.kubelet.kuberuntime.environment` takes the map: the
  container's own ``env``/``envFrom`` win over a Service variable of the same name, ``$(VAR)``
  in ``env``, ``command``, ``args`` and ``subPathExpr`` may refer to Service variables, and the
  Service variables the container did not define come last.
* **Not before the first list.** Building an API pod's environment before the informer has
  listed Services once would silently drop ``KUBERNETES_SERVICE_HOST``; :class:`ServiceEnv`
  refuses instead (the container waits as ``CreateContainerConfigError`` and is retried).
  Static pods do not wait: they may have to run before there is an API to list from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from kubeherd.client import Informer

from .staticpods import is_static

Obj = dict[str, Any]

MASTER_SERVICE = "kubernetes"
MASTER_NAMESPACE = "default"
NOT_SYNCED = "services have not yet been read at least once, cannot construct envvars"


def is_service_ip_set(service: Obj) -> bool:
    """A Service has a usable cluster IP: neither unset nor ``None`` (headless)."""
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def env_name(text: str) -> str:
    """A Service or port name as it appears in a variable name."""
    return text.replace("-", "_").upper()


def _host_port(ip: str, port: int) -> str:
    """``ip:port``, an IPv6 address in brackets (as a URL wants it)."""
    try:
        v6 = ipaddress.ip_address(ip).version == 6
    except ValueError:
        v6 = ":" in ip
    return f"[{ip}]:{port}" if v6 else f"{ip}:{port}"


def from_services(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """The variables of ``services`` (those with a cluster IP), in upstream's order per Service."""
    out: list[tuple[str, str]] = []
    for service in services:
        spec = service.get("spec") or {}
        ports = spec.get("ports") or []
        if not is_service_ip_set(service) or not ports:
            continue
        ip = str(spec["clusterIP"])
        prefix = env_name(service["metadata"]["name"])
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port", 0))))
        for port in ports:
            if port.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{env_name(str(port['name']))}", str(port.get("port", 0))))
        for i, port in enumerate(ports):
            number = int(port.get("port", 0))
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{_host_port(ip, number)}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))
            link = f"{prefix}_PORT_{number}_{protocol.upper()}"
            out += [(link, url), (f"{link}_PROTO", protocol.lower()), (f"{link}_PORT", str(number)),
                    (f"{link}_ADDR", ip)]
    return out


def service_env(services: Iterable[Obj], namespace: str, enable_service_links: bool = True) -> dict[str, str]:
    """The Service variables a pod of ``namespace`` sees, from all the Services the kubelet knows."""
    chosen: dict[str, Obj] = {}
    for service in services:
        if not is_service_ip_set(service):
            continue
        meta = service.get("metadata") or {}
        name = str(meta.get("name", ""))
        if meta.get("namespace") == MASTER_NAMESPACE and name == MASTER_SERVICE:
            chosen.setdefault(name, service)  # a Service of the pod's own namespace keeps its place
        elif meta.get("namespace") == namespace and enable_service_links:
            chosen[name] = service
    return dict(from_services(chosen.values()))


class ServiceEnv:
    """The Service variables of a pod, read from the kubelet's Service informer."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer

    def for_pod(self, pod: Obj) -> dict[str, str]:
        """Raises ``LookupError`` while an API pod's Services cannot be known yet."""
        if not is_static(pod) and not self.informer.synced.is_set():
            raise LookupError(NOT_SYNCED)
        links = (pod.get("spec") or {}).get("enableServiceLinks")
        return service_env(self.informer.indexer.objects(), pod["metadata"].get("namespace", ""),
                           True if links is None else bool(links))
