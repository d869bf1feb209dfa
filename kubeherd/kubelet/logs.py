"""Container logs: read the CRI log files containerd writes, with ``kubectl logs`` options.

Design: containerd writes one line per output chunk, ``<RFC3339Nano> <stream> <P|F> <bytes>``
(NODE-PROTOCOLS.md §5), to ``<pod log dir>/<container>/<restartCount>.log``. Reading is the
kubelet's job, as upstream's ``pkg/kubelet/kuberuntime/logs``: parse each line, join ``P``
(partial) pieces, filter by ``sinceTime``, keep the last ``tailLines``, prefix timestamps on
request, stop after ``limitBytes``. Following polls the file (cheap, and robust against the
runtime reopening it) until the container is no longer running and the file is drained; when
log rotation renames the file away and the runtime reopens a new one, the follower drains the
old file and moves on to the new one. Rotated files are not read (as upstream).

The reader is an async generator of byte chunks, so the apiserver can stream it as a chunked
response without knowing anything about files or CRI.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FOLLOW_POLL = 0.1  # seconds between looks at a followed file
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class LogOptions:
    """The ``PodLogOptions`` a reader honours (``container`` and ``previous`` pick the file)."""

    follow: bool = False
    tail_lines: int | None = None
    since_time: datetime.datetime | None = None  # from sinceTime or now - sinceSeconds
    timestamps: bool = False
    limit_bytes: int | None = None


@dataclass(frozen=True)
class LogLine:
    time: str  # as written (RFC3339Nano, trailing zeros trimmed)
    stream: str  # stdout | stderr
    content: bytes  # including the newline of a complete line


def parse_time(text: str) -> datetime.datetime | None:
    """An RFC 3339 time with up to nanosecond precision (Python keeps microseconds)."""
    try:
        head, dot, frac = text.partition(".")
        if dot:
            digits = "".join(ch for ch in frac if ch.isdigit())
            zone = frac[len(digits):]
            text = f"{head}.{(digits + '000000')[:6]}{zone}"
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class LineParser:
    """Turns raw CRI log bytes into complete :class:`LogLine` s, joining partial pieces."""

    def __init__(self) -> None:
        self._buffer = b""
        self._partial: list[bytes] = []
        self._partial_head = ("", "")  # time and stream of the last partial piece

    def feed(self, data: bytes) -> list[LogLine]:
        self._buffer += data
        lines: list[LogLine] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return lines
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            parts = raw.split(b" ", 3)
            if len(parts) < 3:
                continue  # not a CRI line; skip as upstream does
            time_b, stream_b, tag = parts[0], parts[1], parts[2]
            body = parts[3] if len(parts) == 4 else b""
            if tag == b"P":
                self._partial.append(body)
                self._partial_head = (time_b.decode(errors="replace"), stream_b.decode(errors="replace"))
                continue
            content = b"".join(self._partial) + body + b"\n"
            self._partial = []
            lines.append(LogLine(time_b.decode(errors="replace"), stream_b.decode(errors="replace"), content))


    def flush(self) -> list[LogLine]:
        """The pieces of a line never finished (output that did not end in a newline): shown
        as they are, without one, as upstream's reader shows them."""
        if not self._partial:
            return []
        line = LogLine(*self._partial_head, b"".join(self._partial))
        self._partial = []
        return [line]


def render(line: LogLine, options: LogOptions) -> bytes:
    if options.timestamps:
        return line.time.encode() + b" " + line.content
    return line.content


def _wanted(line: LogLine, options: LogOptions) -> bool:
    if options.since_time is None:
        return True
    when = parse_time(line.time)
    return when is None or when >= options.since_time


def _replaced(f: BinaryIO, path: Path) -> bool:
    """Whether ``path`` now names another file than the open ``f`` (the log was rotated)."""
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except OSError:
        return False


async def read_log(path: Path, options: LogOptions,
                   still_running: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
    """Yield the rendered log of one container instance, following it if asked.

    ``still_running`` says whether the container may still write; following ends once it says
    no and the file has been read to its end.
    """
    remaining = options.limit_bytes if options.limit_bytes and options.limit_bytes > 0 else None
    parser = LineParser()
    try:
        f = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        return
    try:
        # the backlog: all of the file now, tail applied
        data = await asyncio.to_thread(f.read)
        lines = parser.feed(data) + ([] if options.follow else parser.flush())
        backlog = [line for line in lines if _wanted(line, options)]
        if options.tail_lines is not None and options.tail_lines >= 0:
            backlog = list(deque(backlog, maxlen=options.tail_lines)) if options.tail_lines else []
        chunk = b"".join(render(line, options) for line in backlog)
        if remaining is not None:
            chunk = chunk[:remaining]
            remaining -= len(chunk)
        if chunk:
            yield chunk
        if not options.follow or remaining == 0:
            return
        while True:
            data = await asyncio.to_thread(f.read, READ_CHUNK)
            if data:
                chunk = b"".join(render(line, options) for line in parser.feed(data) if _wanted(line, options))
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                if chunk:
                    yield chunk
                if remaining == 0:
                    return
                continue
            if still_running is not None and not await still_running():
                # one last read: the container may have written just before it exited
                data = await asyncio.to_thread(f.read)
                tail = b"".join(render(line, options) for line in parser.feed(data) + parser.flush()
                                if _wanted(line, options))
                if remaining is not None:
                    tail = tail[:remaining]
                if tail:
                    yield tail
                return
            if still_running is None and not os.path.exists(path):
                return
            if await asyncio.to_thread(_replaced, f, path):
                # rotated: the runtime now writes to a new file at the same path
                f.close()
                try:
                    f = await asyncio.to_thread(open, path, "rb")
                except FileNotFoundError:
                    return
                continue
            await asyncio.sleep(FOLLOW_POLL)
    finally:
        f.close()
