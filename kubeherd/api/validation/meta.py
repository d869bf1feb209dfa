"""ObjectMeta, label and label-selector validation (``k8s.io/apimachinery/pkg/api/validation``
plus the core group's extra finalizer check).

These run on every built-in kind, so they take plain dicts and a field path prefix
and never assume a field is present or well typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubeherd.api.validation.field import (
    FIELD_IMMUTABLE,
    IS_NEGATIVE,
    Cause,
    GoRaw,
    child,
    forbidden,
    go_quote,
    go_string_map,
    go_string_slice,
    index,
    invalid,
    required,
    too_long,
)
from kubeherd.api.validation.names import (
    is_dns1123_label,
    is_qualified_name,
    is_valid_label_value,
    name_function,
)

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "go_label_selector",
    "validate_annotations",
    "validate_finalizer_name",
    "validate_immutable",
    "validate_label_name",
    "validate_label_selector",
    "validate_labels",
    "validate_nonnegative",
    "validate_object_meta",
    "validate_object_meta_update",
]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def validate_nonnegative(value: Any, path: str) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, IS_NEGATIVE)]
    return []


def validate_label_name(name: str, path: str) -> list[Cause]:
    return [invalid(path, name, msg) for msg in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[Cause]:
    """Label keys are qualified names, values ≤ 63 chars of the label alphabet."""
    errs: list[Cause] = []
    for k, v in _mapping(labels).items():
        errs.extend(validate_label_name(str(k), path))
        errs.extend(invalid(path, v, msg) for msg in is_valid_label_value(str(v)) if isinstance(v, str))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    """Keys are qualified names (case-insensitive); keys plus values ≤ 256 KiB."""
    errs: list[Cause] = []
    total = 0
    for k, v in _mapping(annotations).items():
        errs.extend(invalid(path, k, msg) for msg in is_qualified_name(str(k).lower()))
        total += len(str(k).encode()) + len(str(v if v is not None else "").encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_finalizer_name(name: str, path: str) -> list[Cause]:
    return [invalid(path, name, msg) for msg in is_qualified_name(name)]


def _kube_finalizer_name(name: str, path: str) -> list[Cause]:
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        return [invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def _validate_finalizers(finalizers: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    names = [str(f) for f in finalizers]
    for f in names:
        errs.extend(validate_finalizer_name(f, path))
    if "orphan" in names and "foregroundDeletion" in names:
        errs.append(invalid(path, names, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _go_owner_reference(ref: Mapping[str, Any]) -> str:
    def ptr_bool(v: Any) -> str:
        return "(*bool)(nil)" if v is None else f"(*bool)({'true' if v else 'false'})"

    return (
        f"v1.OwnerReference{{APIVersion:{go_quote(str(ref.get('apiVersion') or ''))}, "
        f"Kind:{go_quote(str(ref.get('kind') or ''))}, Name:{go_quote(str(ref.get('name') or ''))}, "
        f"UID:{go_quote(str(ref.get('uid') or ''))}, Controller:{ptr_bool(ref.get('controller'))}, "
        f"BlockOwnerDeletion:{ptr_bool(ref.get('blockOwnerDeletion'))}}}"
    )


def _parse_api_version(api_version: str) -> tuple[str, str] | None:
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def _validate_owner_references(refs: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    first_controller = ""
    for raw in refs:
        ref = _mapping(raw)
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        gv = _parse_api_version(api_version)
        group, version = gv if gv is not None else ("", "")
        if not version:
            errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(child(path, "kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(child(path, "name"), str(ref.get("name") or ""), "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(child(path, "uid"), str(ref.get("uid") or ""), "uid must not be empty"))
        if (group, version, kind) == ("", "v1", "Event"):
            errs.append(
                invalid(
                    path, GoRaw(_go_owner_reference(ref)), "/v1, Kind=Event is disallowed from being an owner"
                )
            )
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name') or ''}"
            if first_controller:
                rendered = (
                    "[]v1.OwnerReference{" + ", ".join(_go_owner_reference(_mapping(r)) for r in refs) + "}"
                )
                errs.append(
                    invalid(
                        path,
                        GoRaw(rendered),
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def validate_object_meta(
    meta: Mapping[str, Any] | None,
    namespaced: bool,
    name_rule: str,
    create: bool = True,
    path: str = "metadata",
) -> list[Cause]:
    """Upstream ``ValidateObjectMeta`` for built-in kinds.

    ``name_rule`` is one of :data:`~kubeherd.api.validation.names.NAME_RULES` or
    ``"path-segment"``.  With ``create`` set, an empty ``name`` next to a
    ``generateName`` is accepted: upstream generates the name before validating.
    A cluster-scoped object must arrive here with its namespace already cleared.
    """
    meta = _mapping(meta)
    name_fn = name_function(name_rule)
    errs: list[Cause] = []
    generate_name = meta.get("generateName") or ""
    name = meta.get("name") or ""
    if generate_name:
        errs.extend(
            invalid(child(path, "generateName"), generate_name, m) for m in name_fn(str(generate_name), True)
        )
    if not name:
        if not (create and generate_name):
            errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs.extend(invalid(child(path, "name"), name, m) for m in name_fn(str(name), False))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required(child(path, "namespace")))
        else:
            errs.extend(
                invalid(child(path, "namespace"), namespace, m) for m in is_dns1123_label(str(namespace))
            )
    elif namespace:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    errs.extend(validate_nonnegative(meta.get("generation"), child(path, "generation")))
    errs.extend(validate_labels(meta.get("labels"), child(path, "labels")))
    errs.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    errs.extend(_validate_owner_references(_seq(meta.get("ownerReferences")), child(path, "ownerReferences")))
    finalizers = _seq(meta.get("finalizers"))
    errs.extend(_validate_finalizers(finalizers, child(path, "finalizers")))
    for i, f in enumerate(finalizers):
        errs.extend(_kube_finalizer_name(str(f), index(child(path, "finalizers"), i)))
    return errs


def _go_time(value: Any) -> str:
    """``metav1.Time`` printed by Go's ``time.Time.String`` (UTC)."""
    if not value:
        return "0001-01-01 00:00:00 +0000 UTC"
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _same_time(a: Any, b: Any) -> bool:
    return _go_time(a) == _go_time(b) if (a or b) else True


def validate_immutable(new: Any, old: Any, path: str, rendered: Any = None) -> list[Cause]:
    """``field is immutable`` when ``new != old``; ``rendered`` overrides the printed value."""
    if new != old:
        return [invalid(path, new if rendered is None else rendered, FIELD_IMMUTABLE)]
    return []


def validate_object_meta_update(
    new_meta: Mapping[str, Any] | None, old_meta: Mapping[str, Any] | None, path: str = "metadata"
) -> list[Cause]:
    """Upstream ``ValidateObjectMetaUpdate``: identity fields never change.

    Like upstream, the new object must carry a ``resourceVersion``; the store fills
    it in for unconditional updates before validating.
    """
    new, old = _mapping(new_meta), _mapping(old_meta)
    errs: list[Cause] = []
    if old.get("deletionTimestamp"):
        extra = sorted(
            set(map(str, _seq(new.get("finalizers")))) - set(map(str, _seq(old.get("finalizers"))))
        )
        if extra:
            errs.append(
                forbidden(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {go_string_slice(extra)}",
                )
            )
    if not new.get("resourceVersion"):
        errs.append(invalid(child(path, "resourceVersion"), "", "must be specified for an update"))
    new_gen, old_gen = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(invalid(child(path, "generation"), new_gen, "must not be decremented"))
    for fld in ("name", "namespace", "uid"):
        errs.extend(validate_immutable(new.get(fld) or "", old.get(fld) or "", child(path, fld)))
    if not _same_time(new.get("creationTimestamp"), old.get("creationTimestamp")):
        errs.append(
            invalid(
                child(path, "creationTimestamp"),
                GoRaw(_go_time(new.get("creationTimestamp"))),
                FIELD_IMMUTABLE,
            )
        )
    new_del, old_del = new.get("deletionTimestamp"), old.get("deletionTimestamp")
    if bool(new_del) != bool(old_del) or not _same_time(new_del, old_del):
        errs.append(
            invalid(
                child(path, "deletionTimestamp"),
                GoRaw(_go_time(new_del)) if new_del else None,
                FIELD_IMMUTABLE,
            )
        )
    errs.extend(
        validate_immutable(
            new.get("deletionGracePeriodSeconds"),
            old.get("deletionGracePeriodSeconds"),
            child(path, "deletionGracePeriodSeconds"),
        )
    )
    errs.extend(validate_labels(new.get("labels"), child(path, "labels")))
    errs.extend(validate_annotations(new.get("annotations"), child(path, "annotations")))
    errs.extend(_validate_owner_references(_seq(new.get("ownerReferences")), child(path, "ownerReferences")))
    for i, f in enumerate(_seq(new.get("finalizers"))):
        errs.extend(_kube_finalizer_name(str(f), index(child(path, "finalizers"), i)))
    return errs


# Label selectors in API objects --------------------------------------------------------


def go_label_selector(selector: Mapping[str, Any] | None) -> GoRaw:
    """``%#v`` of a ``metav1.LabelSelector``, as upstream prints it in field errors."""
    if selector is None:
        return GoRaw("null")
    labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    if exprs is None:
        rendered_exprs = "[]v1.LabelSelectorRequirement(nil)"
    else:
        parts = []
        for e in _seq(exprs):
            e = _mapping(e)
            values = e.get("values")
            parts.append(
                f"v1.LabelSelectorRequirement{{Key:{go_quote(str(e.get('key') or ''))}, "
                f"Operator:{go_quote(str(e.get('operator') or ''))}, "
                f"Values:{go_string_slice(None if values is None else [str(v) for v in _seq(values)])}}}"
            )
        rendered_exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    rendered_labels = go_string_map(
        None if labels is None else {str(k): str(v) for k, v in _mapping(labels).items()}
    )
    return GoRaw(f"v1.LabelSelector{{MatchLabels:{rendered_labels}, MatchExpressions:{rendered_exprs}}}")


def validate_label_selector(selector: Any, path: str, allow_invalid_values: bool = False) -> list[Cause]:
    """Upstream ``ValidateLabelSelector`` for the API form of a selector."""
    if selector is None:
        return []
    sel = _mapping(selector)
    errs = validate_labels(sel.get("matchLabels"), child(path, "matchLabels"))
    for i, raw in enumerate(_seq(sel.get("matchExpressions"))):
        expr = _mapping(raw)
        epath = index(child(path, "matchExpressions"), i)
        op = expr.get("operator") or ""
        values = _seq(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(child(epath, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    forbidden(
                        child(epath, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errs.append(invalid(child(epath, "operator"), op, "not a valid selector operator"))
        errs.extend(validate_label_name(str(expr.get("key") or ""), child(epath, "key")))
        if not allow_invalid_values:
            for j, v in enumerate(values):
                errs.extend(
                    invalid(index(child(epath, "values"), j), v, m) for m in is_valid_label_value(str(v))
                )
    return errs
