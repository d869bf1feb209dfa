"""An asyncio CRI v1 client: the kubelet's only way to touch containers and images.

Design:

* **No generated stubs.** Each RPC is a ``grpc.aio`` unary-unary call on the method path
  (``/runtime.v1.RuntimeService/RunPodSandbox``) with our own serializer (``_proto.encode``)
  and deserializer (``_proto.decode`` of the response dataclass). Nothing is compiled at
  install time and no ``.proto`` file is shipped.
* **One client for both services.** containerd serves ``RuntimeService`` and
  ``ImageService`` on the same socket, and the kubelet never wants one without the other.
* **Callers see what they mean**, not the envelopes: ``run_pod_sandbox(config)`` returns the
  sandbox id, ``pod_sandbox_status(id)`` the status (with the verbose ``info`` map attached),
  ``image_status(ref)`` ``None`` when the image is absent, ``exec_sync`` the output and exit
  code. Errors are :class:`CRIError` carrying the gRPC status code, so "not found" is a test
  on a value, not string matching.
* **Deadlines as upstream**: every call gets the runtime request timeout (2 minutes by
  default); calls that wait on a container get their own timeout added (``stop_container``,
  ``exec_sync``); ``pull_image`` has none unless the caller gives one.
* The channel is created lazily in the running event loop (grpc.aio binds a channel to the loop
  it was made in), so a client can be constructed anywhere. Messages up to 16 MiB, as upstream.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import time
from typing import Any, TypeVar

import grpc
import grpc.aio

from . import _proto
from .messages import (
    AttachRequest,
    AuthConfig,
    Container,
    ContainerConfig,
    ContainerFilter,
    ContainerIdRequest,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatsResponse,
    ContainerStatus,
    ContainerStatusRequest,
    ContainerStatusResponse,
    CreateContainerRequest,
    Empty,
    ExecRequest,
    ExecSyncRequest,
    ExecSyncResult,
    FilesystemUsage,
    Image,
    ImageFilter,
    ImageFsInfoResponse,
    ImageRefResponse,
    ImageSpec,
    ImageStatusRequest,
    ImageStatusResponse,
    LinuxContainerResources,
    ListContainersRequest,
    ListContainersResponse,
    ListContainerStatsRequest,
    ListContainerStatsResponse,
    ListImagesRequest,
    ListImagesResponse,
    ListPodSandboxRequest,
    ListPodSandboxResponse,
    ListPodSandboxStatsRequest,
    ListPodSandboxStatsResponse,
    NetworkConfig,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxIdRequest,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatsResponse,
    PodSandboxStatus,
    PodSandboxStatusRequest,
    PodSandboxStatusResponse,
    PullImageRequest,
    RemoveImageRequest,
    RunPodSandboxRequest,
    RuntimeConfig,
    RuntimeStatus,
    StatusRequest,
    StatusResponse,
    UpdateContainerResourcesRequest,
    UpdateRuntimeConfigRequest,
    UrlResponse,
    VersionInfo,
    VersionRequest,
)

R = TypeVar("R")

RUNTIME_SERVICE = "/runtime.v1.RuntimeService/"
IMAGE_SERVICE = "/runtime.v1.ImageService/"
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0  # the kubelet's --runtime-request-timeout default


class _Default(enum.Enum):
    TIMEOUT = "default"


_DEFAULT = _Default.TIMEOUT  # "the client's timeout", as opposed to None ("no deadline")


class CRIError(Exception):
    """A CRI call the runtime refused or could not be reached for.

    ``code`` is the gRPC status (``grpc.StatusCode.NOT_FOUND`` ...), ``details`` the runtime's
    message, ``method`` the RPC name.
    """

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method}: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details

    @property
    def not_found(self) -> bool:
        return self.code == grpc.StatusCode.NOT_FOUND

    @property
    def unavailable(self) -> bool:
        """The runtime is not answering (socket missing, containerd not started or restarting)."""
        return self.code == grpc.StatusCode.UNAVAILABLE


def grpc_target(endpoint: str) -> str:
    """A gRPC target for ``endpoint``: a socket path, ``unix:///path`` or ``unix:/path``."""
    if endpoint.startswith("unix://"):
        return endpoint
    if endpoint.startswith("unix:"):
        return "unix://" + endpoint[len("unix:"):]
    if endpoint.startswith("/"):
        return "unix://" + endpoint
    raise ValueError(f"unsupported CRI endpoint {endpoint!r}: give a unix socket path or unix:///path")


def _spec(image: str | ImageSpec) -> ImageSpec:
    return image if isinstance(image, ImageSpec) else ImageSpec(image=image)


class CRIClient:
    """The CRI v1 ``RuntimeService`` and ``ImageService`` of one runtime endpoint.

    Use as ``async with CRIClient(path) as cri: ...`` or call :meth:`close` when done.
    """

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.target = grpc_target(endpoint)
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._callables: dict[str, Any] = {}

    async def __aenter__(self) -> CRIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._callables.clear()
            await channel.close()

    def _channel_now(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
                ("grpc.max_send_message_length", MAX_MESSAGE_SIZE),
                # the authority of a unix socket is meaningless; keep it valid for HTTP/2
                ("grpc.default_authority", "localhost"),
                # reconnect quickly to a runtime that is (re)starting: gRPC's default first backoff is 1 s
                ("grpc.initial_reconnect_backoff_ms", 50),
                ("grpc.min_reconnect_backoff_ms", 50),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ])
        return self._channel

    async def _call(self, path: str, request: Any, response_type: type[R],
                    timeout: float | None | _Default = _DEFAULT) -> R:
        """One unary RPC; ``timeout`` in seconds, ``None`` for no deadline, default the client's."""
        method = self._callables.get(path)
        if method is None:
            method = self._callables[path] = self._channel_now().unary_unary(
                path, request_serializer=_proto.encode,
                response_deserializer=functools.partial(_proto.decode, response_type))
        deadline = self.timeout if isinstance(timeout, _Default) else timeout
        try:
            response: R = await method(request, timeout=deadline)
        except grpc.aio.AioRpcError as e:
            raise CRIError(path.rsplit("/", 1)[1], e.code(), e.details() or "") from None
        return response

    async def wait_ready(self, timeout: float = 30.0, interval: float = 0.05) -> VersionInfo:
        """Retry :meth:`version` until the runtime answers (it may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self._call(RUNTIME_SERVICE + "Version", VersionRequest(version="v1"), VersionInfo,
                                        timeout=max(0.2, min(2.0, deadline - time.monotonic())))
            except CRIError as e:
                if time.monotonic() >= deadline:
                    raise CRIError("Version", e.code, f"runtime at {self.endpoint} not ready after "
                                   f"{timeout:g}s: {e.details}") from None
            await asyncio.sleep(interval)

    # --- RuntimeService: runtime -----------------------------------------------------------

    async def version(self) -> VersionInfo:
        """Runtime name and version (``containerd``, ``1.6.20~ds1``) and the CRI API version (``v1``)."""
        return await self._call(RUNTIME_SERVICE + "Version", VersionRequest(version="v1"), VersionInfo)

    async def status(self, *, verbose: bool = False) -> RuntimeStatus:
        """The ``RuntimeReady`` and ``NetworkReady`` conditions (``NetworkReady`` is false until
        a CNI config exists); with ``verbose`` the runtime's ``info`` map is attached."""
        resp = await self._call(RUNTIME_SERVICE + "Status", StatusRequest(verbose=verbose), StatusResponse)
        status = resp.status or RuntimeStatus()
        status.info = resp.info
        return status

    async def update_runtime_config(self, pod_cidr: str) -> None:
        await self._call(RUNTIME_SERVICE + "UpdateRuntimeConfig", UpdateRuntimeConfigRequest(
            runtime_config=RuntimeConfig(network_config=NetworkConfig(pod_cidr=pod_cidr))), Empty)

    # --- RuntimeService: pod sandboxes -----------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str:
        """Create and start a sandbox (pause container + network); returns its id."""
        resp = await self._call(RUNTIME_SERVICE + "RunPodSandbox",
                                RunPodSandboxRequest(config=config, runtime_handler=runtime_handler),
                                PodSandboxIdRequest)
        return resp.pod_sandbox_id

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Kill every container of the sandbox and tear down its network. Idempotent."""
        await self._call(RUNTIME_SERVICE + "StopPodSandbox", PodSandboxIdRequest(pod_sandbox_id=pod_sandbox_id),
                         Empty)

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Remove a stopped sandbox and its containers. Idempotent."""
        await self._call(RUNTIME_SERVICE + "RemovePodSandbox",
                         PodSandboxIdRequest(pod_sandbox_id=pod_sandbox_id), Empty)

    async def pod_sandbox_status(self, pod_sandbox_id: str, *, verbose: bool = False) -> PodSandboxStatus:
        """State, pod IPs (``status.network.ip``), namespaces; ``info`` when ``verbose``.
        Raises :class:`CRIError` (``not_found``) for an unknown id."""
        resp = await self._call(RUNTIME_SERVICE + "PodSandboxStatus",
                                PodSandboxStatusRequest(pod_sandbox_id=pod_sandbox_id, verbose=verbose),
                                PodSandboxStatusResponse)
        status = resp.status or PodSandboxStatus()
        status.info = resp.info
        return status

    async def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]:
        resp = await self._call(RUNTIME_SERVICE + "ListPodSandbox", ListPodSandboxRequest(filter=filter),
                                ListPodSandboxResponse)
        return resp.items

    # --- RuntimeService: containers --------------------------------------------------------

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig,
                               sandbox_config: PodSandboxConfig) -> str:
        """Create (not start) a container in a sandbox; returns its id."""
        resp = await self._call(RUNTIME_SERVICE + "CreateContainer", CreateContainerRequest(
            pod_sandbox_id=pod_sandbox_id, config=config, sandbox_config=sandbox_config), ContainerIdRequest)
        return resp.container_id

    async def start_container(self, container_id: str) -> None:
        await self._call(RUNTIME_SERVICE + "StartContainer", ContainerIdRequest(container_id=container_id), Empty)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after ``timeout`` seconds (0: at once)."""
        await self._call(RUNTIME_SERVICE + "StopContainer",
                         ContainerIdRequest(container_id=container_id, timeout=timeout), Empty,
                         timeout=self.timeout + max(0, timeout))

    async def remove_container(self, container_id: str) -> None:
        await self._call(RUNTIME_SERVICE + "RemoveContainer", ContainerIdRequest(container_id=container_id), Empty)

    async def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]:
        resp = await self._call(RUNTIME_SERVICE + "ListContainers", ListContainersRequest(filter=filter),
                                ListContainersResponse)
        return resp.containers

    async def container_status(self, container_id: str, *, verbose: bool = False) -> ContainerStatus:
        """State, exit code, reason, timestamps, log path; ``info`` when ``verbose``.
        Raises :class:`CRIError` (``not_found``) for an unknown id."""
        resp = await self._call(RUNTIME_SERVICE + "ContainerStatus",
                                ContainerStatusRequest(container_id=container_id, verbose=verbose),
                                ContainerStatusResponse)
        status = resp.status or ContainerStatus()
        status.info = resp.info
        return status

    async def update_container_resources(self, container_id: str, linux: LinuxContainerResources,
                                         annotations: dict[str, str] | None = None) -> None:
        await self._call(RUNTIME_SERVICE + "UpdateContainerResources", UpdateContainerResourcesRequest(
            container_id=container_id, linux=linux, annotations=annotations or {}), Empty)

    async def reopen_container_log(self, container_id: str) -> None:
        """Make the runtime reopen the container's log file (after the kubelet rotated it)."""
        await self._call(RUNTIME_SERVICE + "ReopenContainerLog", ContainerIdRequest(container_id=container_id),
                         Empty)

    # --- RuntimeService: exec, attach, port-forward ----------------------------------------

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int = 0) -> ExecSyncResult:
        """Run ``cmd`` in the container and wait for it (``timeout`` seconds, 0 = no limit)."""
        return await self._call(RUNTIME_SERVICE + "ExecSync",
                                ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout),
                                ExecSyncResult, timeout=(self.timeout + timeout) if timeout > 0 else None)

    async def exec(self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False,
                   stdout: bool = True, stderr: bool | None = None) -> str:
        """The single-use streaming URL (SPDY/WebSocket, NODE-PROTOCOLS.md §3) of an exec.
        ``stderr`` defaults to ``not tty`` (a TTY merges it into stdout; the runtime refuses both)."""
        resp = await self._call(RUNTIME_SERVICE + "Exec", ExecRequest(
            container_id=container_id, cmd=cmd, tty=tty, stdin=stdin, stdout=stdout,
            stderr=(not tty) if stderr is None else stderr), UrlResponse)
        return resp.url

    async def attach(self, container_id: str, *, stdin: bool = False, tty: bool = False, stdout: bool = True,
                     stderr: bool | None = None) -> str:
        """The single-use streaming URL of an attach to the container's main process
        (``tty`` must match the container's config; ``stderr`` defaults to ``not tty``)."""
        resp = await self._call(RUNTIME_SERVICE + "Attach", AttachRequest(
            container_id=container_id, stdin=stdin, tty=tty, stdout=stdout,
            stderr=(not tty) if stderr is None else stderr), UrlResponse)
        return resp.url

    async def port_forward(self, pod_sandbox_id: str, ports: list[int] | None = None) -> str:
        """The single-use streaming URL of a port-forward into the sandbox's network namespace."""
        resp = await self._call(RUNTIME_SERVICE + "PortForward", PodSandboxIdRequest(
            pod_sandbox_id=pod_sandbox_id, port=list(ports or [])), UrlResponse)
        return resp.url

    # --- RuntimeService: stats -------------------------------------------------------------

    async def container_stats(self, container_id: str) -> ContainerStats:
        resp = await self._call(RUNTIME_SERVICE + "ContainerStats", ContainerIdRequest(container_id=container_id),
                                ContainerStatsResponse)
        return resp.stats or ContainerStats()

    async def list_container_stats(self, filter: ContainerStatsFilter | None = None) -> list[ContainerStats]:
        """Stats of every stored container (exited ones: attributes and writable layer only)."""
        resp = await self._call(RUNTIME_SERVICE + "ListContainerStats", ListContainerStatsRequest(filter=filter),
                                ListContainerStatsResponse)
        return resp.stats

    async def pod_sandbox_stats(self, pod_sandbox_id: str) -> PodSandboxStats:
        resp = await self._call(RUNTIME_SERVICE + "PodSandboxStats",
                                PodSandboxIdRequest(pod_sandbox_id=pod_sandbox_id), PodSandboxStatsResponse)
        return resp.stats or PodSandboxStats()

    async def list_pod_sandbox_stats(self, filter: PodSandboxStatsFilter | None = None) -> list[PodSandboxStats]:
        resp = await self._call(RUNTIME_SERVICE + "ListPodSandboxStats", ListPodSandboxStatsRequest(filter=filter),
                                ListPodSandboxStatsResponse)
        return resp.stats

    # --- ImageService ----------------------------------------------------------------------

    async def list_images(self, image: str | None = None) -> list[Image]:
        """Every image the runtime has (or those matching ``image``)."""
        request = ListImagesRequest(filter=ImageFilter(image=ImageSpec(image=image)) if image else None)
        resp = await self._call(IMAGE_SERVICE + "ListImages", request, ListImagesResponse)
        return resp.images

    async def image_status(self, image: str | ImageSpec, *, verbose: bool = False) -> Image | None:
        """The image (id, tags, digests, size, user), or ``None`` when the runtime has no such image."""
        resp = await self._call(IMAGE_SERVICE + "ImageStatus", ImageStatusRequest(image=_spec(image), verbose=verbose),
                                ImageStatusResponse)
        if resp.image is not None:
            resp.image.info = resp.info
        return resp.image

    async def pull_image(self, image: str | ImageSpec, auth: AuthConfig | None = None,
                         sandbox_config: PodSandboxConfig | None = None, timeout: float | None = None) -> str:
        """Pull ``image`` (registry mirrors and insecure registries per the runtime's config);
        returns the image reference (the image id, ``sha256:...``)."""
        resp = await self._call(IMAGE_SERVICE + "PullImage", PullImageRequest(
            image=_spec(image), auth=auth, sandbox_config=sandbox_config), ImageRefResponse, timeout=timeout)
        return resp.image_ref

    async def remove_image(self, image: str | ImageSpec) -> None:
        """Remove an image (by tag, digest or id). Removing an absent image is not an error."""
        await self._call(IMAGE_SERVICE + "RemoveImage", RemoveImageRequest(image=_spec(image)), Empty)

    async def image_fs_info(self) -> list[FilesystemUsage]:
        """Usage of the filesystem holding images (the snapshotter's)."""
        resp = await self._call(IMAGE_SERVICE + "ImageFsInfo", Empty(), ImageFsInfoResponse)
        return resp.image_filesystems
