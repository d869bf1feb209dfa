"""How a client reaches the API: over HTTPS (kubeconfig) or in-process (inside the server).

Both transports speak in raw HTTP terms (method, path, query, body → status, body), so every
layer above them is identical whichever one is used. The in-process transport skips the
network and TLS but not the API server's authorization, admission or validation: it hands the
request to the server's dispatcher together with the identity it acts as.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import yaml

Query = dict[str, str]


@dataclass(slots=True)
class Identity:
    """Who an in-process client acts as (what a client certificate would say)."""

    user: str
    groups: tuple[str, ...] = ()


@dataclass(slots=True)
class RawResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Transport(Protocol):
    async def request(self, method: str, path: str, query: Query | None = None, body: bytes | None = None,
                      content_type: str = "application/json") -> RawResponse:
        """One request with a whole response."""

    def stream(self, path: str, query: Query | None = None) -> AsyncIterator[bytes]:
        """GET a streaming response (a watch) and yield it line by line; errors raise."""

    async def close(self) -> None: ...


class StreamError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"stream answered {status}: {body[:200]!r}")
        self.status = status
        self.body = body


# ---------------------------------------------------------------------------------------- HTTPS
@dataclass
class KubeConfig:
    server: str
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str = ""
    insecure: bool = False

    @classmethod
    def load(cls, path: str | Path, context: str = "") -> KubeConfig:
        doc = yaml.safe_load(Path(path).read_text())
        name = context or doc.get("current-context", "")
        ctx = next((c["context"] for c in doc.get("contexts", []) if c["name"] == name), None)
        if ctx is None:
            raise ValueError(f"kubeconfig {path}: no context {name!r}")
        cluster = next(c["cluster"] for c in doc.get("clusters", []) if c["name"] == ctx["cluster"])
        user: dict[str, Any] = next((u["user"] for u in doc.get("users", []) if u["name"] == ctx.get("user")), {})

        def data(obj: dict[str, Any], key: str) -> bytes | None:
            if obj.get(f"{key}-data"):
                return base64.b64decode(obj[f"{key}-data"])
            if obj.get(key):
                return Path(obj[key]).read_bytes()
            return None

        return cls(
            server=cluster["server"].rstrip("/"),
            ca_pem=data(cluster, "certificate-authority"),
            cert_pem=data(user, "client-certificate"),
            key_pem=data(user, "client-key"),
            token=user.get("token", ""),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_pem:
            context.load_verify_locations(cadata=self.ca_pem.decode())
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_pem and self.key_pem:
            # the ssl module loads client keys only from files
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
                cert.write_bytes(self.cert_pem)
                key.write_bytes(self.key_pem)
                key.chmod(0o600)
                context.load_cert_chain(str(cert), str(key))
        return context


class HTTPTransport:
    """HTTPS to an API server with a kubeconfig's credentials, keeping connections alive."""

    def __init__(self, config: KubeConfig, user_agent: str = "kubeherd") -> None:
        self.config = config
        self._ssl = config.ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=64)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers,
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    def _url(self, path: str, query: Query | None) -> str:
        return self.config.server + path + ("?" + urlencode(query) if query else "")

    async def request(self, method: str, path: str, query: Query | None = None, body: bytes | None = None,
                      content_type: str = "application/json") -> RawResponse:
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self._client().request(method, self._url(path, query), data=body, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=60)) as response:
            payload = await response.read()
            return RawResponse(response.status, payload, dict(response.headers))

    async def stream(self, path: str, query: Query | None = None) -> AsyncIterator[bytes]:
        async with self._client().get(self._url(path, query)) as response:
            if response.status != 200:
                raise StreamError(response.status, await response.read())
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield line

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# ----------------------------------------------------------------------------------- in-process
class Dispatcher(Protocol):
    """What the API server offers in-process clients (see APIServer.dispatch_as)."""

    def __call__(self, identity: Identity, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: bytes) -> Awaitable[tuple[int, dict[str, str], Any]]:
        """Returns (status, headers, body) where body is bytes or an async iterator of chunks."""


class InProcessTransport:
    def __init__(self, dispatch: Dispatcher | Callable[..., Any], identity: Identity) -> None:
        self.dispatch = dispatch
        self.identity = identity

    async def request(self, method: str, path: str, query: Query | None = None, body: bytes | None = None,
                      content_type: str = "application/json") -> RawResponse:
        headers = {"accept": "application/json", "content-type": content_type}
        q = {k: [v] for k, v in (query or {}).items()}
        status, out_headers, payload = await self.dispatch(self.identity, method, path, q, headers, body or b"")
        if not isinstance(payload, bytes):
            chunks = [c async for c in payload]
            payload = b"".join(chunks)
        return RawResponse(status, payload, out_headers)

    async def stream(self, path: str, query: Query | None = None) -> AsyncIterator[bytes]:
        q = {k: [v] for k, v in (query or {}).items()}
        status, _, payload = await self.dispatch(self.identity, "GET", path, q, {"accept": "application/json"}, b"")
        if isinstance(payload, bytes):
            if status != 200:
                raise StreamError(status, payload)
            for line in payload.split(b"\n"):
                if line.strip():
                    yield line
            return
        try:
            async for chunk in payload:
                for line in chunk.split(b"\n"):
                    if line.strip():
                        yield line
        finally:
            aclose = getattr(payload, "aclose", None)
            if aclose is not None:
                await aclose()
            await asyncio.sleep(0)

    async def close(self) -> None:
        return None
