"""Validation of built-in kinds, with upstream's field errors and messages.

A validator returns a list of :class:`Cause` (empty when the object is valid); the
API server turns a non-empty list into a 422 ``Invalid`` Status with
:func:`invalid_status` (or builds its own from :func:`invalid_message` and
``Cause.to_dict``).  Validators are pure functions over JSON-shaped dicts.

Objects are checked the way upstream checks them after defaulting: a field upstream
would default is accepted when absent, and checked when present.  Updates are
checked as upstream's strategies check them, which assumes the registry has already
copied the stored ``resourceVersion`` into unconditional updates.

Per-kind validators live in :data:`VALIDATORS`, keyed by ``(group, kind)`` with the
core group spelled ``""``; :func:`validate` and :func:`validate_update` dispatch and
fall back to ObjectMeta checks for kinds without their own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeherd.api.validation import apps, batch, core, pods, rbac, scheduling
from kubeherd.api.validation.ephemeral import validate_pod_ephemeral_containers_update
from kubeherd.api.validation.field import (
    FIELD_IMMUTABLE,
    OMIT,
    Cause,
    GoRaw,
    aggregate_message,
    duplicate,
    forbidden,
    go_quote,
    invalid,
    invalid_message,
    invalid_status,
    not_found,
    not_supported,
    required,
    too_long,
    too_many,
    type_invalid,
)
from kubeherd.api.validation.meta import (
    TOTAL_ANNOTATION_SIZE_LIMIT,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeherd.api.validation.names import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    PATH_SEGMENT,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    name_function,
)

__all__ = [
    "DNS1035_LABEL",
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "FIELD_IMMUTABLE",
    "OMIT",
    "PATH_SEGMENT",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "VALIDATORS",
    "Cause",
    "GoRaw",
    "KindValidation",
    "aggregate_message",
    "duplicate",
    "forbidden",
    "go_quote",
    "invalid",
    "invalid_message",
    "invalid_status",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "name_function",
    "name_rule",
    "not_found",
    "not_supported",
    "required",
    "too_long",
    "too_many",
    "type_invalid",
    "validate",
    "validate_annotations",
    "validate_label_selector",
    "validate_labels",
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_pod_ephemeral_containers_update",
    "validate_update",
]

Validator = Callable[[Mapping[str, Any]], list[Cause]]
UpdateValidator = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Cause]]


@dataclass(frozen=True)
class KindValidation:
    """How one kind is validated; ``validate_update`` may be None (see :func:`validate_update`)."""

    namespaced: bool
    name_rule: str
    validate: Validator
    validate_update: UpdateValidator | None = None


def _meta_only(namespaced: bool, rule: str) -> Validator:
    def check(obj: Mapping[str, Any]) -> list[Cause]:
        return validate_object_meta(obj.get("metadata"), namespaced, rule)

    return check


VALIDATORS: dict[tuple[str, str], KindValidation] = {
    ("", "Pod"): KindValidation(True, DNS1123_SUBDOMAIN, pods.validate_pod, pods.validate_pod_update),
    ("", "Service"): KindValidation(True, DNS1035_LABEL, core.validate_service, core.validate_service_update),
    ("", "ConfigMap"): KindValidation(
        True, DNS1123_SUBDOMAIN, core.validate_config_map, core.validate_config_map_update
    ),
    ("", "Secret"): KindValidation(
        True, DNS1123_SUBDOMAIN, core.validate_secret, core.validate_secret_update
    ),
    ("", "Namespace"): KindValidation(
        False, DNS1123_LABEL, core.validate_namespace, core.validate_namespace_update
    ),
    ("", "Node"): KindValidation(False, DNS1123_SUBDOMAIN, core.validate_node, core.validate_node_update),
    ("", "ServiceAccount"): KindValidation(True, DNS1123_SUBDOMAIN, core.validate_service_account),
    ("", "PersistentVolume"): KindValidation(
        False, DNS1123_SUBDOMAIN, core.validate_persistent_volume, core.validate_persistent_volume_update
    ),
    ("", "PersistentVolumeClaim"): KindValidation(
        True,
        DNS1123_SUBDOMAIN,
        core.validate_persistent_volume_claim,
        core.validate_persistent_volume_claim_update,
    ),
    ("", "ReplicationController"): KindValidation(
        True,
        DNS1123_SUBDOMAIN,
        core.validate_replication_controller,
        core.validate_replication_controller_update,
    ),
    ("apps", "Deployment"): KindValidation(
        True, DNS1123_SUBDOMAIN, apps.validate_deployment, apps.validate_deployment_update
    ),
    ("apps", "ReplicaSet"): KindValidation(
        True, DNS1123_SUBDOMAIN, apps.validate_replica_set, apps.validate_replica_set_update
    ),
    ("apps", "StatefulSet"): KindValidation(
        True, DNS1123_LABEL, apps.validate_stateful_set, apps.validate_stateful_set_update
    ),
    ("apps", "DaemonSet"): KindValidation(
        True, DNS1123_SUBDOMAIN, apps.validate_daemon_set, apps.validate_daemon_set_update
    ),
    ("batch", "Job"): KindValidation(True, DNS1123_SUBDOMAIN, batch.validate_job, batch.validate_job_update),
    ("batch", "CronJob"): KindValidation(
        True, DNS1123_SUBDOMAIN, batch.validate_cron_job, batch.validate_cron_job_update
    ),
    ("scheduling.k8s.io", "PriorityClass"): KindValidation(
        False, DNS1123_SUBDOMAIN, scheduling.validate_priority_class, scheduling.validate_priority_class_update
    ),
    ("rbac.authorization.k8s.io", "Role"): KindValidation(
        True, PATH_SEGMENT, rbac.validate_role, rbac.validate_role_update
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): KindValidation(
        False, PATH_SEGMENT, rbac.validate_cluster_role, rbac.validate_cluster_role_update
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): KindValidation(
        True, PATH_SEGMENT, rbac.validate_role_binding, rbac.validate_role_binding_update
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): KindValidation(
        False, PATH_SEGMENT, rbac.validate_cluster_role_binding, rbac.validate_cluster_role_binding_update
    ),
}


def name_rule(group: str, kind: str) -> str:
    """Which name check a kind uses: one of ``dns1123-subdomain`` (most kinds),
    ``dns1123-label`` (Namespace, StatefulSet), ``dns1035-label`` (Service) or
    ``path-segment`` (RBAC objects)."""
    entry = VALIDATORS.get((group, kind))
    return entry.name_rule if entry is not None else DNS1123_SUBDOMAIN


def validate(group: str, kind: str, obj: Mapping[str, Any], *, namespaced: bool = True) -> list[Cause]:
    """Validate ``obj`` for creation.  ``namespaced`` is only consulted for kinds
    without their own entry in :data:`VALIDATORS`."""
    entry = VALIDATORS.get((group, kind))
    if entry is None:
        return _meta_only(namespaced, name_rule(group, kind))(obj)
    return entry.validate(obj)


def validate_update(
    group: str, kind: str, new: Mapping[str, Any], old: Mapping[str, Any], *, namespaced: bool = True
) -> list[Cause]:
    """Validate replacing ``old`` with ``new``.

    Kinds without a dedicated update rule get upstream's usual pair: ObjectMeta
    immutability plus a full validation of ``new``.
    """
    entry = VALIDATORS.get((group, kind))
    if entry is not None and entry.validate_update is not None:
        return entry.validate_update(new, old)
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    if entry is not None:
        errs.extend(entry.validate(new))
    else:
        meta = new.get("metadata")
        errs.extend(validate_object_meta(meta, namespaced, name_rule(group, kind), create=False))
    return errs
