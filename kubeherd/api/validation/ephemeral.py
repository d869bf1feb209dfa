"""Writes through `pods/{name}/ephemeralcontainers`, as upstream's
``ValidatePodEphemeralContainersUpdate`` checks them.

The subresource changes nothing but `spec.ephemeralContainers` (the registry copies everything
else from the stored pod), so what is checked here is the whole new pod, each ephemeral
container, and the change: containers may be added, never changed or removed. An ephemeral
container is a container without the parts a workload leans on: no ports, resources, probes,
lifecycle hooks, restart policy or subPath mounts; its name is unique among all the pod's
containers, and its `targetContainerName`, if any, names a container or init container.
Static (mirror) pods take no ephemeral containers at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeherd.api.validation._obj import mapping, seq, string
from kubeherd.api.validation.field import (
    Cause,
    child,
    duplicate,
    forbidden,
    go_quote,
    index,
    invalid,
    not_found,
)
from kubeherd.api.validation.meta import validate_object_meta_update
from kubeherd.api.validation.pods import (
    MIRROR_ANNOTATION,
    _container_common,
    _mirror_annotation_update,
    _pod_metadata_and_spec,
    _validate_volumes,
    semantic_equal,
    spec_diff,
)

PATH = "spec.ephemeralContainers"
NOT_ALLOWED = "cannot be set for an Ephemeral Container"
# what an ephemeral container may not set, in the order upstream's allow-list walk reports them
FORBIDDEN_FIELDS = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe", "readinessProbe",
                    "startupProbe", "lifecycle")


def _is_set(value: Any) -> bool:
    return value is not None and value != {} and value != [] and value != ""


def validate_ephemeral_containers(spec: Mapping[str, Any], path: str = PATH) -> list[Cause]:
    """Upstream ``validateEphemeralContainers``: each ephemeral container of a pod spec."""
    containers = seq(spec.get("ephemeralContainers"))
    if not containers:
        return []
    volumes, _ = _validate_volumes(seq(spec.get("volumes")), child("spec", "volumes"))
    others = {string(mapping(c).get("name")) for key in ("containers", "initContainers") for c in seq(spec.get(key))}
    names = set(others)
    errs: list[Cause] = []
    for i, raw in enumerate(containers):
        ctr = mapping(raw)
        cpath = index(path, i)
        errs.extend(_container_common(ctr, volumes, cpath))
        image = string(ctr.get("image"))
        if image != image.strip():
            errs.append(invalid(child(cpath, "image"), image, "must not have leading or trailing whitespace"))
        name = string(ctr.get("name"))
        if name in names:
            errs.append(duplicate(child(cpath, "name"), name))
        else:
            names.add(name)
        target = string(ctr.get("targetContainerName"))
        if target and target not in others:
            errs.append(not_found(child(cpath, "targetContainerName"), target))
        errs.extend(forbidden(child(cpath, fld), NOT_ALLOWED) for fld in FORBIDDEN_FIELDS if _is_set(ctr.get(fld)))
        for m, mount in enumerate(seq(ctr.get("volumeMounts"))):
            for fld in ("subPath", "subPathExpr"):
                if string(mapping(mount).get(fld)):
                    errs.append(forbidden(child(index(child(cpath, "volumeMounts"), m), fld), NOT_ALLOWED))
    return errs


def validate_pod_ephemeral_containers_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Replacing `old` with `new` through the ephemeralcontainers subresource."""
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_pod_metadata_and_spec(new, False))
    errs.extend(_mirror_annotation_update(new, old))
    if MIRROR_ANNOTATION in mapping(mapping(old.get("metadata")).get("annotations")):
        return [forbidden("", "static pods do not support ephemeral containers")]
    new_spec = mapping(new.get("spec"))
    errs.extend(validate_ephemeral_containers(new_spec))
    by_name = {string(mapping(c).get("name")): c for c in seq(new_spec.get("ephemeralContainers"))}
    for previous in seq(mapping(old.get("spec")).get("ephemeralContainers")):
        name = string(mapping(previous).get("name"))
        if name not in by_name:
            errs.append(forbidden(PATH, f"existing ephemeral containers {go_quote(name)} may not be removed\n"))
        elif not semantic_equal(previous, by_name[name]):
            errs.append(forbidden(PATH, f"existing ephemeral containers {go_quote(name)} may not be changed\n"
                                        + spec_diff(previous, by_name[name], "core.EphemeralContainer")))
    return errs
