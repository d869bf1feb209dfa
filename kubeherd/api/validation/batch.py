"""batch/v1 Job and CronJob.

Job validation expects what upstream's Job strategy does before validating: unless
``spec.manualSelector`` is true, the registry generates ``spec.selector`` from the
Job's UID and stamps the matching labels on the pod template.  CronJob schedules are
only checked for presence and for ``TZ=`` prefixes; cron syntax is not parsed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubeherd.api import selectors as _selectors
from kubeherd.api.validation._obj import integer, mapping, string
from kubeherd.api.validation.field import (
    FIELD_IMMUTABLE,
    Cause,
    GoRaw,
    child,
    go_string_map,
    invalid,
    key,
    not_supported,
    required,
)
from kubeherd.api.validation.meta import (
    go_label_selector,
    validate_label_selector,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeherd.api.validation.names import DNS1123_SUBDOMAIN, is_dns1123_label
from kubeherd.api.validation.pods import go_pod_template, semantic_equal, validate_pod_template_spec

__all__ = ["validate_cron_job", "validate_cron_job_update", "validate_job", "validate_job_update"]

_LEGACY_UID_LABEL = "controller-uid"
_LEGACY_NAME_LABEL = "job-name"
_UID_LABEL = "batch.kubernetes.io/controller-uid"
_NAME_LABEL = "batch.kubernetes.io/job-name"
_MAX_INDEXED_PARALLELISM = 100000


def _has_label(meta: Mapping[str, Any], label: str, expected: str, path: str) -> list[Cause]:
    labels = mapping(meta.get("labels"))
    if label not in labels:
        return [required(key(child(path, "labels"), label), f"must be '{expected}'")]
    if labels[label] != expected:
        rendered = GoRaw(go_string_map({str(k): str(v) for k, v in labels.items()}))
        return [invalid(key(child(path, "labels"), label), rendered, f"must be '{expected}'")]
    return []


def _generated_selector(job: Mapping[str, Any]) -> list[Cause]:
    spec = mapping(job.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    meta = mapping(job.get("metadata"))
    uid, name = string(meta.get("uid")), string(meta.get("name"))
    errs: list[Cause] = []
    if not uid:
        errs.append(required("metadata.uid"))
    tmeta = mapping(mapping(spec.get("template")).get("metadata"))
    tpath = "spec.template.metadata"
    for label, expected in (
        (_LEGACY_UID_LABEL, uid),
        (_LEGACY_NAME_LABEL, name),
        (_UID_LABEL, uid),
        (_NAME_LABEL, name),
    ):
        errs.extend(_has_label(tmeta, label, expected, tpath))
    expected_labels = {_UID_LABEL: uid, _NAME_LABEL: name, _LEGACY_UID_LABEL: uid, _LEGACY_NAME_LABEL: name}
    try:
        selector = _selectors.label_selector_from_dict(mapping(spec.get("selector")))
    except _selectors.SelectorError:
        return errs
    if not selector.matches(expected_labels):
        errs.append(
            invalid(
                "spec.selector",
                go_label_selector(mapping(spec.get("selector"))),
                "`selector` not auto-generated",
            )
        )
    return errs


def _job_spec_body(spec: Mapping[str, Any], path: str) -> list[Cause]:
    """Upstream ``validateJobSpec`` (everything but the selector)."""
    errs: list[Cause] = []
    for fld in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        errs.extend(validate_nonnegative(integer(spec, fld, child(path, fld), errs), child(path, fld)))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(child(path, "completionMode"), mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if spec.get("completions") is None:
                errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
            parallelism = spec.get("parallelism")
            if isinstance(parallelism, int) and parallelism > _MAX_INDEXED_PARALLELISM:
                errs.append(
                    invalid(
                        child(path, "parallelism"),
                        parallelism,
                        f"must be less than or equal to {_MAX_INDEXED_PARALLELISM} when completion mode is Indexed",
                    )
                )
    if mode != "Indexed":
        for fld in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(fld) is not None:
                errs.append(invalid(child(path, fld), spec.get(fld), "requires indexed completion mode"))
    template = mapping(spec.get("template"))
    errs.extend(validate_pod_template_spec(template, child(path, "template")))
    restart = mapping(template.get("spec")).get("restartPolicy") or ""
    rpath = child(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(rpath, restart, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(invalid(rpath, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _job_spec(spec: Mapping[str, Any]) -> list[Cause]:
    errs = _job_spec_body(spec, "spec")
    selector = spec.get("selector")
    if selector is None:
        errs.append(required("spec.selector"))
    else:
        errs.extend(validate_label_selector(selector, "spec.selector"))
    try:
        built = _selectors.label_selector_from_dict(None if selector is None else mapping(selector))
    except _selectors.SelectorError:
        return errs
    raw_labels = mapping(mapping(spec.get("template")).get("metadata")).get("labels")
    labels = {str(k): str(v) for k, v in mapping(raw_labels).items()}
    if not built.matches(labels):
        rendered = GoRaw(go_string_map(None if raw_labels is None else labels))
        errs.append(
            invalid("spec.template.metadata.labels", rendered, "`selector` does not match template `labels`")
        )
    return errs


def validate_job(job: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(job.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_generated_selector(job))
    spec = mapping(job.get("spec"))
    errs.extend(_job_spec(spec))
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        name = string(mapping(job.get("metadata")).get("name"))
        hostname = f"{name}-{completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(
                invalid(
                    "metadata.name", name, f"will not able to create pod with invalid DNS label: {hostname}"
                )
            )
    return errs


def _scheduling_directives_mutable(job: Mapping[str, Any]) -> bool:
    # upstream allows these while a suspended Job has never started
    return mapping(job.get("spec")).get("suspend") is True and not mapping(job.get("status")).get("startTime")


def validate_job_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    errs.extend(_job_spec(new_spec))
    if new_spec.get("completions") != old_spec.get("completions") and not (
        new_spec.get("completionMode") == "Indexed"
        and new_spec.get("completions") == new_spec.get("parallelism")
    ):
        errs.append(invalid("spec.completions", new_spec.get("completions"), FIELD_IMMUTABLE))
    if not semantic_equal(new_spec.get("selector"), old_spec.get("selector")):
        sel = new_spec.get("selector")
        errs.append(
            invalid(
                "spec.selector", go_label_selector(None if sel is None else mapping(sel)), FIELD_IMMUTABLE
            )
        )
    new_template = dict(mapping(new_spec.get("template")))
    old_template = dict(mapping(old_spec.get("template")))
    if _scheduling_directives_mutable(old):
        new_template = _without_scheduling(new_template)
        old_template = _without_scheduling(old_template)
    if not semantic_equal(new_template, old_template):
        errs.append(invalid("spec.template", go_pod_template(new_spec.get("template")), FIELD_IMMUTABLE))
    for fld in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if not semantic_equal(new_spec.get(fld), old_spec.get(fld)):
            errs.append(invalid(child("spec", fld), new_spec.get(fld), FIELD_IMMUTABLE))
    return errs


def _without_scheduling(template: dict[str, Any]) -> dict[str, Any]:
    out = dict(template)
    meta = dict(mapping(out.get("metadata")))
    meta.pop("labels", None)
    meta.pop("annotations", None)
    out["metadata"] = meta
    spec = dict(mapping(out.get("spec")))
    for fld in ("nodeSelector", "tolerations", "schedulingGates"):
        spec.pop(fld, None)
    affinity = dict(mapping(spec.get("affinity")))
    affinity.pop("nodeAffinity", None)
    spec["affinity"] = affinity
    out["spec"] = spec
    return out


# CronJob ------------------------------------------------------------------------------

_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def _time_zone(tz: Any, path: str) -> list[Cause]:
    if tz is None:
        return []
    if not isinstance(tz, str) or tz == "":
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [invalid(path, tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [
            invalid(
                path,
                tz,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ]
    return []


def _cron_job_spec(spec: Mapping[str, Any], old_spec: Mapping[str, Any] | None) -> list[Cause]:
    errs: list[Cause] = []
    schedule = string(spec.get("schedule"))
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in string(old_spec.get("schedule"))
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(
                invalid(
                    "spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"
                )
            )
        elif not allow_tz and "TZ" in schedule:
            errs.append(
                invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    errs.extend(validate_nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds"))
    if old_spec is None or spec.get("timeZone") != old_spec.get("timeZone"):
        errs.extend(_time_zone(spec.get("timeZone"), "spec.timeZone"))
    policy = spec.get("concurrencyPolicy")
    if policy and policy not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    job_template = mapping(spec.get("jobTemplate"))
    job_spec = mapping(job_template.get("spec"))
    errs.extend(_job_spec_body(job_spec, "spec.jobTemplate.spec"))
    if job_spec.get("selector") is not None:
        errs.append(
            invalid(
                "spec.jobTemplate.spec.selector",
                go_label_selector(mapping(job_spec.get("selector"))),
                "`selector` will be auto-generated",
            )
        )
    if job_spec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    for fld in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.extend(validate_nonnegative(spec.get(fld), child("spec", fld)))
    return errs


def validate_cron_job(cj: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(cj.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_cron_job_spec(mapping(cj.get("spec")), None))
    name = string(mapping(cj.get("metadata")).get("name"))
    if len(name) > 52:
        # the controller appends an 11-character suffix when naming Jobs
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs


def validate_cron_job_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_cron_job_spec(mapping(new.get("spec")), mapping(old.get("spec"))))
    return errs
