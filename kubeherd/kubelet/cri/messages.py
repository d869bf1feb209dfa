"""The CRI v1 (``runtime.v1``) messages the kubelet uses, as typed dataclasses.

Field names and numbers are the wire facts of k8s.io/cri-api v0.25.0 (the version containerd
1.6.20 vendors); newer fields are simply absent, and fields the runtime sends that are not
declared here (Windows resources, new additions) are skipped when decoding. Every message is a
keyword-only dataclass whose defaults are the proto3 zero values, so a kubelet writes only
what it means::

    PodSandboxConfig(metadata=PodSandboxMetadata(name="web", uid=uid, namespace="default"),
                     hostname="web", log_directory=str(log_dir), labels={...})

Messages are ``None`` when unset (proto3 presence), lists and maps are empty, enums are
``IntEnum`` members. ``Int64Value``/``UInt64Value`` wrappers appear as ``int | None``. The
``*Request``/``*Response`` envelopes are here too, but the client unwraps them: callers see
the configs they send and the statuses they get.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ._proto import pb

# --- enums -------------------------------------------------------------------------------------


class Protocol(enum.IntEnum):
    TCP = 0
    UDP = 1
    SCTP = 2


class MountPropagation(enum.IntEnum):
    PROPAGATION_PRIVATE = 0
    PROPAGATION_HOST_TO_CONTAINER = 1
    PROPAGATION_BIDIRECTIONAL = 2


class NamespaceMode(enum.IntEnum):
    """Which namespace a container uses. 0 is POD: an unset ``pid`` shares the pause container's."""

    POD = 0
    CONTAINER = 1
    NODE = 2
    TARGET = 3


class ProfileType(enum.IntEnum):
    """``SecurityProfile.ProfileType`` (seccomp and AppArmor)."""

    RuntimeDefault = 0
    Unconfined = 1
    Localhost = 2


class PodSandboxState(enum.IntEnum):
    SANDBOX_READY = 0
    SANDBOX_NOTREADY = 1


class ContainerState(enum.IntEnum):
    CONTAINER_CREATED = 0
    CONTAINER_RUNNING = 1
    CONTAINER_EXITED = 2
    CONTAINER_UNKNOWN = 3


# --- shared pieces -----------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class KeyValue:
    key: str = pb(1, "")
    value: str = pb(2, "")


@dataclass(kw_only=True, slots=True)
class ImageSpec:
    image: str = pb(1, "")
    annotations: dict[str, str] = pb(2, {})


@dataclass(kw_only=True, slots=True)
class PodSandboxMetadata:
    name: str = pb(1, "")
    uid: str = pb(2, "")
    namespace: str = pb(3, "")
    attempt: int = pb(4, 0, kind="uint32")


@dataclass(kw_only=True, slots=True)
class ContainerMetadata:
    name: str = pb(1, "")
    attempt: int = pb(2, 0, kind="uint32")


@dataclass(kw_only=True, slots=True)
class DNSConfig:
    servers: list[str] = pb(1, [])
    searches: list[str] = pb(2, [])
    options: list[str] = pb(3, [])


@dataclass(kw_only=True, slots=True)
class PortMapping:
    protocol: Protocol = pb(1, Protocol.TCP)
    container_port: int = pb(2, 0, kind="int32")
    host_port: int = pb(3, 0, kind="int32")
    host_ip: str = pb(4, "")


@dataclass(kw_only=True, slots=True)
class Mount:
    container_path: str = pb(1, "")
    host_path: str = pb(2, "")
    readonly: bool = pb(3, False)
    selinux_relabel: bool = pb(4, False)
    propagation: MountPropagation = pb(5, MountPropagation.PROPAGATION_PRIVATE)


@dataclass(kw_only=True, slots=True)
class Device:
    container_path: str = pb(1, "")
    host_path: str = pb(2, "")
    permissions: str = pb(3, "")


@dataclass(kw_only=True, slots=True)
class IDMapping:
    host_id: int = pb(1, 0, kind="uint32")
    container_id: int = pb(2, 0, kind="uint32")
    length: int = pb(3, 0, kind="uint32")


@dataclass(kw_only=True, slots=True)
class UserNamespace:
    mode: NamespaceMode = pb(1, NamespaceMode.POD)
    uids: list[IDMapping] = pb(2, [])
    gids: list[IDMapping] = pb(3, [])


@dataclass(kw_only=True, slots=True)
class NamespaceOption:
    network: NamespaceMode = pb(1, NamespaceMode.POD)
    pid: NamespaceMode = pb(2, NamespaceMode.POD)
    ipc: NamespaceMode = pb(3, NamespaceMode.POD)
    target_id: str = pb(4, "")
    userns_options: UserNamespace | None = pb(5, None)


@dataclass(kw_only=True, slots=True)
class SELinuxOption:
    user: str = pb(1, "")
    role: str = pb(2, "")
    type: str = pb(3, "")
    level: str = pb(4, "")


@dataclass(kw_only=True, slots=True)
class SecurityProfile:
    profile_type: ProfileType = pb(1, ProfileType.RuntimeDefault)
    localhost_ref: str = pb(2, "")


@dataclass(kw_only=True, slots=True)
class Capability:
    add_capabilities: list[str] = pb(1, [])
    drop_capabilities: list[str] = pb(2, [])
    add_ambient_capabilities: list[str] = pb(3, [])


@dataclass(kw_only=True, slots=True)
class HugepageLimit:
    page_size: str = pb(1, "")
    limit: int = pb(2, 0, kind="uint64")


@dataclass(kw_only=True, slots=True)
class LinuxContainerResources:
    cpu_period: int = pb(1, 0)
    cpu_quota: int = pb(2, 0)
    cpu_shares: int = pb(3, 0)
    memory_limit_in_bytes: int = pb(4, 0)
    oom_score_adj: int = pb(5, 0)
    cpuset_cpus: str = pb(6, "")
    cpuset_mems: str = pb(7, "")
    hugepage_limits: list[HugepageLimit] = pb(8, [])
    unified: dict[str, str] = pb(9, {})
    memory_swap_limit_in_bytes: int = pb(10, 0)


# --- pod sandboxes -----------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class LinuxSandboxSecurityContext:
    namespace_options: NamespaceOption | None = pb(1, None)
    selinux_options: SELinuxOption | None = pb(2, None)
    run_as_user: int | None = pb(3, None, kind="Int64Value")
    readonly_rootfs: bool = pb(4, False)
    supplemental_groups: list[int] = pb(5, [])
    privileged: bool = pb(6, False)
    seccomp_profile_path: str = pb(7, "")  # deprecated upstream; use seccomp
    run_as_group: int | None = pb(8, None, kind="Int64Value")
    seccomp: SecurityProfile | None = pb(9, None)
    apparmor: SecurityProfile | None = pb(10, None)


@dataclass(kw_only=True, slots=True)
class LinuxPodSandboxConfig:
    cgroup_parent: str = pb(1, "")
    security_context: LinuxSandboxSecurityContext | None = pb(2, None)
    sysctls: dict[str, str] = pb(3, {})
    overhead: LinuxContainerResources | None = pb(4, None)
    resources: LinuxContainerResources | None = pb(5, None)


@dataclass(kw_only=True, slots=True)
class PodSandboxConfig:
    metadata: PodSandboxMetadata | None = pb(1, None)
    hostname: str = pb(2, "")
    log_directory: str = pb(3, "")
    dns_config: DNSConfig | None = pb(4, None)
    port_mappings: list[PortMapping] = pb(5, [])
    labels: dict[str, str] = pb(6, {})
    annotations: dict[str, str] = pb(7, {})
    linux: LinuxPodSandboxConfig | None = pb(8, None)


@dataclass(kw_only=True, slots=True)
class PodIP:
    ip: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class PodSandboxNetworkStatus:
    ip: str = pb(1, "")
    additional_ips: list[PodIP] = pb(2, [])


@dataclass(kw_only=True, slots=True)
class Namespace:
    options: NamespaceOption | None = pb(2, None)


@dataclass(kw_only=True, slots=True)
class LinuxPodSandboxStatus:
    namespaces: Namespace | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class PodSandboxStatus:
    id: str = pb(1, "")
    metadata: PodSandboxMetadata | None = pb(2, None)
    state: PodSandboxState = pb(3, PodSandboxState.SANDBOX_READY)
    created_at: int = pb(4, 0)  # ns since the epoch
    network: PodSandboxNetworkStatus | None = pb(5, None)
    linux: LinuxPodSandboxStatus | None = pb(6, None)
    labels: dict[str, str] = pb(7, {})
    annotations: dict[str, str] = pb(8, {})
    runtime_handler: str = pb(9, "")
    # not on the wire: the verbose ``info`` map of the response, attached by the client
    info: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class PodSandboxStateValue:
    state: PodSandboxState = pb(1, PodSandboxState.SANDBOX_READY)


@dataclass(kw_only=True, slots=True)
class PodSandboxFilter:
    id: str = pb(1, "")
    state: PodSandboxStateValue | None = pb(2, None)
    label_selector: dict[str, str] = pb(3, {})


@dataclass(kw_only=True, slots=True)
class PodSandbox:
    id: str = pb(1, "")
    metadata: PodSandboxMetadata | None = pb(2, None)
    state: PodSandboxState = pb(3, PodSandboxState.SANDBOX_READY)
    created_at: int = pb(4, 0)
    labels: dict[str, str] = pb(5, {})
    annotations: dict[str, str] = pb(6, {})
    runtime_handler: str = pb(7, "")


# --- containers --------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class LinuxContainerSecurityContext:
    capabilities: Capability | None = pb(1, None)
    privileged: bool = pb(2, False)
    namespace_options: NamespaceOption | None = pb(3, None)
    selinux_options: SELinuxOption | None = pb(4, None)
    run_as_user: int | None = pb(5, None, kind="Int64Value")
    run_as_username: str = pb(6, "")
    readonly_rootfs: bool = pb(7, False)
    supplemental_groups: list[int] = pb(8, [])
    apparmor_profile: str = pb(9, "")  # deprecated upstream; use apparmor
    seccomp_profile_path: str = pb(10, "")  # deprecated upstream; use seccomp
    no_new_privs: bool = pb(11, False)
    run_as_group: int | None = pb(12, None, kind="Int64Value")
    masked_paths: list[str] = pb(13, [])
    readonly_paths: list[str] = pb(14, [])
    seccomp: SecurityProfile | None = pb(15, None)
    apparmor: SecurityProfile | None = pb(16, None)


@dataclass(kw_only=True, slots=True)
class LinuxContainerConfig:
    resources: LinuxContainerResources | None = pb(1, None)
    security_context: LinuxContainerSecurityContext | None = pb(2, None)


@dataclass(kw_only=True, slots=True)
class ContainerConfig:
    metadata: ContainerMetadata | None = pb(1, None)
    image: ImageSpec | None = pb(2, None)
    command: list[str] = pb(3, [])
    args: list[str] = pb(4, [])
    working_dir: str = pb(5, "")
    envs: list[KeyValue] = pb(6, [])
    mounts: list[Mount] = pb(7, [])
    devices: list[Device] = pb(8, [])
    labels: dict[str, str] = pb(9, {})
    annotations: dict[str, str] = pb(10, {})
    log_path: str = pb(11, "")  # relative to the sandbox's log_directory
    stdin: bool = pb(12, False)
    stdin_once: bool = pb(13, False)
    tty: bool = pb(14, False)
    linux: LinuxContainerConfig | None = pb(15, None)


@dataclass(kw_only=True, slots=True)
class ContainerStateValue:
    state: ContainerState = pb(1, ContainerState.CONTAINER_CREATED)


@dataclass(kw_only=True, slots=True)
class ContainerFilter:
    id: str = pb(1, "")
    state: ContainerStateValue | None = pb(2, None)
    pod_sandbox_id: str = pb(3, "")
    label_selector: dict[str, str] = pb(4, {})


@dataclass(kw_only=True, slots=True)
class Container:
    id: str = pb(1, "")
    pod_sandbox_id: str = pb(2, "")
    metadata: ContainerMetadata | None = pb(3, None)
    image: ImageSpec | None = pb(4, None)
    image_ref: str = pb(5, "")
    state: ContainerState = pb(6, ContainerState.CONTAINER_CREATED)
    created_at: int = pb(7, 0)
    labels: dict[str, str] = pb(8, {})
    annotations: dict[str, str] = pb(9, {})


@dataclass(kw_only=True, slots=True)
class ContainerResources:
    linux: LinuxContainerResources | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ContainerStatus:
    id: str = pb(1, "")
    metadata: ContainerMetadata | None = pb(2, None)
    state: ContainerState = pb(3, ContainerState.CONTAINER_CREATED)
    created_at: int = pb(4, 0)  # ns since the epoch; 0 = never
    started_at: int = pb(5, 0)
    finished_at: int = pb(6, 0)
    exit_code: int = pb(7, 0, kind="int32")
    image: ImageSpec | None = pb(8, None)
    image_ref: str = pb(9, "")
    reason: str = pb(10, "")  # e.g. "OOMKilled", "Error", "Completed"
    message: str = pb(11, "")
    labels: dict[str, str] = pb(12, {})
    annotations: dict[str, str] = pb(13, {})
    mounts: list[Mount] = pb(14, [])
    log_path: str = pb(15, "")  # absolute: log_directory joined with the container's log_path
    resources: ContainerResources | None = pb(16, None)
    # not on the wire: the verbose ``info`` map of the response, attached by the client
    info: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class ExecSyncResult:
    """``ExecSyncResponse``: what a command printed and how it exited."""

    stdout: bytes = pb(1, b"")
    stderr: bytes = pb(2, b"")
    exit_code: int = pb(3, 0, kind="int32")


# --- stats -------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class FilesystemIdentifier:
    mountpoint: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class FilesystemUsage:
    timestamp: int = pb(1, 0)
    fs_id: FilesystemIdentifier | None = pb(2, None)
    used_bytes: int | None = pb(3, None, kind="UInt64Value")
    inodes_used: int | None = pb(4, None, kind="UInt64Value")


@dataclass(kw_only=True, slots=True)
class CpuUsage:
    timestamp: int = pb(1, 0)
    usage_core_nano_seconds: int | None = pb(2, None, kind="UInt64Value")  # cumulative
    usage_nano_cores: int | None = pb(3, None, kind="UInt64Value")  # since anyone's previous call


@dataclass(kw_only=True, slots=True)
class MemoryUsage:
    timestamp: int = pb(1, 0)
    working_set_bytes: int | None = pb(2, None, kind="UInt64Value")
    available_bytes: int | None = pb(3, None, kind="UInt64Value")
    usage_bytes: int | None = pb(4, None, kind="UInt64Value")
    rss_bytes: int | None = pb(5, None, kind="UInt64Value")
    page_faults: int | None = pb(6, None, kind="UInt64Value")
    major_page_faults: int | None = pb(7, None, kind="UInt64Value")


@dataclass(kw_only=True, slots=True)
class ContainerAttributes:
    id: str = pb(1, "")
    metadata: ContainerMetadata | None = pb(2, None)
    labels: dict[str, str] = pb(3, {})
    annotations: dict[str, str] = pb(4, {})


@dataclass(kw_only=True, slots=True)
class ContainerStats:
    attributes: ContainerAttributes | None = pb(1, None)
    cpu: CpuUsage | None = pb(2, None)
    memory: MemoryUsage | None = pb(3, None)
    writable_layer: FilesystemUsage | None = pb(4, None)


@dataclass(kw_only=True, slots=True)
class ContainerStatsFilter:
    id: str = pb(1, "")
    pod_sandbox_id: str = pb(2, "")
    label_selector: dict[str, str] = pb(3, {})


@dataclass(kw_only=True, slots=True)
class NetworkInterfaceUsage:
    name: str = pb(1, "")
    rx_bytes: int | None = pb(2, None, kind="UInt64Value")
    rx_errors: int | None = pb(3, None, kind="UInt64Value")
    tx_bytes: int | None = pb(4, None, kind="UInt64Value")
    tx_errors: int | None = pb(5, None, kind="UInt64Value")


@dataclass(kw_only=True, slots=True)
class NetworkUsage:
    timestamp: int = pb(1, 0)
    default_interface: NetworkInterfaceUsage | None = pb(2, None)
    interfaces: list[NetworkInterfaceUsage] = pb(3, [])


@dataclass(kw_only=True, slots=True)
class ProcessUsage:
    timestamp: int = pb(1, 0)
    process_count: int | None = pb(2, None, kind="UInt64Value")


@dataclass(kw_only=True, slots=True)
class PodSandboxAttributes:
    id: str = pb(1, "")
    metadata: PodSandboxMetadata | None = pb(2, None)
    labels: dict[str, str] = pb(3, {})
    annotations: dict[str, str] = pb(4, {})


@dataclass(kw_only=True, slots=True)
class LinuxPodSandboxStats:
    cpu: CpuUsage | None = pb(1, None)
    memory: MemoryUsage | None = pb(2, None)
    network: NetworkUsage | None = pb(3, None)
    process: ProcessUsage | None = pb(4, None)
    containers: list[ContainerStats] = pb(5, [])


@dataclass(kw_only=True, slots=True)
class PodSandboxStats:
    attributes: PodSandboxAttributes | None = pb(1, None)
    linux: LinuxPodSandboxStats | None = pb(2, None)


@dataclass(kw_only=True, slots=True)
class PodSandboxStatsFilter:
    id: str = pb(1, "")
    label_selector: dict[str, str] = pb(2, {})


# --- runtime status and version ----------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class VersionInfo:
    """``VersionResponse``: e.g. ``containerd``, ``1.6.20~ds1``, API ``v1``."""

    version: str = pb(1, "")
    runtime_name: str = pb(2, "")
    runtime_version: str = pb(3, "")
    runtime_api_version: str = pb(4, "")


@dataclass(kw_only=True, slots=True)
class RuntimeCondition:
    type: str = pb(1, "")  # "RuntimeReady", "NetworkReady"
    status: bool = pb(2, False)
    reason: str = pb(3, "")
    message: str = pb(4, "")


@dataclass(kw_only=True, slots=True)
class RuntimeStatus:
    conditions: list[RuntimeCondition] = pb(1, [])
    # not on the wire: the verbose ``info`` map of the response, attached by the client
    info: dict[str, str] = field(default_factory=dict)

    def condition(self, type_: str) -> RuntimeCondition | None:
        """The condition named ``type_`` (``RuntimeReady``, ``NetworkReady``), if reported."""
        for c in self.conditions:
            if c.type == type_:
                return c
        return None


# --- images ------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class AuthConfig:
    username: str = pb(1, "")
    password: str = pb(2, "")
    auth: str = pb(3, "")  # base64 "user:password", as in a dockerconfigjson
    server_address: str = pb(4, "")
    identity_token: str = pb(5, "")
    registry_token: str = pb(6, "")


@dataclass(kw_only=True, slots=True)
class Image:
    id: str = pb(1, "")
    repo_tags: list[str] = pb(2, [])
    repo_digests: list[str] = pb(3, [])
    size: int = pb(4, 0, kind="uint64")
    uid: int | None = pb(5, None, kind="Int64Value")
    username: str = pb(6, "")
    spec: ImageSpec | None = pb(7, None)
    pinned: bool = pb(8, False)  # containerd 1.6 never sets it
    # not on the wire: the verbose ``info`` map of the response, attached by the client
    info: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class ImageFilter:
    image: ImageSpec | None = pb(1, None)


# --- request and response envelopes (the client unwraps these) --------------------------------


@dataclass(kw_only=True, slots=True)
class Empty:
    """Every ``...Response {}`` and ``ImageFsInfoRequest``."""


@dataclass(kw_only=True, slots=True)
class VersionRequest:
    version: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class StatusRequest:
    verbose: bool = pb(1, False)


@dataclass(kw_only=True, slots=True)
class StatusResponse:
    status: RuntimeStatus | None = pb(1, None)
    info: dict[str, str] = pb(2, {})


@dataclass(kw_only=True, slots=True)
class RunPodSandboxRequest:
    config: PodSandboxConfig | None = pb(1, None)
    runtime_handler: str = pb(2, "")


@dataclass(kw_only=True, slots=True)
class PodSandboxIdRequest:
    """``StopPodSandboxRequest``, ``RemovePodSandboxRequest``, ``PodSandboxStatsRequest`` and
    ``PortForwardRequest`` (with ``port``); the ``RunPodSandboxResponse`` has the same shape."""

    pod_sandbox_id: str = pb(1, "")
    port: list[int] = pb(2, [], kind="int32")


@dataclass(kw_only=True, slots=True)
class PodSandboxStatusRequest:
    pod_sandbox_id: str = pb(1, "")
    verbose: bool = pb(2, False)


@dataclass(kw_only=True, slots=True)
class PodSandboxStatusResponse:
    status: PodSandboxStatus | None = pb(1, None)
    info: dict[str, str] = pb(2, {})  # verbose: {"info": JSON with pid, netns path, cniResult ...}


@dataclass(kw_only=True, slots=True)
class ListPodSandboxRequest:
    filter: PodSandboxFilter | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListPodSandboxResponse:
    items: list[PodSandbox] = pb(1, [])


@dataclass(kw_only=True, slots=True)
class CreateContainerRequest:
    pod_sandbox_id: str = pb(1, "")
    config: ContainerConfig | None = pb(2, None)
    sandbox_config: PodSandboxConfig | None = pb(3, None)


@dataclass(kw_only=True, slots=True)
class ContainerIdRequest:
    """``StartContainerRequest``, ``RemoveContainerRequest``, ``ReopenContainerLogRequest``,
    ``ContainerStatsRequest`` and ``StopContainerRequest`` (``timeout``, seconds); the
    ``CreateContainerResponse`` has the same shape."""

    container_id: str = pb(1, "")
    timeout: int = pb(2, 0)


@dataclass(kw_only=True, slots=True)
class ContainerStatusRequest:
    container_id: str = pb(1, "")
    verbose: bool = pb(2, False)


@dataclass(kw_only=True, slots=True)
class ContainerStatusResponse:
    status: ContainerStatus | None = pb(1, None)
    info: dict[str, str] = pb(2, {})


@dataclass(kw_only=True, slots=True)
class ListContainersRequest:
    filter: ContainerFilter | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListContainersResponse:
    containers: list[Container] = pb(1, [])


@dataclass(kw_only=True, slots=True)
class UpdateContainerResourcesRequest:
    container_id: str = pb(1, "")
    linux: LinuxContainerResources | None = pb(2, None)
    annotations: dict[str, str] = pb(4, {})


@dataclass(kw_only=True, slots=True)
class ExecSyncRequest:
    container_id: str = pb(1, "")
    cmd: list[str] = pb(2, [])
    timeout: int = pb(3, 0)  # seconds; 0 = none


@dataclass(kw_only=True, slots=True)
class ExecRequest:
    container_id: str = pb(1, "")
    cmd: list[str] = pb(2, [])
    tty: bool = pb(3, False)
    stdin: bool = pb(4, False)
    stdout: bool = pb(5, False)
    stderr: bool = pb(6, False)


@dataclass(kw_only=True, slots=True)
class AttachRequest:
    container_id: str = pb(1, "")
    stdin: bool = pb(2, False)  # note the order: stdin before tty, unlike ExecRequest
    tty: bool = pb(3, False)
    stdout: bool = pb(4, False)
    stderr: bool = pb(5, False)


@dataclass(kw_only=True, slots=True)
class UrlResponse:
    """``ExecResponse``, ``AttachResponse``, ``PortForwardResponse``."""

    url: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class ContainerStatsResponse:
    stats: ContainerStats | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListContainerStatsRequest:
    filter: ContainerStatsFilter | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListContainerStatsResponse:
    stats: list[ContainerStats] = pb(1, [])


@dataclass(kw_only=True, slots=True)
class PodSandboxStatsResponse:
    stats: PodSandboxStats | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListPodSandboxStatsRequest:
    filter: PodSandboxStatsFilter | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListPodSandboxStatsResponse:
    stats: list[PodSandboxStats] = pb(1, [])


@dataclass(kw_only=True, slots=True)
class NetworkConfig:
    pod_cidr: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class RuntimeConfig:
    network_config: NetworkConfig | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class UpdateRuntimeConfigRequest:
    runtime_config: RuntimeConfig | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListImagesRequest:
    filter: ImageFilter | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ListImagesResponse:
    images: list[Image] = pb(1, [])


@dataclass(kw_only=True, slots=True)
class ImageStatusRequest:
    image: ImageSpec | None = pb(1, None)
    verbose: bool = pb(2, False)


@dataclass(kw_only=True, slots=True)
class ImageStatusResponse:
    image: Image | None = pb(1, None)  # unset when the image is absent
    info: dict[str, str] = pb(2, {})


@dataclass(kw_only=True, slots=True)
class PullImageRequest:
    image: ImageSpec | None = pb(1, None)
    auth: AuthConfig | None = pb(2, None)
    sandbox_config: PodSandboxConfig | None = pb(3, None)


@dataclass(kw_only=True, slots=True)
class ImageRefResponse:
    """``PullImageResponse``."""

    image_ref: str = pb(1, "")


@dataclass(kw_only=True, slots=True)
class RemoveImageRequest:
    image: ImageSpec | None = pb(1, None)


@dataclass(kw_only=True, slots=True)
class ImageFsInfoResponse:
    image_filesystems: list[FilesystemUsage] = pb(1, [])
