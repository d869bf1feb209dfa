"""Admission: the checks every write passes before it reaches storage.

Validation (object metadata and the kind's own rules, on create and on update) runs in the
registry (`validate_create`, `validate_update`). Mutating admission plugins run just before it
on create, after defaulting and after the creator's managed fields are recorded (what admission
adds belongs to no field manager, as upstream), in upstream's order:

* `ServiceAccountAdmission` (serviceaccount.py): the pod's service account, its token volume and
  image pull secrets;
* `PriorityAdmission` (priority.py): `spec.priority` and `spec.preemptionPolicy` from the pod's
  PriorityClass; one `globalDefault` class at most;
* `RuntimeClassAdmission` (runtimeclass.py): the pod's RuntimeClass exists; its overhead and
  scheduling constraints are copied into the pod.

Each plugin is a class with `wait` and `admit` (see base.py); the API server builds the list.
"""

from kubeherd.apiserver.admission.base import (
    MIRROR_POD_ANNOTATION,
    AdmissionPlugin,
    CachedObjects,
    Lookup,
    Obj,
    UserInfo,
    forbidden,
    validate_create,
    validate_update,
)
from kubeherd.apiserver.admission.priority import PriorityAdmission, system_priority_classes
from kubeherd.apiserver.admission.runtimeclass import RuntimeClassAdmission, merge_tolerations
from kubeherd.apiserver.admission.serviceaccount import (
    DEFAULT_SERVICE_ACCOUNT,
    TOKEN_MOUNT_PATH,
    TOKEN_VOLUME_PREFIX,
    ServiceAccountAdmission,
    mount_token_volume,
    token_volume_source,
)

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT",
    "MIRROR_POD_ANNOTATION",
    "TOKEN_MOUNT_PATH",
    "TOKEN_VOLUME_PREFIX",
    "AdmissionPlugin",
    "CachedObjects",
    "Lookup",
    "Obj",
    "PriorityAdmission",
    "RuntimeClassAdmission",
    "ServiceAccountAdmission",
    "UserInfo",
    "forbidden",
    "merge_tolerations",
    "mount_token_volume",
    "system_priority_classes",
    "token_volume_source",
    "validate_create",
    "validate_update",
]
