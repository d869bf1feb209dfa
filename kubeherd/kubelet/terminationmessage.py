"""Termination messages: the file a container may leave its last words in, and the log fallback.

Upstream's design (``kuberuntime_container.go``), kept here: every container instance whose
``terminationMessagePath`` is set gets its own empty host file,
``<pod dir>/containers/<container>/<random id>``, made mode 0666 so that a container running as
any user can write it, and bind-mounted read-write at that path. The path and the
``terminationMessagePolicy`` ride on the container as annotations, so the message is read back
from the runtime alone (a restarted kubelet reads it the same way): once the instance has
exited, the mount whose container path is the annotated one names the file, of which the last
4096 bytes are the message. With ``FallbackToLogsOnError`` a container that failed (exit code
not 0) and left the file empty gets the end of its log instead: the last 80 lines, at most the
last 2048 bytes of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .cri import ContainerState, ContainerStatus, Mount
from .kuberuntime import TERMINATION_MESSAGE_PATH, TERMINATION_MESSAGE_POLICY

Obj = dict[str, Any]
DEFAULT_PATH = "/dev/termination-log"
MAX_MESSAGE_LENGTH = 4096  # bytes of the file
MAX_LOG_LINES = 80  # log lines of the fallback
MAX_LOG_LENGTH = 2048  # bytes of the fallback
_BLOCK = 8192


def message_path(container: Obj) -> str:
    """The container's ``terminationMessagePath`` (API defaulting sets it; "" turns it off)."""
    path = container.get("terminationMessagePath", DEFAULT_PATH)
    return str(path) if path else ""


def message_mount(container_dir: Path, container: Obj) -> Mount | None:
    """Make the host file of a new instance of ``container`` under ``container_dir`` and return
    its mount, or None when the container has no termination message path (blocking)."""
    path = message_path(container)
    if not path:
        return None
    container_dir.mkdir(parents=True, exist_ok=True)
    host = container_dir / os.urandom(4).hex()
    host.touch()
    os.chmod(host, 0o666)  # whatever user the container runs as may write it
    return Mount(container_path=path, host_path=str(host), readonly=False)


def message_file(status: ContainerStatus) -> Path | None:
    """The host file of an instance's termination message, from its mounts."""
    path = status.annotations.get(TERMINATION_MESSAGE_PATH, "")
    if not path:
        return None
    return next((Path(m.host_path) for m in status.mounts if m.container_path == path), None)


def read_message(status: ContainerStatus) -> str:
    """The termination message of an exited instance: its file, or the end of its log when the
    policy says so (blocking)."""
    if status.state != ContainerState.CONTAINER_EXITED:
        return ""
    fallback = (status.annotations.get(TERMINATION_MESSAGE_POLICY) == "FallbackToLogsOnError"
                and status.exit_code != 0 and status.reason != "ContainerCannotRun")
    host = message_file(status)
    if host is not None:
        try:
            data = _read_end(host, MAX_MESSAGE_LENGTH)
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            return f"Error on reading termination log {host}: {exc}"
        if data or not fallback:
            return data.decode(errors="replace")
    if not fallback or not status.log_path:
        return ""
    try:
        return log_tail(Path(status.log_path), MAX_LOG_LINES, MAX_LOG_LENGTH).decode(errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"Error on reading termination message from logs: {exc}"


def _read_end(path: Path, limit: int) -> bytes:
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - limit))
        return f.read(limit)


def log_tail(path: Path, lines: int, limit: int) -> bytes:
    """What the last ``lines`` lines of a CRI log file say (both streams; a partial line's
    piece without its newline, as upstream's reader writes it), the last ``limit`` bytes of it."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        start, data = end, b""
        while start > 0 and data.count(b"\n") <= lines:
            start = max(0, start - _BLOCK)
            f.seek(start)
            data = f.read(end - start)
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    if start > 0:
        raw = raw[1:]  # the first piece may be the end of a line that started before the block
    out = bytearray()
    for line in raw[-lines:]:
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            continue  # not a CRI log line
        body = parts[3] if len(parts) == 4 else b""
        out += body + (b"\n" if parts[2] == b"F" else b"")
    return bytes(out[-limit:])
