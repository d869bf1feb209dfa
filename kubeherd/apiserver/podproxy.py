"""``pods/proxy`` and ``services/proxy``: HTTP requests forwarded to a pod, answers streamed back.

Design, as upstream's kube-apiserver (the pod and service ``ResourceLocation`` and its
upgrade-aware proxy handler):

- The name segment is ``name``, ``name:port`` or ``scheme:name:port`` (scheme ``http`` or
  ``https``; anything else is a 400 ``invalid pod request``). A pod is reached at its first pod
  IP (no IP, or one that is not global unicast: 400 ``address not allowed``), on the given port
  or else the first declared container port or else the scheme's default. A port that is not a
  number is looked up as a service name (``/etc/services``), as upstream's dialer does: container
  port names are not resolved. A service is reached at a random ready address of its Endpoints
  that backs the named port (a number is first mapped to its port's name; none: 503 ``no
  endpoints available for service``), and only at addresses whose ``targetRef`` pod still has
  that IP.
- ``https`` backends are dialled without verifying their certificate, as upstream's proxy
  transport does. Every method is forwarded with its query, body and headers, except the hop-by-hop
  ones and the client's credentials; ``X-Forwarded-For`` and ``X-Forwarded-Uri`` are added and
  the client's ``Host`` is kept. A backend that cannot be reached is a 503 ``error trying to reach
  service: …``.
- The answer comes back with its status and headers (minus hop-by-hop and CORS headers), its body
  streamed as it arrives, links rewritten to stay under the proxy (:mod:`.proxyrewrite`). A GET
  or HEAD of the bare ``…/proxy`` is redirected (301) to ``…/proxy/``.
- An ``Upgrade`` request (WebSocket, SPDY) is written to the backend and the connection spliced
  both ways; the backend's own ``101`` or refusal reaches the client unchanged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import posixpath
import random
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.http import Hijack, RawStream, Request, Response, StreamResponse
from kubeherd.apiserver.proxy import READ_CHUNK, KubeletResponse, exchange, splice
from kubeherd.apiserver.proxyrewrite import LinkRewriter
from kubeherd.apiserver.registry import Registry

PROXY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
DIAL_TIMEOUT = 30.0
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
_NOT_FORWARDED = _HOP_BY_HOP | {"authorization", "content-length", "x-forwarded-uri"}
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "content-type", "access-control-allow-credentials",
                               "access-control-allow-headers", "access-control-allow-methods",
                               "access-control-allow-origin"}
_NO_BODY = (204, 304)


@dataclass(frozen=True)
class Backend:
    """Where a proxied request goes: ``scheme://host:port``."""

    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_scheme_name_port(id_: str) -> tuple[str, str, str] | None:
    """``name``, ``name:port`` or ``scheme:name:port`` as (scheme, name, port); None if invalid."""
    parts = id_.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def _resolve_port(port: str) -> int:
    if port.isdigit():
        return int(port)
    try:
        return socket.getservbyname(port, "tcp")
    except OSError:
        raise errors.APIError(503, "ServiceUnavailable",
                              f"error trying to reach service: dial tcp: lookup tcp/{port}: unknown port", {}) from None


def pod_backend(pod: dict[str, Any], scheme: str, port: str) -> Backend:
    """Where ``pod`` answers on ``port`` (see the module doc for the defaults and checks)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if not port:
        declared = next((c["ports"][0] for c in spec.get("containers") or [] if c.get("ports")), None)
        port = str(declared.get("containerPort", "")) if declared else ""
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or []] or [status.get("podIP", "")]
    if not global_unicast(ips[0] or ""):
        raise errors.bad_request("address not allowed")
    scheme = scheme or "http"
    return Backend(scheme, ips[0], _resolve_port(port) if port else DEFAULT_PORTS[scheme])


def global_unicast(ip: str) -> bool:
    """An address a proxied request may go to (Go's ``IP.IsGlobalUnicast``: private ones count)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (address.is_unspecified or address.is_loopback or address.is_multicast or address.is_link_local
                or address == ipaddress.ip_address("255.255.255.255"))


def service_port_name(service: dict[str, Any], name: str, port: str) -> str:
    """The name of the service port ``port`` names (a number is looked up among the ports)."""
    if not port.isdigit():
        return port
    number = int(port)
    match = next((p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port") == number), None)
    if match is None:
        raise errors.APIError(503, "ServiceUnavailable", f'no service port {number} found for service "{name}"', {})
    return str(match.get("name", ""))


def endpoint_candidates(endpoints: dict[str, Any], name: str, port_name: str) -> list[tuple[dict[str, Any], int]]:
    """The ready addresses backing ``port_name`` with their port, in upstream's random order:
    subsets from a random one on, addresses of each shuffled."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        raise errors.APIError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})
    start = random.randrange(len(subsets))
    out: list[tuple[dict[str, Any], int]] = []
    for subset in subsets[start:] + subsets[:start]:
        addresses = list(subset.get("addresses") or [])
        port = next((p for p in subset.get("ports") or [] if p.get("name", "") == port_name), None)
        if port is None:
            continue
        random.shuffle(addresses)
        out += [(address, int(port.get("port", 0))) for address in addresses]
    return out


def backend_path(subpath: str, trailing_slash: bool) -> str:
    """The path on the backend for what followed ``/proxy`` (cleaned, its trailing slash kept)."""
    if not subpath.strip("/"):
        return "/"
    cleaned = posixpath.normpath("/" + subpath.lstrip("/"))
    return cleaned + "/" if trailing_slash and not cleaned.endswith("/") else cleaned


class ResourceProxy:
    """Serves ``pods/proxy`` and ``services/proxy`` (requests arrive here authorized)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        catalog = registry.catalog
        pods, endpoints = catalog.lookup("", "v1", "pods"), catalog.lookup("", "v1", "endpoints")
        assert pods is not None and endpoints is not None
        self.pods, self.endpoints = pods, endpoints
        self.tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        self.tls.set_alpn_protocols(["http/1.1"])

    async def locate(self, resource: Resource, namespace: str, id_: str) -> Backend:
        parts = split_scheme_name_port(id_)
        kind = resource.kind.lower()
        if parts is None:
            raise errors.bad_request(f'invalid {kind} request "{id_}"')
        scheme, name, port = parts
        if resource.kind == "Pod":
            return pod_backend((await self.registry.get(resource, namespace, name)).obj, scheme, port)
        if port.isdigit():
            port = service_port_name((await self.registry.get(resource, namespace, name)).obj, name, port)
        endpoints = (await self.registry.get(self.endpoints, namespace, name)).obj
        for address, number in endpoint_candidates(endpoints, name, port):
            if await self._backs(address, namespace):
                return Backend(scheme or "http", str(address.get("ip", "")), number)
        raise errors.APIError(503, "ServiceUnavailable", f'no endpoints available for service "{id_}"', {})

    async def _backs(self, address: dict[str, Any], namespace: str) -> bool:
        """The address names a pod of the namespace that still has its IP (upstream's check)."""
        ref = address.get("targetRef") or {}
        if not ref.get("name") or ref.get("namespace") != namespace:
            return False
        try:
            pod = (await self.registry.get(self.pods, namespace, ref["name"])).obj
        except errors.APIError:
            return False
        return address.get("ip") in [entry.get("ip") for entry in (pod.get("status") or {}).get("podIPs") or []]

    async def handle(self, request: Request, resource: Resource, namespace: str, id_: str) -> Response | StreamResponse | Hijack:
        backend = await self.locate(resource, namespace, id_)
        prefix = f"/api/v1/namespaces/{namespace}/{resource.plural}/{id_}/proxy"
        subpath = request.path.partition(prefix)[2] if prefix in request.path else ""
        raw_query = request.raw_path.partition("?")[2] if request.raw_path else urlencode(request.query, doseq=True)
        if not subpath and request.method in ("GET", "HEAD"):
            location = (request.raw_path.partition("?")[0] or request.path) + "/" + (f"?{raw_query}" if raw_query else "")
            return Response(301, b"", "text/plain; charset=utf-8", [("Location", location)])
        path = backend_path(subpath, request.path.endswith("/"))
        target = quote(path, safe="/:@!$&'()*+,;=-._~") + (f"?{raw_query}" if raw_query else "")
        headers = self.forwarded(request, backend, prefix + (path if subpath else "/"))
        reader, writer = await self.dial(backend)
        if request.upgrade:
            return self.upgrade(request, target, headers, reader, writer)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(request.body))))
        head = _request_head(request.method, target, headers + [("Connection", "close")])
        response = await exchange(reader, writer, head + request.body, _unreachable,
                                  head_only=request.method == "HEAD")
        rewriter = LinkRewriter(prefix, backend.authority, request.headers.get("host", ""))
        return await relay(response, rewriter, request.method)

    async def dial(self, backend: Backend) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        tls = self.tls if backend.scheme == "https" else None
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                backend.host, backend.port, ssl=tls, server_hostname="" if tls else None, limit=READ_CHUNK * 4),
                DIAL_TIMEOUT)
        except TimeoutError:
            raise _unreachable(f"dial tcp {backend.authority}: i/o timeout") from None
        except ssl.SSLError as exc:
            raise _unreachable(f"tls: {exc.reason or exc}") from None
        except OSError as exc:
            reason = (exc.strerror or str(exc) or type(exc).__name__)
            raise _unreachable(f"dial tcp {backend.authority}: connect: {reason[:1].lower()}{reason[1:]}") from None

    @staticmethod
    def forwarded(request: Request, backend: Backend, forwarded_uri: str) -> list[tuple[str, str]]:
        """The client's headers the backend gets (see the module doc), ``Host`` first."""
        named_hop = {h.strip().lower() for h in request.headers.get("connection", "").split(",")}
        out = [("Host", request.headers.get("host") or backend.authority)]
        for name, value in request.headers.items():
            if name in _NOT_FORWARDED or name in named_hop or name == "host" or name.startswith("impersonate-"):
                continue
            if name == "x-forwarded-for":
                continue
            out.append((name, value))
        client = request.remote.rpartition(":")[0].strip("[]")
        prior = request.headers.get("x-forwarded-for", "")
        if client:
            out.append(("X-Forwarded-For", f"{prior}, {client}" if prior else client))
        elif prior:
            out.append(("X-Forwarded-For", prior))
        out.append(("X-Forwarded-Uri", forwarded_uri))
        return out

    @staticmethod
    def upgrade(request: Request, target: str, headers: list[tuple[str, str]], reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> Hijack:
        headers = headers + [("Connection", "Upgrade"), ("Upgrade", request.headers.get("upgrade", ""))]
        if request.body:
            headers.append(("Content-Length", str(len(request.body))))
        head = _request_head(request.method, target, headers) + request.body

        async def run(client: RawStream) -> None:
            writer.write(head)
            await splice(client, reader, writer)

        return Hijack(run)


def _request_head(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _unreachable(what: str) -> errors.APIError:
    return errors.APIError(503, "ServiceUnavailable", f"error trying to reach service: {what}", {})


async def relay(response: KubeletResponse, rewriter: LinkRewriter, method: str) -> Response | StreamResponse:
    """The backend's answer as ours: status, end-to-end headers, the body (links rewritten)."""
    connection = {h.strip().lower() for h in response.headers.get("connection", "").split(",")}
    headers = [(k, v) for k, v in response.header_list if k.lower() not in _NOT_RETURNED | connection]
    content_type = response.headers.get("content-type", "")
    chunks = response.chunks
    if "location" in response.headers:
        headers = [(k, rewriter.url(v) if k.lower() == "location" else v) for k, v in headers]
    elif content_type.partition(";")[0].strip().lower() == "text/html" and method != "HEAD":
        body = b"".join([chunk async for chunk in chunks])
        rewritten = rewriter.body(body, response.headers.get("content-encoding", ""))
        chunks = _once(body if rewritten is None else rewritten)
    if method == "HEAD" or response.status in _NO_BODY or 100 <= response.status < 200:
        async for _ in chunks:
            pass
        return Response(response.status, b"", content_type or "text/plain; charset=utf-8", headers)
    return StreamResponse(response.status, chunks, content_type or "text/plain; charset=utf-8", headers)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
