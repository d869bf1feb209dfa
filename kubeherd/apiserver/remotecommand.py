"""exec/attach over WebSocket ``v5.channel.k8s.io``, translated to SPDY/3.1 for the kubelet.

kubectl ≥ 1.30 (and the Python client, offering v5 before v4) tries WebSocket ``v5`` first. The
runtime's streaming server speaks WebSocket only up to v4, which cannot half-close stdin, so as
upstream's ``StreamTranslatorHandler`` the apiserver terminates the WebSocket itself and is a
SPDY client (``v4.channel.k8s.io``) of the kubelet, which splices on to containerd.

Channels of the WebSocket, each message ``[channel][bytes]``:
0 stdin → the SPDY ``stdin`` stream; ``[255, 0]`` (v5's close signal) → empty DATA + FIN on it.
1 stdout, 2 stderr ← the SPDY streams of those names.
3 error ← the v4 ``metav1.Status`` the runtime writes on its ``error`` stream, sent once stdout
  and stderr have ended (an InternalError if the connection ended before one came), then the
  WebSocket is closed (1000).
4 resize → the SPDY ``resize`` stream (terminal size JSON, unchanged).

The ``101`` comes first, then an empty message on the lowest output channel tells the client the
session is up; a failure to reach the container after that is a Status on channel 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from kubeherd.api import errors
from kubeherd.apiserver.http import Hijack, RawStream, Request
from kubeherd.apiserver.proxy import KubeletConnector, KubeletLocation
from kubeherd.apiserver.spdy import ClientSession, Stream
from kubeherd.apiserver.tunnel import CLOSE_WAIT, dial_spdy_upgrade
from kubeherd.apiserver.websocket import WebSocket, handshake, offered_subprotocols

V5 = "v5.channel.k8s.io"
SPDY_PROTOCOL = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
STREAM_CLOSE = 255
_TRUE = ("1", "true", "True", "TRUE", "t", "T")


def is_v5_request(request: Request) -> bool:
    """A WebSocket request offering ``v5.channel.k8s.io`` (among others or alone) is translated."""
    return request.upgrade == "websocket" and V5 in offered_subprotocols(request)


@dataclass(frozen=True)
class Options:
    """The streams asked for; with a terminal there is no separate stderr."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def of(cls, request: Request) -> Options:
        def flag(name: str) -> bool:
            return request.arg(name) in _TRUE
        tty = flag("tty")
        return cls(flag("stdin"), flag("stdout"), flag("stderr") and not tty, tty)


def status_json(status: dict[str, object]) -> bytes:
    return json.dumps({"metadata": {}, **status}, separators=(",", ":")).encode()


SUCCESS = status_json({"status": "Success"})


def failure(code: int, reason: str, message: str) -> bytes:
    return status_json({"status": "Failure", "message": message, "reason": reason, "code": code})


def open_translator(connector: KubeletConnector, location: KubeletLocation, request: Request,
                    target: str) -> Hijack:
    """The hijack that serves a ``v5.channel.k8s.io`` exec/attach (see the module doc)."""
    opening = handshake(request, V5)
    options = Options.of(request)

    async def run(client: RawStream) -> None:
        ws = WebSocket(client, opening)
        await ws.accept()
        first = STDOUT if options.stdout else STDERR if options.stderr else ERROR
        await ws.send(bytes([first]))
        status = await translate(ws, connector, location, request, target, options)
        if status is not None:  # None: the client went away
            await ws.send(bytes([ERROR]) + status)
            await ws.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_closed(ws), CLOSE_WAIT)

    return Hijack(run)


async def _until_closed(ws: WebSocket) -> None:
    while await ws.receive() is not None:
        pass


async def translate(ws: WebSocket, connector: KubeletConnector, location: KubeletLocation, request: Request,
                    target: str, options: Options) -> bytes | None:
    """Run the session over SPDY; the Status to end it with (None if the client left first)."""
    try:
        answer = await dial_spdy_upgrade(connector, location, request, target, [SPDY_PROTOCOL])
    except errors.APIError as exc:
        return failure(exc.code, exc.reason, exc.message)
    if not answer.upgraded or answer.protocol != SPDY_PROTOCOL:
        text = (await answer.body()).decode(errors="replace").strip()
        answer.writer.close()
        if answer.upgraded:
            text = f"the runtime chose the unsupported protocol {answer.protocol!r}"
        return failure(500, "InternalError", f"Internal error occurred: unable to upgrade connection: {text}")
    session = ClientSession(answer.reader, answer.writer)
    reading = asyncio.ensure_future(session.run())
    tasks: list[asyncio.Future[Any]] = []
    try:
        error = await session.open_stream([("streamType", "error")])
        stdin = await session.open_stream([("streamType", "stdin")]) if options.stdin else None
        outputs = [(STDOUT, await session.open_stream([("streamType", "stdout")])) if options.stdout else None,
                   (STDERR, await session.open_stream([("streamType", "stderr")])) if options.stderr else None]
        resize = await session.open_stream([("streamType", "resize")]) if options.tty else None
        copies = [asyncio.ensure_future(_copy_out(ws, channel, stream)) for channel, stream in filter(None, outputs)]
        status = asyncio.ensure_future(_read_all(error))
        client = asyncio.ensure_future(_copy_in(ws, stdin, resize))
        tasks = [*copies, status, client]
        finished: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*copies, status))
        await asyncio.wait({finished, client}, return_when=asyncio.FIRST_COMPLETED)
        if not finished.done():  # the client closed or went away: the session ends with it
            finished.cancel()
            return None
        if status.result():
            return bytes(status.result())
        if error.lost:  # the runtime always writes a Status: without one the session broke off
            return failure(500, "InternalError", "Internal error occurred: the connection to the container "
                                                 "runtime ended before the command's status")
        return SUCCESS
    finally:
        for task in [*tasks, reading]:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await session.close()


async def _copy_out(ws: WebSocket, channel: int, stream: Stream) -> None:
    prefix = bytes([channel])
    while data := await stream.read():
        await ws.send(prefix + data)


async def _read_all(stream: Stream) -> bytes:
    chunks = []
    while data := await stream.read():
        chunks.append(data)
    return b"".join(chunks)


async def _copy_in(ws: WebSocket, stdin: Stream | None, resize: Stream | None) -> None:
    """The client's messages to the SPDY streams, until it closes. Text messages count as their
    UTF-8 bytes, as upstream reads them (the Python client writes a str to stdin as text)."""
    while (message := await ws.receive()) is not None:
        if isinstance(message, str):
            message = message.encode()
        if not message:
            continue
        channel, data = message[0], message[1:]
        if channel == STREAM_CLOSE:
            if data[:1] == bytes([STDIN]) and stdin is not None:
                await stdin.close()
        elif channel == STDIN and stdin is not None:
            await stdin.write(data)
        elif channel == RESIZE and resize is not None:
            await resize.write(data)
