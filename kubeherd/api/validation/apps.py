"""apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet.

Besides upstream's ``pkg/apis/apps/validation`` this includes the rule apps/v1
strategies add on update: ``spec.selector`` is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeherd.api import selectors as _selectors
from kubeherd.api.validation._obj import integer, is_int, mapping, seq
from kubeherd.api.validation.field import (
    FIELD_IMMUTABLE,
    Cause,
    GoRaw,
    child,
    forbidden,
    go_string_map,
    invalid,
    not_supported,
    required,
)
from kubeherd.api.validation.meta import (
    go_label_selector,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeherd.api.validation.names import DNS1123_LABEL, DNS1123_SUBDOMAIN, is_valid_percent
from kubeherd.api.validation.pods import semantic_equal, validate_pod_template_spec

__all__ = [
    "validate_daemon_set",
    "validate_daemon_set_update",
    "validate_deployment",
    "validate_deployment_update",
    "validate_replica_set",
    "validate_replica_set_update",
    "validate_stateful_set",
    "validate_stateful_set_update",
]

_SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _as_selector(selector: Any) -> _selectors.LabelSelector | None:
    """The selector upstream would build, or None if it cannot be built."""
    try:
        return _selectors.label_selector_from_dict(selector if selector is None else mapping(selector))
    except _selectors.SelectorError:
        return None


def _template_labels(template: Mapping[str, Any]) -> tuple[dict[str, str], GoRaw]:
    raw = mapping(template.get("metadata")).get("labels")
    labels = {str(k): str(v) for k, v in mapping(raw).items()}
    return labels, GoRaw(go_string_map(None if raw is None else labels))


def _selector_checks(spec: Mapping[str, Any], kind_word: str) -> list[Cause]:
    """Required, well-formed, non-empty selector (Deployment/ReplicaSet/StatefulSet)."""
    selector = spec.get("selector")
    if selector is None:
        return [required("spec.selector")]
    errs = validate_label_selector(selector, "spec.selector")
    sel = mapping(selector)
    if not mapping(sel.get("matchLabels")) and not seq(sel.get("matchExpressions")):
        errs.append(
            invalid("spec.selector", go_label_selector(sel), f"empty selector is invalid for {kind_word}")
        )
    return errs


def _intstr_percent(value: Any) -> int | None:
    if isinstance(value, str) and not is_valid_percent(value):
        return int(value[:-1])
    return None


def _intstr_value(value: Any) -> int:
    percent = _intstr_percent(value)
    if percent is not None:
        return percent
    return int(value) if is_int(value) else 0


def _positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_percent(value)]
    if is_int(value):
        return validate_nonnegative(value, path)
    if value is None:
        return []
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def _not_more_than_100_percent(value: Any, path: str) -> list[Cause]:
    percent = _intstr_percent(value)
    if percent is not None and percent > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def _template_for_replica_set(
    spec: Mapping[str, Any], selector: _selectors.LabelSelector, kind: str
) -> list[Cause]:
    template = spec.get("template")
    if template is None:
        return [required("spec.template")]
    tmpl = mapping(template)
    errs: list[Cause] = []
    labels, rendered = _template_labels(tmpl)
    if not selector.empty and not selector.matches(labels):
        errs.append(invalid("spec.template.metadata.labels", rendered, _SELECTOR_MISMATCH))
    errs.extend(validate_pod_template_spec(tmpl, "spec.template"))
    tspec = mapping(tmpl.get("spec"))
    restart = tspec.get("restartPolicy") or "Always"
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errs


def _selector_and_template(spec: Mapping[str, Any], kind_word: str, kind: str) -> list[Cause]:
    errs = _selector_checks(spec, kind_word)
    selector = _as_selector(spec.get("selector"))
    if selector is None:
        errs.append(
            invalid(
                "spec.selector", go_label_selector(mapping(spec.get("selector"))), "invalid label selector"
            )
        )
    else:
        errs.extend(_template_for_replica_set(spec, selector, kind))
    return errs


def _selector_immutable(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    new_sel = mapping(new.get("spec")).get("selector")
    old_sel = mapping(old.get("spec")).get("selector")
    if not semantic_equal(new_sel, old_sel):
        return [
            invalid(
                "spec.selector",
                go_label_selector(None if new_sel is None else mapping(new_sel)),
                FIELD_IMMUTABLE,
            )
        ]
    return []


# Deployment -------------------------------------------------------------------------------


def _deployment_strategy(strategy: Any) -> list[Cause]:
    if strategy is None:
        return []
    strat = mapping(strategy)
    stype = strat.get("type") or "RollingUpdate"
    path = "spec.strategy"
    errs: list[Cause] = []
    if stype == "Recreate":
        if strat.get("rollingUpdate") is not None:
            errs.append(
                forbidden(
                    child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"
                )
            )
    elif stype == "RollingUpdate":
        rolling = mapping(strat.get("rollingUpdate"))
        max_unavailable = rolling.get("maxUnavailable", "25%")
        max_surge = rolling.get("maxSurge", "25%")
        rpath = child(path, "rollingUpdate")
        errs.extend(_positive_int_or_percent(max_unavailable, child(rpath, "maxUnavailable")))
        errs.extend(_positive_int_or_percent(max_surge, child(rpath, "maxSurge")))
        if _intstr_value(max_unavailable) == 0 and _intstr_value(max_surge) == 0:
            errs.append(
                invalid(child(rpath, "maxUnavailable"), max_unavailable, "may not be 0 when `maxSurge` is 0")
            )
        errs.extend(_not_more_than_100_percent(max_unavailable, child(rpath, "maxUnavailable")))
    else:
        errs.append(not_supported(path, dict(strat), ["Recreate", "RollingUpdate"]))
    return errs


def _deployment_spec(spec: Mapping[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    errs.extend(validate_nonnegative(integer(spec, "replicas", "spec.replicas", errs, 1), "spec.replicas"))
    errs.extend(_selector_and_template(spec, "deployment", "ReplicaSet"))
    errs.extend(_deployment_strategy(spec.get("strategy")))
    min_ready = integer(spec, "minReadySeconds", "spec.minReadySeconds", errs, 0) or 0
    errs.extend(validate_nonnegative(min_ready, "spec.minReadySeconds"))
    errs.extend(validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    deadline = integer(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", errs)
    if deadline is not None:
        errs.extend(validate_nonnegative(deadline, "spec.progressDeadlineSeconds"))
        if deadline <= min_ready:
            errs.append(
                invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
            )
    return errs


def validate_deployment(obj: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_deployment_spec(mapping(obj.get("spec"))))
    return errs


def validate_deployment_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_deployment_spec(mapping(new.get("spec"))))
    errs.extend(_selector_immutable(new, old))
    return errs


# ReplicaSet -------------------------------------------------------------------------------


def _replica_set_spec(spec: Mapping[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    errs.extend(validate_nonnegative(integer(spec, "replicas", "spec.replicas", errs, 1), "spec.replicas"))
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    # upstream reuses the Deployment wording for ReplicaSets
    errs.extend(_selector_and_template(spec, "deployment", "ReplicaSet"))
    return errs


def validate_replica_set(obj: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_replica_set_spec(mapping(obj.get("spec"))))
    return errs


def validate_replica_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_replica_set_spec(mapping(new.get("spec"))))
    errs.extend(_selector_immutable(new, old))
    return errs


# StatefulSet ------------------------------------------------------------------------------


def _stateful_set_spec(spec: Mapping[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    policy = spec.get("podManagementPolicy")
    if policy and policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = mapping(spec.get("updateStrategy"))
    stype = strategy.get("type") or "RollingUpdate"
    if stype == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.append(
                invalid(
                    "spec.updateStrategy.rollingUpdate",
                    dict(mapping(strategy.get("rollingUpdate"))),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif stype == "RollingUpdate":
        rolling = mapping(strategy.get("rollingUpdate"))
        errs.extend(
            validate_nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
        )
        max_unavailable = rolling.get("maxUnavailable")
        if max_unavailable is not None:
            upath = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            errs.extend(_positive_int_or_percent(max_unavailable, upath))
            if _intstr_value(max_unavailable) == 0:
                errs.append(invalid(upath, max_unavailable, "cannot be 0"))
            errs.extend(_not_more_than_100_percent(max_unavailable, upath))
    else:
        errs.append(invalid("spec.updateStrategy", dict(strategy), "must be 'RollingUpdate' or 'OnDelete'"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        for fld in ("whenDeleted", "whenScaled"):
            value = mapping(retention).get(fld) or "Retain"
            if value not in ("Retain", "Delete"):
                errs.append(
                    not_supported(
                        child("spec.persistentVolumeClaimRetentionPolicy", fld), value, ["Retain", "Delete"]
                    )
                )
    errs.extend(validate_nonnegative(integer(spec, "replicas", "spec.replicas", errs, 1), "spec.replicas"))
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    ordinals = spec.get("ordinals")
    if ordinals is not None:
        errs.extend(validate_nonnegative(mapping(ordinals).get("start"), "spec.ordinals.start"))
    errs.extend(_selector_checks(spec, "statefulset"))
    selector = _as_selector(spec.get("selector"))
    tmpl = mapping(spec.get("template"))
    if selector is None:
        errs.append(invalid("spec.selector", go_label_selector(mapping(spec.get("selector"))), ""))
    else:
        labels, rendered = _template_labels(tmpl)
        if not selector.empty and not selector.matches(labels):
            errs.append(invalid("spec.template.metadata.labels", rendered, _SELECTOR_MISMATCH))
        # upstream checks only the template's labels and annotations here
        errs.extend(validate_labels(mapping(tmpl.get("metadata")).get("labels"), "spec.template.labels"))
        errs.extend(
            validate_annotations(
                mapping(tmpl.get("metadata")).get("annotations"), "spec.template.annotations"
            )
        )
    tspec = mapping(tmpl.get("spec"))
    restart = tspec.get("restartPolicy") or "Always"
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    return errs


def validate_stateful_set(obj: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), True, DNS1123_LABEL)
    errs.extend(_stateful_set_spec(mapping(obj.get("spec"))))
    return errs


_STS_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "persistentVolumeClaimRetentionPolicy",
)


def validate_stateful_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    errs.extend(_stateful_set_spec(new_spec))
    frozen_new = {k: v for k, v in new_spec.items() if k not in _STS_MUTABLE}
    frozen_old = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
    if not semantic_equal(frozen_new, frozen_old):
        errs.append(
            forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            )
        )
    return errs


# DaemonSet --------------------------------------------------------------------------------


def _daemon_set_strategy(strategy: Any) -> list[Cause]:
    strat = mapping(strategy)
    stype = strat.get("type") or "RollingUpdate"
    path = "spec.updateStrategy"
    if stype == "OnDelete":
        return []
    if stype != "RollingUpdate":
        return [not_supported(path, dict(strat), ["RollingUpdate", "OnDelete"])]
    rolling = mapping(strat.get("rollingUpdate"))
    rpath = child(path, "rollingUpdate")
    max_unavailable = rolling.get("maxUnavailable", 1)
    max_surge = rolling.get("maxSurge", 0)
    errs = _positive_int_or_percent(max_unavailable, child(rpath, "maxUnavailable"))
    errs.extend(_positive_int_or_percent(max_surge, child(rpath, "maxSurge")))
    errs.extend(_not_more_than_100_percent(max_unavailable, child(rpath, "maxUnavailable")))
    errs.extend(_not_more_than_100_percent(max_surge, child(rpath, "maxSurge")))
    has_unavailable = _intstr_value(max_unavailable) != 0
    has_surge = _intstr_value(max_surge) != 0
    if has_unavailable and has_surge:
        errs.append(
            invalid(child(rpath, "maxSurge"), max_surge, "may not be set when maxUnavailable is non-zero")
        )
    elif not has_unavailable and not has_surge:
        errs.append(required(child(rpath, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


def _daemon_set_spec(spec: Mapping[str, Any]) -> list[Cause]:
    selector_obj = spec.get("selector")
    errs = validate_label_selector(selector_obj, "spec.selector")
    tmpl = mapping(spec.get("template"))
    selector = _as_selector(selector_obj)
    labels, rendered = _template_labels(tmpl)
    if selector is not None and not selector.matches(labels):
        errs.append(invalid("spec.template.metadata.labels", rendered, _SELECTOR_MISMATCH))
    if selector_obj is not None:
        sel = mapping(selector_obj)
        if not mapping(sel.get("matchLabels")) and not seq(sel.get("matchExpressions")):
            errs.append(
                invalid("spec.selector", go_label_selector(sel), "empty selector is invalid for daemonset")
            )
    errs.extend(validate_pod_template_spec(tmpl, "spec.template"))
    tspec = mapping(tmpl.get("spec"))
    restart = tspec.get("restartPolicy") or "Always"
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_daemon_set_strategy(spec.get("updateStrategy")))
    errs.extend(validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    return errs


def validate_daemon_set(obj: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(obj.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_daemon_set_spec(mapping(obj.get("spec"))))
    return errs


def validate_daemon_set_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_daemon_set_spec(mapping(new.get("spec"))))
    errs.extend(_selector_immutable(new, old))
    return errs
