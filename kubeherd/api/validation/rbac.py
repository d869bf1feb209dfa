"""rbac.authorization.k8s.io: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

RBAC object names only need to be usable as a URL path segment (no ``/`` or ``%``,
not ``.`` or ``..``), which is why ``system:controller:foo`` is a valid ClusterRole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeherd.api.validation._obj import mapping, seq, string
from kubeherd.api.validation.field import (
    Cause,
    GoRaw,
    child,
    go_quote,
    index,
    invalid,
    not_supported,
    required,
)
from kubeherd.api.validation.meta import validate_object_meta, validate_object_meta_update
from kubeherd.api.validation.names import PATH_SEGMENT, is_dns1123_subdomain, name_function

__all__ = [
    "validate_cluster_role",
    "validate_cluster_role_binding",
    "validate_cluster_role_binding_update",
    "validate_cluster_role_update",
    "validate_role",
    "validate_role_binding",
    "validate_role_binding_update",
    "validate_role_update",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
_path_segment = name_function(PATH_SEGMENT)


def _policy_rule(rule: Mapping[str, Any], namespaced: bool, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not seq(rule.get("verbs")):
        errs.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    urls = [str(u) for u in seq(rule.get("nonResourceURLs"))]
    if urls:
        if namespaced:
            errs.append(
                invalid(
                    child(path, "nonResourceURLs"), urls, "namespaced rules cannot apply to non-resource URLs"
                )
            )
        if seq(rule.get("apiGroups")) or seq(rule.get("resources")) or seq(rule.get("resourceNames")):
            errs.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not seq(rule.get("apiGroups")):
        errs.append(required(child(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not seq(rule.get("resources")):
        errs.append(required(child(path, "resources"), "resource rules must supply at least one resource"))
    return errs


def _role(obj: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), namespaced, PATH_SEGMENT)
    for i, rule in enumerate(seq(obj.get("rules"))):
        errs.extend(_policy_rule(mapping(rule), namespaced, index("rules", i)))
    return errs


def validate_role(obj: Mapping[str, Any]) -> list[Cause]:
    return _role(obj, True)


def validate_cluster_role(obj: Mapping[str, Any]) -> list[Cause]:
    return _role(obj, False)


def validate_role_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return validate_role(new) + validate_object_meta_update(new.get("metadata"), old.get("metadata"))


def validate_cluster_role_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return validate_cluster_role(new) + validate_object_meta_update(new.get("metadata"), old.get("metadata"))


def _subject(subject: Mapping[str, Any], namespaced: bool, path: str) -> list[Cause]:
    errs: list[Cause] = []
    name = string(subject.get("name"))
    kind = string(subject.get("kind"))
    api_group = string(subject.get("apiGroup"))
    if not name:
        errs.append(required(child(path, "name")))
    if kind == "ServiceAccount":
        if name:
            errs.extend(invalid(child(path, "name"), name, m) for m in is_dns1123_subdomain(name))
        if api_group:
            errs.append(not_supported(child(path, "apiGroup"), api_group, [""]))
        if not namespaced and not string(subject.get("namespace")):
            errs.append(required(child(path, "namespace")))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(invalid(child(path, "name"), name, f"{kind.lower()} name cannot be empty"))
        if api_group != RBAC_GROUP:
            errs.append(not_supported(child(path, "apiGroup"), api_group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(child(path, "kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(obj: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), namespaced, PATH_SEGMENT)
    ref = mapping(obj.get("roleRef"))
    if string(ref.get("apiGroup")) != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", string(ref.get("apiGroup")), [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if string(ref.get("kind")) not in kinds:
        errs.append(not_supported("roleRef.kind", string(ref.get("kind")), kinds))
    name = string(ref.get("name"))
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs.extend(invalid("roleRef.name", name, m) for m in _path_segment(name, False))
    for i, subject in enumerate(seq(obj.get("subjects"))):
        errs.extend(_subject(mapping(subject), namespaced, index("subjects", i)))
    return errs


def _go_role_ref(ref: Mapping[str, Any]) -> GoRaw:
    return GoRaw(
        f"rbac.RoleRef{{APIGroup:{go_quote(string(ref.get('apiGroup')))}, "
        f"Kind:{go_quote(string(ref.get('kind')))}, Name:{go_quote(string(ref.get('name')))}}}"
    )


def _binding_update(new: Mapping[str, Any], old: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    errs = _binding(new, namespaced)
    errs.extend(validate_object_meta_update(new.get("metadata"), old.get("metadata")))
    new_ref, old_ref = mapping(new.get("roleRef")), mapping(old.get("roleRef"))
    fields = ("apiGroup", "kind", "name")
    if any(string(new_ref.get(f)) != string(old_ref.get(f)) for f in fields):
        errs.append(invalid("roleRef", _go_role_ref(new_ref), "cannot change roleRef"))
    return errs


def validate_role_binding(obj: Mapping[str, Any]) -> list[Cause]:
    return _binding(obj, True)


def validate_cluster_role_binding(obj: Mapping[str, Any]) -> list[Cause]:
    return _binding(obj, False)


def validate_role_binding_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _binding_update(new, old, True)


def validate_cluster_role_binding_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _binding_update(new, old, False)
