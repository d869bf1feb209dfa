"""The Container Runtime Interface (CRI v1) as the kubelet uses it: a gRPC client and its messages.

``CRIClient`` speaks ``runtime.v1`` to containerd (or any CRI runtime) over its unix socket;
``messages`` declares the subset of the CRI protobuf messages the kubelet sends and reads, as
typed dataclasses encoded by the small proto3 codec in ``_proto``. See NODE-PROTOCOLS.md for
the observed behaviour of containerd 1.6 behind these calls.
"""

from __future__ import annotations

from ._proto import ProtoError, decode, encode
from .client import CRIClient, CRIError, grpc_target
from .messages import (
    AuthConfig,
    Capability,
    Container,
    ContainerAttributes,
    ContainerConfig,
    ContainerFilter,
    ContainerMetadata,
    ContainerResources,
    ContainerState,
    ContainerStateValue,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    CpuUsage,
    Device,
    DNSConfig,
    ExecSyncResult,
    FilesystemIdentifier,
    FilesystemUsage,
    HugepageLimit,
    IDMapping,
    Image,
    ImageSpec,
    KeyValue,
    LinuxContainerConfig,
    LinuxContainerResources,
    LinuxContainerSecurityContext,
    LinuxPodSandboxConfig,
    LinuxPodSandboxStats,
    LinuxSandboxSecurityContext,
    MemoryUsage,
    Mount,
    MountPropagation,
    NamespaceMode,
    NamespaceOption,
    NetworkInterfaceUsage,
    NetworkUsage,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxNetworkStatus,
    PodSandboxState,
    PodSandboxStateValue,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PortMapping,
    ProcessUsage,
    ProfileType,
    Protocol,
    RuntimeCondition,
    RuntimeStatus,
    SecurityProfile,
    SELinuxOption,
    UserNamespace,
    VersionInfo,
)

__all__ = [
    "AuthConfig", "CRIClient", "CRIError", "Capability", "Container", "ContainerAttributes", "ContainerConfig",
    "ContainerFilter", "ContainerMetadata", "ContainerResources", "ContainerState", "ContainerStateValue",
    "ContainerStats", "ContainerStatsFilter", "ContainerStatus", "CpuUsage", "DNSConfig", "Device",
    "ExecSyncResult", "FilesystemIdentifier", "FilesystemUsage", "HugepageLimit", "IDMapping", "Image",
    "ImageSpec", "KeyValue", "LinuxContainerConfig", "LinuxContainerResources", "LinuxContainerSecurityContext",
    "LinuxPodSandboxConfig", "LinuxPodSandboxStats", "LinuxSandboxSecurityContext", "MemoryUsage", "Mount",
    "MountPropagation", "NamespaceMode", "NamespaceOption", "NetworkInterfaceUsage", "NetworkUsage", "PodSandbox",
    "PodSandboxConfig", "PodSandboxFilter", "PodSandboxMetadata", "PodSandboxNetworkStatus", "PodSandboxState",
    "PodSandboxStateValue", "PodSandboxStats", "PodSandboxStatsFilter", "PodSandboxStatus", "PortMapping",
    "ProcessUsage", "ProfileType", "ProtoError", "Protocol", "RuntimeCondition", "RuntimeStatus", "SELinuxOption",
    "SecurityProfile", "UserNamespace", "VersionInfo", "decode", "encode", "grpc_target",
]
