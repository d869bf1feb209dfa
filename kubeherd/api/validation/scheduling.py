"""PriorityClass validation (upstream ``ValidatePriorityClass`` and its update rule).

Names starting with `system-` belong to the two classes every cluster has, with their values;
any other class stays at or below 1,000,000,000 so system pods always outrank user pods. The
value and preemption policy of a class never change: pods copied them when they were created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeherd.api.validation.field import FIELD_IMMUTABLE, Cause, forbidden, invalid, not_supported, required
from kubeherd.api.validation.meta import validate_object_meta, validate_object_meta_update
from kubeherd.api.validation.names import DNS1123_SUBDOMAIN

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
PREEMPTION_POLICIES = ["Never", "PreemptLowerPriority"]


def _known_system_class(name: str, value: Any, global_default: bool) -> str:
    """Why `name` is not one of the system classes as they are defined, or ""."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    return f"globalDefault of {name} PriorityClass must be false" if global_default else ""


def validate_priority_class(pc: Mapping[str, Any]) -> list[Cause]:
    meta = pc.get("metadata")
    errs = validate_object_meta(meta, False, DNS1123_SUBDOMAIN)
    name = str((meta or {}).get("name") or "") if isinstance(meta, Mapping) else ""
    value = pc.get("value")
    if name.startswith(SYSTEM_PREFIX):
        problem = _known_system_class(name, value, pc.get("globalDefault") is True)
        if problem:
            errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                                                   f"reserved for system use only. error: {problem}"))
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(forbidden("value", "maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    policy = pc.get("preemptionPolicy")
    if policy == "":
        errs.append(required("preemptionPolicy"))
    elif policy is not None and policy not in PREEMPTION_POLICIES:
        errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def validate_priority_class_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    if new.get("value") != old.get("value"):
        errs.append(forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(invalid("preemptionPolicy", new.get("preemptionPolicy"), FIELD_IMMUTABLE))
    return errs
