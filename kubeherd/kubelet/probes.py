"""Liveness, readiness and startup probes: one asyncio task per probe of a running container.

Design, as upstream's prober workers: a probe belongs to one container *instance* (its CRI
id); a restarted container gets fresh probes, starting from the initial results (readiness
false, startup false, liveness true). A probe counts consecutive successes and failures and
flips its result only at ``successThreshold``/``failureThreshold``; every flip calls
``on_change(pod uid)`` so the pod worker re-syncs — it restarts a container whose liveness
failed and recomputes Ready. Liveness and readiness wait for the startup probe to succeed.
Probes run exec through CRI ``ExecSync`` and connect to the pod IP for ``httpGet`` and
``tcpSocket``; ``grpc`` probes call the standard ``grpc.health.v1.Health/Check`` there (the
``service`` of the probe in the request) and pass only on ``SERVING``. Probes also run for
sidecars (init containers with ``restartPolicy: Always``), which report started and ready as
app containers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from .cri import CRIClient, CRIError, decode, encode
from .cri._proto import pb

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
USER_AGENT = "kube-probe/1.33"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING_STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


@dataclass(kw_only=True, slots=True)
class HealthCheckRequest:
    service: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class HealthCheckResponse:
    status: int = pb(1, 0, kind="int32")


def resolve_port(port: Any, container: Obj) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} not found in the container's ports")


async def http_probe(host: str, port: int, path: str, headers: list[Obj], scheme: str, timeout: float) -> bool:
    ssl_ctx: Any = None
    if scheme.upper() == "HTTPS":
        import ssl

        ssl_ctx = ssl.create_default_context()
        ssl_ctx.check_hostname = False
        ssl_ctx.verify_mode = ssl.CERT_NONE  # upstream does not verify probe certificates either
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ssl_ctx), timeout)
    try:
        head = f"GET {path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n" \
               "Accept: */*\r\nConnection: close\r\n"
        head += "".join(f"{h['name']}: {h['value']}\r\n" for h in headers)
        writer.write((head + "\r\n").encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        code = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
        return 200 <= code < 400
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def tcp_probe(host: str, port: int, timeout: float) -> bool:
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


async def grpc_probe(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """One health check; (passed, upstream's probe output)."""
    options = [("grpc.primary_user_agent", USER_AGENT)]
    async with grpc.aio.insecure_channel(f"{host}:{port}", options=options) as channel:
        check = channel.unary_unary(HEALTH_CHECK, request_serializer=encode,
                                    response_deserializer=lambda data: decode(HealthCheckResponse, data))
        try:
            response = await check(HealthCheckRequest(service=service), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, ("server does not implement the grpc health protocol (grpc.health.v1.Health): "
                               f"{exc.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {timeout:g}s"
            return False, f"rpc error: code = {code.name.title().replace('_', '')} desc = {exc.details()}"
    if response.status != 1:
        return False, f'service unhealthy (responded with "{SERVING_STATUSES.get(response.status, response.status)}")'
    return True, "service is serving"


@dataclass
class _Probe:
    uid: str
    container: str
    container_id: str
    kind: str
    spec: Obj
    result: bool
    task: asyncio.Task[None] | None = None
    successes: int = 0
    failures: int = 0
    failed: bool = False  # liveness/startup gave up: restart the container


@dataclass
class ProbeManager:
    cri: CRIClient
    on_change: Callable[[str], None]
    _probes: dict[tuple[str, str, str], _Probe] = field(default_factory=dict)

    def result(self, uid: str, container: str, kind: str, container_id: str) -> bool | None:
        probe = self._probes.get((uid, container, kind))
        if probe is None or probe.container_id != container_id:
            return None
        return probe.result

    def should_restart(self, uid: str, container: str, container_id: str) -> bool:
        """Whether this instance failed its liveness (or startup) probe and must be killed."""
        return any((p := self._probes.get((uid, container, kind))) is not None and p.container_id == container_id
                   and p.failed for kind in ("livenessProbe", "startupProbe"))

    def ensure(self, pod: Obj, container: Obj, container_id: str, pod_ip: str) -> None:
        """Run the probes of this running container instance (idempotent)."""
        uid = pod["metadata"]["uid"]
        for kind in KINDS:
            spec = container.get(kind)
            key = (uid, container["name"], kind)
            current = self._probes.get(key)
            if spec is None:
                if current is not None:
                    self._stop(key)
                continue
            if current is not None and current.container_id == container_id:
                continue
            if current is not None:
                self._stop(key)
            probe = _Probe(uid, container["name"], container_id, kind, spec, result=kind == "livenessProbe")
            probe.task = asyncio.ensure_future(self._run(probe, container, pod_ip))
            self._probes[key] = probe

    def _stop(self, key: tuple[str, str, str]) -> None:
        probe = self._probes.pop(key, None)
        if probe is not None and probe.task is not None:
            probe.task.cancel()

    def remove(self, uid: str, keep_ids: set[str] | None = None) -> None:
        """Stop the pod's probes (those of containers not in ``keep_ids``)."""
        for key, probe in list(self._probes.items()):
            if key[0] == uid and (keep_ids is None or probe.container_id not in keep_ids):
                self._stop(key)

    def stop_all(self) -> None:
        for key in list(self._probes):
            self._stop(key)

    def _started(self, probe: _Probe) -> bool:
        startup = self._probes.get((probe.uid, probe.container, "startupProbe"))
        return startup is None or startup.container_id != probe.container_id or startup.result

    async def _run(self, probe: _Probe, container: Obj, pod_ip: str) -> None:
        spec = probe.spec
        period = max(1, int(spec.get("periodSeconds") or 10))
        await asyncio.sleep(max(0, int(spec.get("initialDelaySeconds") or 0)))
        while True:
            if probe.kind == "startupProbe" and probe.result:
                return  # a startup probe stops once it succeeded
            if probe.kind != "startupProbe" and not self._started(probe):
                await asyncio.sleep(min(period, 1))
                continue
            ok = await self._once(spec, probe.container_id, container, pod_ip)
            if ok:
                probe.successes += 1
                probe.failures = 0
                threshold = int(spec.get("successThreshold") or 1)
                if not probe.result and probe.successes >= threshold:
                    probe.result = True
                    self.on_change(probe.uid)
            else:
                probe.failures += 1
                probe.successes = 0
                threshold = int(spec.get("failureThreshold") or 3)
                if probe.failures >= threshold:
                    if probe.kind == "readinessProbe":
                        if probe.result:
                            probe.result = False
                            self.on_change(probe.uid)
                    else:
                        probe.result = False
                        probe.failed = True
                        self.on_change(probe.uid)
                        return  # the container is restarted; its successor gets new probes
            await asyncio.sleep(period)

    async def _once(self, spec: Obj, container_id: str, container: Obj, pod_ip: str) -> bool:
        timeout = max(1, int(spec.get("timeoutSeconds") or 1))
        try:
            if "exec" in spec:
                result = await self.cri.exec_sync(container_id, list(spec["exec"].get("command") or []), timeout)
                return result.exit_code == 0
            if "httpGet" in spec:
                get = spec["httpGet"]
                return await http_probe(get.get("host") or pod_ip, resolve_port(get.get("port"), container),
                                        get.get("path", "/"), get.get("httpHeaders") or [],
                                        get.get("scheme", "HTTP"), timeout)
            if "tcpSocket" in spec:
                sock = spec["tcpSocket"]
                return await tcp_probe(sock.get("host") or pod_ip, resolve_port(sock.get("port"), container), timeout)
            if "grpc" in spec:
                rpc = spec["grpc"]
                ok, output = await grpc_probe(pod_ip, int(rpc.get("port") or 0), str(rpc.get("service") or ""),
                                              timeout)
                if not ok:
                    log.debug("grpc probe of %s: %s", container.get("name"), output)
                return ok
            return True
        except (OSError, TimeoutError, ValueError, CRIError) as exc:
            log.debug("probe failed: %s", exc)
            return False
