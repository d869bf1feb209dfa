"""WebSocket connections the apiserver terminates itself, on a hijacked HTTP connection.

Most upgraded requests are spliced to the kubelet unparsed (:mod:`kubeherd.apiserver.proxy`).
Three are answered here, because the runtime's streaming server does not speak them:
``pods/log`` over WebSocket, the port-forward tunnel and the ``v5.channel.k8s.io`` exec/attach
translator. The RFC 6455 handshake and framing are `wsproto`'s; this module only adapts them
to the server's :class:`~kubeherd.apiserver.http.RawStream`.

The handshake is checked when the request arrives (:func:`handshake`), while a refusal can
still be an ordinary error answer; the ``101`` is written when the hijacked connection starts
(:meth:`WebSocket.accept`). Subprotocols are chosen as upstream's ``wsstream`` does: the first
one the client offers that the server serves, ``""`` standing for "none offered".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    TextMessage,
)
from wsproto.events import Request as WSRequest
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from kubeherd.api import errors
from kubeherd.apiserver.http import RawStream, Request

NORMAL_CLOSURE = 1000


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols a WebSocket request offers, in the client's order."""
    return [p.strip() for p in request.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]


def choose_subprotocol(offered: list[str], served: set[str] | frozenset[str]) -> str | None:
    """The first offered subprotocol that is served (``""`` when none is offered and ``""`` is
    served); None when there is no match."""
    for protocol in offered or [""]:
        if protocol in served:
            return protocol
    return None


@dataclass
class Handshake:
    """A checked WebSocket opening handshake, ready to be accepted with ``subprotocol``."""

    state: H11Handshake
    subprotocol: str  # "" for none


def handshake(request: Request, subprotocol: str) -> Handshake:
    """Check ``request`` as a WebSocket opening handshake (a Status error if it is not one)."""
    state = H11Handshake(ConnectionType.SERVER)
    target = request.raw_path or request.path
    lines = [f"{request.method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    try:
        state.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        events = list(state.events())
    except RemoteProtocolError as exc:
        raise errors.bad_request(f"unable to upgrade to WebSocket: {exc}") from None
    if not events or not isinstance(events[0], WSRequest):
        raise errors.bad_request("unable to upgrade to WebSocket: incomplete handshake")
    return Handshake(state, subprotocol)


class WebSocket:
    """One server-side WebSocket: whole messages in, messages out, pings answered."""

    def __init__(self, stream: RawStream, opening: Handshake) -> None:
        self.stream = stream
        self.opening = opening
        self.subprotocol = opening.subprotocol
        self.conn: Connection | None = None
        self.close_code: int | None = None  # the peer's close code, once it closed

    async def accept(self) -> None:
        """Write the ``101`` answer; from here on the connection speaks WebSocket."""
        self.stream.write(self.opening.state.send(AcceptConnection(subprotocol=self.subprotocol or None)))
        self.conn = self.opening.state.connection
        assert self.conn is not None
        await self.stream.drain()

    @property
    def open(self) -> bool:
        return self.conn is not None and self.conn.state is ConnectionState.OPEN

    async def send(self, data: bytes | str) -> None:
        """Send one whole message: binary for bytes, text for str. Dropped once closing."""
        if not self.open:
            return
        assert self.conn is not None
        event = BytesMessage(data=data) if isinstance(data, bytes) else TextMessage(data=data)
        self.stream.write(self.conn.send(event))
        await self.stream.drain()

    async def receive(self) -> bytes | str | None:
        """The next whole message from the peer; None once it closed (or the connection ended)."""
        assert self.conn is not None
        parts: list[bytes | str] = []
        while True:
            for event in self.conn.events():
                if isinstance(event, Message):
                    parts.append(event.data)
                    if event.message_finished:
                        return b"".join(parts) if isinstance(event.data, bytes) else "".join(parts)  # type: ignore[arg-type]
                elif isinstance(event, Ping):
                    if self.open:
                        self.stream.write(self.conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    self.close_code = event.code
                    if self.conn.state is ConnectionState.REMOTE_CLOSING:
                        self.stream.write(self.conn.send(event.response()))
                    return None
            if self.conn.state is ConnectionState.CLOSED:
                return None
            data = await self.stream.read()
            self.conn.receive_data(data or None)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Send our close frame (once); the caller closes the connection when it is done."""
        if self.conn is None or self.conn.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            return
        with contextlib.suppress(Exception):
            self.stream.write(self.conn.send(CloseConnection(code=code, reason=reason)))
            await self.stream.drain()
