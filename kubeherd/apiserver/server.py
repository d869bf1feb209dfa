"""The API server: wires authentication, authorization, routing and the registry to HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubeherd.api import errors
from kubeherd.api.resources import CATALOG, Catalog
from kubeherd.apiserver import auth
from kubeherd.apiserver.admission import (
    CachedObjects,
    PriorityAdmission,
    RuntimeClassAdmission,
    ServiceAccountAdmission,
    UserInfo,
    system_priority_classes,
)
from kubeherd.apiserver.certs import ClusterPKI, node_addresses
from kubeherd.apiserver.discovery import Discovery
from kubeherd.apiserver.handlers import ResourceHandler, json_response, route
from kubeherd.apiserver.http import Hijack, HTTPServer, Request, Response, StreamResponse
from kubeherd.apiserver.openapi import OpenAPI
from kubeherd.apiserver.openapi_v2 import (
    PROTOBUF_DEPRECATED_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE,
    encode_protobuf,
    swagger_document,
)
from kubeherd.apiserver.proxy import KubeletConnector
from kubeherd.apiserver.registry import Registry
from kubeherd.apiserver.serviceaccount_tokens import IssuerConfig, ServiceAccountTokens
from kubeherd.apiserver.services.network import ServiceNetwork, ServiceNetworkConfig
from kubeherd.apiserver.services.ranges import ServiceCIDR
from kubeherd.apiserver.tokens import KEY_FILE, SigningKey
from kubeherd.storage.cache import DEFAULT_WINDOW, WatchCache
from kubeherd.storage.interface import Store

log = logging.getLogger(__name__)

VERSION = {
    "major": "1", "minor": "33", "gitVersion": "v1.33.0+kubeherd", "gitCommit": "kubeherd",
    "gitTreeState": "clean", "buildDate": "2026-11-25T00:00:00Z", "goVersion": "python",
    "compiler": "kubeherd", "platform": "linux/amd64",
}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
COMPACT_INTERVAL = 300.0
COMPACT_KEEP = 10_000  # revisions kept behind the current one, at least


@dataclass
class ServerConfig:
    data_dir: Path
    port: int = 6443
    bind_address: str = "0.0.0.0"
    tokens: dict[str, UserInfo] = field(default_factory=dict)
    bookmark_interval: float = 60.0
    tls_sans: list[str] = field(default_factory=list)
    watch_cache_size: int = DEFAULT_WINDOW
    service_accounts: IssuerConfig = field(default_factory=IssuerConfig)
    service_network: ServiceNetworkConfig = field(default_factory=ServiceNetworkConfig)


class APIServer:
    def __init__(self, config: ServerConfig, store: Store, catalog: Catalog = CATALOG) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.pki = ClusterPKI(config.data_dir / "server" / "tls", config.tls_sans,
                              service_ip=ServiceCIDR.parse(config.service_network.service_cidr).first())
        self.authenticator = auth.Authenticator(config.tokens)
        pods = catalog.lookup("", "v1", "pods")
        assert pods is not None
        self.cache = WatchCache(store, [r.storage_prefix for r in catalog.stored()],
                                window=config.watch_cache_size, node_indexed=[pods.storage_prefix])
        self.registry = Registry(store, self.cache, catalog)
        self.resources = ResourceHandler(self.registry, config.bookmark_interval, self.authenticator)
        self.service_network = ServiceNetwork(self.registry, config.service_network)
        self.service_account_tokens = ServiceAccountTokens(
            self.registry, SigningKey(self.pki.directory / KEY_FILE), config.service_accounts)
        self.authenticator.add_token_authenticator(self.service_account_tokens.authenticate)
        self.resources.token_requests = self.service_account_tokens
        cached = CachedObjects(self.cache, catalog)
        self.resources.admission.extend([ServiceAccountAdmission(self.service_account_tokens.lookup),
                                         PriorityAdmission(cached), RuntimeClassAdmission(cached)])
        self.issuer_documents: dict[str, tuple[bytes, str]] = {}
        kubelet_client = self.pki.kubelet_client
        self.resources.node_subresources.connector = KubeletConnector.from_files(
            str(self.pki.ca.cert_path), str(kubelet_client.cert_path), str(kubelet_client.key_path))
        self.discovery = Discovery(catalog)
        self.openapi = OpenAPI(catalog)
        swagger = swagger_document(catalog)
        self.openapi_v2 = {"json": orjson.dumps(swagger), "protobuf": encode_protobuf(swagger)}
        self.http = HTTPServer(self.dispatch, self._ssl_context())
        self.ready = False
        self.port = config.port
        self.metrics_sources: list[Callable[[], str]] = []
        self._compactor: asyncio.Task[None] | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.pki.serving.cert_path, self.pki.serving.key_path)
        context.load_verify_locations(cafile=str(self.pki.ca.cert_path))
        context.verify_mode = ssl.CERT_OPTIONAL  # client certificates are asked for, not required
        context.set_alpn_protocols(["http/1.1"])
        return context

    async def start(self) -> None:
        await self.store.start()
        await self.cache.start()
        namespaces = self.catalog.lookup("", "v1", "namespaces")
        assert namespaces is not None
        for name in SYSTEM_NAMESPACES:
            await self.registry.ensure(namespaces, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": name}})
        priority_classes = self.catalog.lookup("scheduling.k8s.io", "v1", "priorityclasses")
        if priority_classes is not None:
            for priority_class in system_priority_classes():
                await self.registry.ensure(priority_classes, priority_class)
        await self.service_network.repair()
        self.port = await self.http.start(self.config.bind_address, self.config.port)
        await self.service_network.start(self.config.bind_address, self.port)
        host = self.config.bind_address if self.config.bind_address not in ("0.0.0.0", "::") \
            else next((a for a in node_addresses() if a != "127.0.0.1"), "127.0.0.1")
        self.issuer_documents = self.service_account_tokens.openid_documents(f"{host}:{self.port}")
        self._compactor = asyncio.get_running_loop().create_task(self._compact_loop())
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.service_network.stop()
        if self._compactor is not None:
            self._compactor.cancel()
        await self.http.stop()
        await self.cache.stop()
        await self.store.close()

    async def _compact_loop(self) -> None:
        """Keep the datastore's history bounded, as kube-apiserver asks etcd to every 5 minutes."""
        previous = 0
        while True:
            await asyncio.sleep(COMPACT_INTERVAL)
            target = min(previous, self.store.current_revision() - COMPACT_KEEP)
            if target > self.store.compacted_revision():
                with contextlib.suppress(Exception):
                    await self.store.compact(target)
            previous = self.store.current_revision()

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, request: Request) -> Response | StreamResponse | Hijack:
        try:
            return await self._dispatch(request)
        except errors.APIError as exc:
            headers = list(exc.headers.items())
            return json_response(exc.code, orjson.dumps(exc.status()), headers)
        except Exception as exc:
            log.exception("request failed: %s %s", request.method, request.path)
            err = errors.internal(str(exc) or type(exc).__name__)
            return json_response(500, orjson.dumps(err.status()))

    async def dispatch_as(self, identity: Any, method: str, path: str, query: dict[str, list[str]],
                          headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        """The in-process door: the same handling as over HTTPS, with the caller's identity given."""
        user = UserInfo(identity.user, tuple(identity.groups) + ("system:authenticated",))
        request = Request(method, path, query, headers, body, user=user)
        response = await self.dispatch(request)
        if isinstance(response, Hijack):  # only a request that asked to upgrade gets one
            raise RuntimeError(f"{method} {path}: an upgraded connection cannot be served in process")
        out_headers = {"content-type": response.content_type, **dict(response.headers)}
        if isinstance(response, StreamResponse):
            return response.status, out_headers, response.chunks
        return response.status, out_headers, response.body

    async def _dispatch(self, request: Request) -> Response | StreamResponse | Hijack:
        path = request.path.rstrip("/") or "/"
        user = request.user or self.authenticator.authenticate(request.headers, request.peer_cert)
        if path in auth.PUBLIC_PATHS:
            return self._public(path)
        if user is None:
            raise errors.unauthorized()
        request.user = user
        if not auth.authorize(user):
            target = route(self.catalog, request.method, path, request.arg("watch") in ("true", "1"))
            resource = (target.resource.group, target.resource.plural) if target is not None else None
            if not auth.allowed_without_role(user, request.method, path, resource, target.verb if target else ""):
                if target is None:
                    raise errors.APIError(403, "Forbidden", f'forbidden: User "{user.name}" cannot '
                                          f'{request.method.lower()} path "{path}"', {})
                raise errors.forbidden(user.name, target.verb, target.resource.group, target.resource.plural,
                                       target.name, target.namespace, target.subresource)
        if path in self.issuer_documents and request.method in ("GET", "HEAD"):
            body, content_type = self.issuer_documents[path]
            return Response(200, body, content_type, [("Cache-Control", "public, max-age=3600")])
        if path == "/metrics" and request.method == "GET":
            return Response(200, self.metrics_text().encode(), "text/plain; version=0.0.4; charset=utf-8")
        if request.method in ("GET", "HEAD"):
            found = self.discovery.body(path, request.headers.get("accept", ""))
            if found is not None:
                body, content_type = found
                return Response(200, body, content_type)
            if path == "/openapi/v2":
                return self._openapi_v2(request.headers.get("accept", ""))
            if path.startswith("/openapi/v3"):
                document = self.openapi.get(path)
                if document is None:
                    raise errors.APIError(404, "NotFound", "the server could not find the requested resource", {})
                return Response(200, document, "application/json")
        target = route(self.catalog, request.method, path, request.arg("watch") in ("true", "1"))
        if target is None:
            raise errors.APIError(404, "NotFound", "the server could not find the requested resource", {})
        return await self.resources.handle(request, target)

    def _openapi_v2(self, accept: str) -> Response:
        """Swagger 2.0 as protobuf (what kubectl 1.27/1.28 ask for) or JSON, by the Accept header."""
        vary = [("Vary", "Accept")]
        for media in (m.split(";")[0].strip() for m in accept.split(",")):
            if media in (PROTOBUF_MEDIA_TYPE, PROTOBUF_DEPRECATED_MEDIA_TYPE):
                return Response(200, self.openapi_v2["protobuf"], PROTOBUF_MEDIA_TYPE, vary)
            if media in ("application/json", "*/*", ""):
                return Response(200, self.openapi_v2["json"], "application/json", vary)
        raise errors.not_acceptable(accept)

    def metrics_text(self) -> str:
        """Prometheus text: the server's own figures plus whatever in-process components add."""
        lines = ["# TYPE apiserver_storage_revision gauge",
                 f"apiserver_storage_revision {self.store.current_revision()}",
                 "# TYPE apiserver_storage_objects gauge"]
        for prefix, cache in sorted(self.cache.resources.items()):
            if cache.items:
                lines.append(f'apiserver_storage_objects{{resource="{prefix.split("/")[3]}"}} {len(cache.items)}')
        for source in self.metrics_sources:
            lines.append(source())
        return "\n".join(lines) + "\n"

    def _public(self, path: str) -> Response:
        if path == "/version":
            return json_response(200, orjson.dumps(VERSION))
        if path == "/readyz" and not self.ready:
            return Response(503, b"[-]ready failed: server is starting\nreadyz check failed", "text/plain")
        return Response(200, b"ok", "text/plain; charset=utf-8")
