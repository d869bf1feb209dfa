"""``pods/exec``, ``pods/attach``, ``pods/portforward``: upgraded connections spliced to the kubelet.

Design (NODE-PROTOCOLS.md §3): every stream protocol is terminated by the container runtime's
streaming server; the kubelet maps the request to a CRI Exec/Attach/PortForward call and
splices bytes to the URL it returns, and so does this module to the kubelet. So SPDY/3.1
clients (every kubectl, and the fallback of the newer ones) and WebSocket ``v4.channel.k8s.io``
clients (the Python client) work without the apiserver parsing a frame.

Two WebSocket protocols the runtime does not speak are served by adapters, as upstream's
apiserver serves them: a WebSocket offering ``v5.channel.k8s.io`` (kubectl ≥ 1.30 exec/attach)
is translated to SPDY (:mod:`kubeherd.apiserver.remotecommand`), and the port-forward tunnel
``SPDY/3.1+portforward.k8s.io`` (kubectl ≥ 1.31) carries a SPDY upgrade of the kubelet in
binary messages (:mod:`kubeherd.apiserver.tunnel`). Any other subprotocol the runtime does not
serve is refused before a byte reaches the kubelet, with an answer clients fall back from.

The checks are upstream's, made here where upstream's apiserver makes them: the pod exists,
the container is one of the pod's (or the only one when none is named), the pod is bound to a
node. The kubelet answers what only it can tell (the container is not running).
"""

from __future__ import annotations

from typing import Any

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.http import Hijack, Request, Response, StreamResponse
from kubeherd.apiserver.podlogs import pick_container, pod_log
from kubeherd.apiserver.podproxy import PROXY_METHODS, ResourceProxy
from kubeherd.apiserver.proxy import (
    KubeletConnector,
    KubeletLocation,
    kubelet_location,
    kubelet_target,
    node_proxy,
    open_upgrade,
)
from kubeherd.apiserver.registry import Registry
from kubeherd.apiserver.remotecommand import is_v5_request, open_translator
from kubeherd.apiserver.tunnel import is_tunnel_request, open_tunnel

STREAM_SUBRESOURCES = ("exec", "attach", "portforward")

# WebSocket subprotocols the runtime's streaming server accepts for exec/attach (containerd 1.6)
RUNTIME_WEBSOCKET_PROTOCOLS = frozenset({"channel.k8s.io", "base64.channel.k8s.io", "v4.channel.k8s.io",
                                         "v4.base64.channel.k8s.io"})
PORT_FORWARD_WEBSOCKET_PROTOCOLS = frozenset({"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                              "portforward.k8s.io"})
_TRUE = ("1", "true", "True", "TRUE", "t", "T")


def _flag(request: Request, name: str) -> bool:
    return request.arg(name) in _TRUE


def offered_subprotocols(request: Request) -> list[str]:
    return [p.strip() for p in request.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]


def check_upgrade(request: Request, subresource: str) -> None:
    """Refuse what the runtime cannot serve, in the way clients fall back from (see module doc)."""
    if not request.upgrade:
        raise errors.bad_request("Upgrade request required")
    if request.upgrade != "websocket":
        return
    offered = offered_subprotocols(request)
    served = PORT_FORWARD_WEBSOCKET_PROTOCOLS if subresource == "portforward" else RUNTIME_WEBSOCKET_PROTOCOLS
    if offered and not served.intersection(offered):
        raise errors.bad_request(f"none of the offered WebSocket subprotocols ({', '.join(offered)}) is served "
                                 f"for pods/{subresource}; use SPDY/3.1 or one of: {', '.join(sorted(served))}")


def kubelet_path(request: Request, pod: dict[str, Any], subresource: str) -> str:
    """The kubelet URL (path and query) for an exec, attach or port-forward of ``pod``."""
    meta = pod.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", "")
    if subresource == "portforward":
        ports: list[tuple[str, str]] = []
        for value in request.query.get("ports", []):
            for port in filter(None, (p.strip() for p in value.split(","))):
                if not port.isdigit() or not 0 < int(port) < 65536:
                    raise errors.bad_request(f"ports: Invalid value: {port!r}: must be a valid port number")
                ports.append(("port", port))
        return kubelet_target(f"/portForward/{namespace}/{name}", ports)
    container = pick_container(pod, request.arg("container"))
    params: list[tuple[str, str]] = []
    for flag, wire in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
        if _flag(request, flag):
            params.append((wire, "1"))
    if subresource == "exec":
        params += [("command", c) for c in request.query.get("command", [])]
    prefix = "/exec" if subresource == "exec" else "/attach"
    return kubelet_target(f"{prefix}/{namespace}/{name}/{container}", params)


def node_of(pod: dict[str, Any]) -> str:
    """The node a pod runs on; the upstream 400 if it has none yet."""
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        raise errors.bad_request(f"pod {(pod.get('metadata') or {}).get('name', '')} does not have a host assigned")
    return str(node)


class NodeSubresources:
    """The subresources served by a node's kubelet: ``pods/{exec,attach,portforward,log}`` and
    ``nodes/proxy``, and those served by pods: ``pods/proxy`` and ``services/proxy``
    (:mod:`kubeherd.apiserver.podproxy`). Requests arrive here authorized; this reads the pod or
    node, checks, and hands the request to the kubelet or the pod."""

    def __init__(self, registry: Registry, connector: KubeletConnector | None = None) -> None:
        self.registry = registry
        self.connector = connector
        nodes = registry.catalog.lookup("", "v1", "nodes")
        assert nodes is not None
        self.nodes = nodes
        self.resource_proxy = ResourceProxy(registry)

    def serves(self, resource: Resource, subresource: str) -> bool:
        if resource.group:
            return False
        if resource.kind == "Pod":
            return subresource in STREAM_SUBRESOURCES or subresource in ("log", "proxy")
        return resource.kind in ("Node", "Service") and subresource == "proxy"

    async def locate(self, node: str) -> KubeletLocation:
        return await kubelet_location(self.registry, self.nodes, node)

    def _connector(self) -> KubeletConnector:
        if self.connector is None:
            raise errors.APIError(503, "ServiceUnavailable", "this server has no kubelet client credentials", {})
        return self.connector

    async def handle(self, request: Request, resource: Resource, namespace: str, name: str, subresource: str,
                     proxy_path: str = "") -> StreamResponse | Response | Hijack:
        if subresource == "proxy" and request.method not in PROXY_METHODS:
            raise errors.method_not_allowed()
        if subresource == "proxy" and resource.kind in ("Pod", "Service"):
            return await self.resource_proxy.handle(request, resource, namespace, name)
        if resource.kind == "Node":
            node, _, port = name.partition(":")
            location = await self.locate(node)
            if port:
                if not port.isdigit():
                    raise errors.bad_request(f"invalid port {port!r} in node name {name!r}")
                location = KubeletLocation(location.node, location.host, int(port))
            return await node_proxy(self._connector(), location, request, proxy_path)
        pod = (await self.registry.get(resource, namespace, name)).obj
        if subresource == "log":
            return await pod_log(request, pod, self._connector(), self.locate)
        target = kubelet_path(request, pod, subresource)
        node = node_of(pod)
        if subresource == "portforward" and is_tunnel_request(request):
            return open_tunnel(self._connector(), await self.locate(node), request, target)
        if subresource != "portforward" and is_v5_request(request):
            return open_translator(self._connector(), await self.locate(node), request, target)
        check_upgrade(request, subresource)
        location = await self.locate(node)
        return await open_upgrade(self._connector(), location, request, target)
