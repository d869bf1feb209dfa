"""Container lifecycle hooks (postStart, preStop): exec, httpGet and sleep handlers.

Upstream's semantics: a handler succeeds or returns the message the kubelet records as the
``FailedPostStartHook``/``FailedPreStopHook`` event. An exec handler fails when the command
exits non-zero; an httpGet handler only when no HTTP response comes back (the status code is
not looked at); a sleep handler just waits. postStart handlers have no deadline of their own;
preStop handlers are cut off at the grace period by the caller (``timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from typing import Any

from .cri import CRIClient, CRIError
from .probes import resolve_port
from .security import pod_ref

log = logging.getLogger(__name__)
Obj = dict[str, Any]
USER_AGENT = "kube-lifecycle/1.33"
HTTP_TIMEOUT = 30.0  # an unanswered httpGet hook without a grace period to bound it


def _go_list(items: list[Any]) -> str:
    return "[" + " ".join(str(i) for i in items) + "]"


async def http_get(host: str, port: int, path: str, headers: list[Obj], scheme: str, timeout: float) -> None:
    """One GET; returns once a status line arrives, raises ``OSError``/``TimeoutError`` otherwise."""
    ctx: ssl.SSLContext | None = None
    if scheme.upper() == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    try:
        target = path if path.startswith("/") else "/" + path
        head = (f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n"
                "Connection: close\r\n")
        head += "".join(f"{h['name']}: {h['value']}\r\n" for h in headers)
        writer.write((head + "\r\n").encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line.startswith(b"HTTP/"):
            raise OSError(f"malformed HTTP response {line[:40]!r}")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run_handler(cri: CRIClient, pod: Obj, container: Obj, container_id: str, handler: Obj, pod_ip: str,
                      timeout: float | None = None) -> str | None:
    """Run one lifecycle handler; ``None`` when it succeeded, else the message to record."""
    name = container["name"]
    if "exec" in handler:
        command = [str(c) for c in handler["exec"].get("command") or []]
        try:
            result = await cri.exec_sync(container_id, command, int(timeout) if timeout else 0)
        except CRIError as exc:
            error, output = exc.details, ""
        else:
            if result.exit_code == 0:
                return None
            output = (result.stdout + result.stderr).decode(errors="replace")
            error = f"command '{' '.join(command)}' exited with {result.exit_code}: {result.stderr.decode(errors='replace')}"
        return (f'Exec lifecycle hook ({_go_list(command)}) for Container "{name}" in Pod "{pod_ref(pod)}" '
                f"failed - error: {error}, message: {json.dumps(output, ensure_ascii=False)}")
    if "httpGet" in handler:
        get = handler["httpGet"]
        path = str(get.get("path") or "")
        try:
            port = 80 if get.get("port") in (None, "") else resolve_port(get.get("port"), container)
            host = get.get("host") or pod_ip
            if not host:
                raise OSError("failed to find networking container: the pod has no IP")
            await http_get(host, port, path, get.get("httpHeaders") or [], get.get("scheme") or "HTTP",
                           timeout or HTTP_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
            return f'HTTP lifecycle hook ({path}) for Container "{name}" in Pod "{pod_ref(pod)}" failed - error: {error}'
        return None
    if "sleep" in handler:
        seconds = float(handler["sleep"].get("seconds") or 0)
        await asyncio.sleep(min(seconds, timeout) if timeout is not None else seconds)
        return None
    return f"Cannot run handler: invalid handler: {handler}"
