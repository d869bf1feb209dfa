"""Pod volumes: directories on the node that become CRI mounts.

`manager` decides where each volume of a pod lives and sets it up (emptyDir, hostPath,
persistentVolumeClaim, and the projected kinds); `projection` computes and atomically writes the
contents of configMap, secret, downwardAPI and projected volumes; `tokens` requests and refreshes
the service-account tokens projected volumes carry.
"""

from .manager import VolumeManager, host_path, pod_dir, sub_path
from .projection import (
    Getter,
    VolumeError,
    configmap_files,
    downward_files,
    field_value,
    project,
    projected_files,
    resource_value,
    secret_files,
    write_atomic,
)
from .tokens import TokenManager, TokenRequester

__all__ = [
    "Getter", "TokenManager", "TokenRequester", "VolumeError", "VolumeManager", "configmap_files", "downward_files",
    "field_value", "host_path", "pod_dir", "project", "projected_files", "resource_value", "secret_files",
    "sub_path", "write_atomic",
]
