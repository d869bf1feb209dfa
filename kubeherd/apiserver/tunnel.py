"""The port-forward WebSocket tunnel, and SPDY upgrades to the kubelet made by the apiserver itself.

kubectl ≥ 1.31 opens ``pods/portforward`` as a WebSocket offering ``SPDY/3.1+portforward.k8s.io``
and then speaks SPDY *inside* binary messages. The runtime's streaming server does not serve
that subprotocol, so the apiserver does what upstream's ``TunnelingHandler`` does: it asks the
kubelet for an ordinary SPDY/3.1 upgrade (``POST``, ``X-Stream-Protocol-Version`` set to the
offered protocols without the ``SPDY/3.1+`` prefix), and only once the kubelet answered ``101``
accepts the WebSocket with ``SPDY/3.1+<negotiated>``. From then on bytes are copied unparsed:
each binary message from the client is written to the kubelet, each read from the kubelet goes
to the client as one binary message. Any other answer of the kubelet is relayed to the client
as it came, so it sees the same error a SPDY request would have.

:func:`dial_spdy_upgrade` is shared with the ``v5.channel.k8s.io`` translator
(:mod:`kubeherd.apiserver.remotecommand`), which also needs a SPDY connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from kubeherd.api import errors
from kubeherd.apiserver.http import Hijack, RawStream, Request
from kubeherd.apiserver.proxy import (
    READ_CHUNK,
    KubeletConnector,
    KubeletLocation,
    forwarded_headers,
    request_head,
)
from kubeherd.apiserver.websocket import Handshake, WebSocket, handshake, offered_subprotocols
from kubeherd.client.aio import cancel_and_wait

TUNNEL_PREFIX = "SPDY/3.1+"
CLOSE_WAIT = 5.0  # seconds to wait for the client's answer to our close frame
# headers of the client's WebSocket handshake that must not reach the kubelet's SPDY upgrade
_WEBSOCKET_HEADERS = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
                                "sec-websocket-extensions", "x-stream-protocol-version", "origin"})


def tunneled_protocols(request: Request) -> list[str]:
    """The SPDY protocols a tunnel request offers (``SPDY/3.1+…k8s.io`` without the prefix)."""
    return [p[len(TUNNEL_PREFIX):] for p in offered_subprotocols(request)
            if p.startswith(TUNNEL_PREFIX) and p.endswith(".k8s.io")]


def is_tunnel_request(request: Request) -> bool:
    return request.upgrade == "websocket" and bool(tunneled_protocols(request))


@dataclass
class UpgradeAnswer:
    """The kubelet's answer to a SPDY upgrade: its head, and the connection to go on with."""

    status: int
    headers: dict[str, str]
    head: bytes  # the raw head, to relay as it came
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def upgraded(self) -> bool:
        return (self.status == 101 and "upgrade" in self.headers.get("connection", "").lower()
                and "spdy/3.1" in self.headers.get("upgrade", "").lower())

    @property
    def protocol(self) -> str:
        return self.headers.get("x-stream-protocol-version", "").strip()

    async def body(self, limit: int = 64 * 1024) -> bytes:
        """What follows a non-upgrade head (the kubelet closes the connection after it)."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            return await asyncio.wait_for(self.reader.read(limit), 10)
        return b""


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """An HTTP response head: status, headers (lower-case names) and the raw bytes."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
        raise errors.APIError(502, "InternalError", f"error reading from the kubelet: {exc}", {}) from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise errors.APIError(502, "InternalError", f"malformed answer from the kubelet: {lines[0]!r}", {})
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, raw


async def dial_spdy_upgrade(connector: KubeletConnector, location: KubeletLocation, request: Request,
                            target: str, protocols: list[str]) -> UpgradeAnswer:
    """``POST target`` to the kubelet asking to upgrade to SPDY/3.1 with ``protocols``."""
    reader, writer = await connector.connect(location)
    headers = [(k, v) for k, v in forwarded_headers(request) if k.lower() not in _WEBSOCKET_HEADERS]
    headers += [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("Content-Length", "0")]
    headers += [("X-Stream-Protocol-Version", p) for p in protocols]
    writer.write(request_head("POST", target, location, headers))
    try:
        status, answer_headers, head = await read_head(reader)
    except BaseException:
        writer.close()
        raise
    return UpgradeAnswer(status, answer_headers, head, reader, writer)


def open_tunnel(connector: KubeletConnector, location: KubeletLocation, request: Request, target: str) -> Hijack:
    """The hijack that serves a port-forward tunnel request (see the module doc)."""
    protocols = tunneled_protocols(request)
    if not protocols:
        raise errors.bad_request("unable to upgrade: no tunneling spdy protocols provided")
    opening = handshake(request, "")

    async def run(client: RawStream) -> None:
        answer = await dial_spdy_upgrade(connector, location, request, target, protocols)
        try:
            if not answer.upgraded:
                client.write(answer.head + await answer.body())
                await client.drain()
                return
            negotiated = TUNNEL_PREFIX + answer.protocol if answer.protocol else ""
            await tunnel(WebSocket(client, Handshake(opening.state, negotiated)), answer)
        finally:
            answer.writer.close()

    return Hijack(run)


async def tunnel(ws: WebSocket, answer: UpgradeAnswer) -> None:
    """Accept the WebSocket, then copy bytes between its binary messages and the kubelet."""
    await ws.accept()

    async def upstream() -> None:
        while (message := await ws.receive()) is not None:
            if not isinstance(message, bytes):
                await ws.close(1003, "the tunnel carries binary messages only")
                return
            answer.writer.write(message)
            await answer.writer.drain()

    async def downstream() -> None:
        while data := await answer.reader.read(READ_CHUNK):
            await ws.send(data)
        await ws.close()

    up, down = asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())
    tasks = (up, down)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if down.done() and not up.done():  # the kubelet ended and said so: the client answers our close
            await asyncio.wait({up}, timeout=CLOSE_WAIT)
    finally:
        await cancel_and_wait(tasks)
