"""SPDY/3.1, as much of it as a client of the runtime's streaming server needs.

kubeherd splices SPDY unparsed almost everywhere (NODE-PROTOCOLS.md §3); only the
``v5.channel.k8s.io`` translator (:mod:`kubeherd.apiserver.remotecommand`) must open SPDY
streams itself, as the client of the kubelet and containerd. This module is that client: a
frame codec (pure functions, unit-tested), the header block codec (zlib with the SPDY/3
dictionary, one compression context per direction for the connection's lifetime) and a small
asyncio session that opens streams and routes frames to them.

Flow control is deliberately absent: the peers Kubernetes uses (moby/spdystream) never send
WINDOW_UPDATE and ignore ours, so waiting on send windows would stall. SETTINGS and
WINDOW_UPDATE are read and ignored; PINGs are echoed; streams the server opens are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

# the SPDY/3 header compression dictionary (draft 3.1, §2.6.10.1): length-prefixed header names and
# values that HTTP headers often hold, then a run of common value fragments
_DICTIONARY_WORDS = (
    "options|head|post|put|delete|trace|accept|accept-charset|accept-encoding|accept-language|accept-ranges|age|"
    "allow|authorization|cache-control|connection|content-base|content-encoding|content-language|content-length|"
    "content-location|content-md5|content-range|content-type|date|etag|expect|expires|from|host|if-match|"
    "if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|location|max-forwards|pragma|"
    "proxy-authenticate|proxy-authorization|range|referer|retry-after|server|te|trailer|transfer-encoding|upgrade|"
    "user-agent|vary|via|warning|www-authenticate|method|get|status|200 OK|version|HTTP/1.1|url|public|set-cookie|"
    "keep-alive|origin")
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _dictionary() -> bytes:
    words = [w.encode() for w in _DICTIONARY_WORDS.split("|")]
    return b"".join(struct.pack(">I", len(w)) + w for w in words) + _DICTIONARY_TAIL.encode()


DICTIONARY = _dictionary()  # 1423 bytes, Adler-32 0xe3c6a7c2
VERSION = 3

# control frame types
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
# RST_STREAM status codes used here
REFUSED_STREAM, CANCEL = 3, 5
GOAWAY_OK = 0
MAX_LENGTH = 0xFFFFFF


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    @property
    def stream_id(self) -> int:
        """The stream a SYN_STREAM/SYN_REPLY/RST_STREAM/HEADERS/WINDOW_UPDATE frame is about."""
        return int(struct.unpack_from(">I", self.payload)[0] & 0x7FFFFFFF)


Frame = DataFrame | ControlFrame


# ------------------------------------------------------------------ frames out
def control_frame(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame payload too large")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    """One DATA frame per call; ``data`` longer than a frame holds is split."""
    out = []
    for start in range(0, max(len(data), 1), MAX_LENGTH):
        chunk = data[start:start + MAX_LENGTH]
        last = start + MAX_LENGTH >= len(data)
        flags = FLAG_FIN if fin and last else 0
        out.append(struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(chunk)) + chunk)
    return b"".join(out)


def rst_stream(stream_id: int, status: int) -> bytes:
    return control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def ping(ping_id: int) -> bytes:
    return control_frame(PING, 0, struct.pack(">I", ping_id))


def goaway(last_good_stream: int, status: int = GOAWAY_OK) -> bytes:
    return control_frame(GOAWAY, 0, struct.pack(">II", last_good_stream, status))


# ------------------------------------------------------------------ frames in
class FrameReader:
    """Splits a byte stream into frames; feed it what arrives, take whole frames out."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame]:
        self.buffer += data
        while len(self.buffer) >= 8:
            first, second = struct.unpack_from(">II", self.buffer)
            length = second & 0xFFFFFF
            if len(self.buffer) < 8 + length:
                return
            flags = second >> 24
            payload = bytes(self.buffer[8:8 + length])
            del self.buffer[:8 + length]
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                yield ControlFrame(first & 0xFFFF, flags, payload)
            else:
                yield DataFrame(first, flags, payload)


# ------------------------------------------------------------------ header blocks
class HeaderCodec:
    """Header blocks of one connection: a zlib context per direction, kept across blocks."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY,
                                          zdict=DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: list[tuple[str, str]]) -> bytes:
        """A header block: names lower-cased, values of a repeated name joined with NUL."""
        merged: dict[str, list[str]] = {}
        for name, value in headers:
            merged.setdefault(name.lower(), []).append(value)
        raw = [struct.pack(">I", len(merged))]
        for name, values in merged.items():
            key, joined = name.encode(), "\0".join(values).encode()
            raw += [struct.pack(">I", len(key)), key, struct.pack(">I", len(joined)), joined]
        return self._compress.compress(b"".join(raw)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        try:
            raw = self._decompress.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"bad header block: {exc}") from None
        try:
            (count,) = struct.unpack_from(">I", raw)
            offset, headers = 4, []
            for _ in range(count):
                (size,) = struct.unpack_from(">I", raw, offset)
                name = raw[offset + 4:offset + 4 + size].decode()
                offset += 4 + size
                (size,) = struct.unpack_from(">I", raw, offset)
                value = raw[offset + 4:offset + 4 + size].decode()
                offset += 4 + size
                headers += [(name, v) for v in value.split("\0")]
        except (struct.error, UnicodeDecodeError) as exc:
            raise ProtocolError(f"bad header block: {exc}") from None
        return headers


def syn_stream(codec: HeaderCodec, stream_id: int, headers: list[tuple[str, str]], fin: bool = False) -> bytes:
    """SYN_STREAM: stream id, no associated stream, priority 0, slot 0, then the header block."""
    payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + codec.encode(headers)
    return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, payload)


def header_block(frame: ControlFrame) -> bytes:
    """The compressed header block of a SYN_STREAM, SYN_REPLY or HEADERS frame."""
    return frame.payload[10:] if frame.type == SYN_STREAM else frame.payload[4:]


# ------------------------------------------------------------------ the client session
@dataclass(eq=False)
class Stream:
    """One client-opened stream: read what the server sends, write and half-close ours."""

    session: ClientSession
    id: int
    headers: list[tuple[str, str]]
    received: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(maxsize=16))
    remote_closed: bool = False
    local_closed: bool = False
    lost: bool = False  # it ended because the connection did, not by the server's FIN or reset
    reply: list[tuple[str, str]] | None = None  # the SYN_REPLY's headers, once it came

    async def read(self) -> bytes:
        """The next data the server sent; ``b""`` once it finished (FIN, reset or connection end)."""
        if self.remote_closed and self.received.empty():
            return b""
        data = await self.received.get()
        if data is None:
            self.remote_closed = True
            return b""
        return data

    async def write(self, data: bytes) -> None:
        if data and not self.local_closed:
            await self.session.send(data_frame(self.id, data))

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (how stdin's end is signalled)."""
        if not self.local_closed:
            self.local_closed = True
            await self.session.send(data_frame(self.id, b"", fin=True))


class ClientSession:
    """A SPDY/3.1 client connection over an asyncio stream pair; :meth:`run` reads it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.codec = HeaderCodec()
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.goaway = False

    async def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def open_stream(self, headers: list[tuple[str, str]]) -> Stream:
        stream = Stream(self, self.next_id, headers)
        self.streams[stream.id] = stream
        self.next_id += 2
        await self.send(syn_stream(self.codec, stream.id, headers))
        return stream

    async def run(self) -> None:
        """Read frames until the connection ends; then every stream is ended."""
        frames = FrameReader()
        try:
            while data := await self.reader.read(64 * 1024):
                for frame in frames.feed(data):
                    await self._dispatch(frame)
        except (ConnectionError, ProtocolError):
            pass
        finally:
            for stream in self.streams.values():
                stream.lost = not stream.remote_closed
                await self._finish(stream)

    async def _finish(self, stream: Stream) -> None:
        if not stream.remote_closed:
            stream.remote_closed = True
            await stream.received.put(None)

    async def _dispatch(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None or stream.remote_closed:
                return
            if frame.data:
                await stream.received.put(frame.data)
            if frame.fin:
                await self._finish(stream)
            return
        if frame.type in (SYN_STREAM, SYN_REPLY, HEADERS):
            headers = self.codec.decode(header_block(frame))  # always, to keep the zlib context in step
            stream = self.streams.get(frame.stream_id)
            if frame.type == SYN_STREAM:
                await self.send(rst_stream(frame.stream_id, REFUSED_STREAM))
            elif stream is not None:
                if frame.type == SYN_REPLY:
                    stream.reply = headers
                if frame.fin:
                    await self._finish(stream)
        elif frame.type == RST_STREAM:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                await self._finish(stream)
        elif frame.type == PING and frame.payload[3:4] and frame.payload[3] % 2 == 0:
            await self.send(control_frame(PING, 0, frame.payload))  # the server's (even) pings come back
        elif frame.type == GOAWAY:
            self.goaway = True

    async def close(self) -> None:
        """Say goodbye and close the connection."""
        with contextlib.suppress(Exception):
            await self.send(goaway(0))
        self.writer.close()
