"""Printers for ``resource.k8s.io`` (dynamic resource allocation)."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, name, seq, since
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

GROUP = "resource.k8s.io"


def name_and_age(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), age(obj, now)]


printer(GROUP, "DeviceClass", (NAME, AGE))(name_and_age)
printer(GROUP, "ResourceClaimTemplate", (NAME, AGE))(name_and_age)


def resource_claim_state(claim: Obj) -> str:
    """``deleted``, ``pending``, ``allocated`` and ``reserved``, as many as apply."""
    deleting = dig(claim, "metadata", "deletionTimestamp") is not None
    states = ["deleted"] if deleting else []
    if dig(claim, "status", "allocation") is None:
        if not deleting:
            states.append("pending")
    else:
        states.append("allocated")
        if seq(dig(claim, "status", "reservedFor")):
            states.append("reserved")
    return ",".join(states)


RESOURCE_CLAIM_COLUMNS = (
    NAME,
    Column("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."),
    AGE,
)


@printer(GROUP, "ResourceClaim", RESOURCE_CLAIM_COLUMNS)
def resource_claim_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), resource_claim_state(obj), age(obj, now)]


RESOURCE_SLICE_COLUMNS = (
    NAME,
    Column("Node", "string", swagger("resource/v1beta2 ResourceSliceSpec.nodeName")),
    Column("Driver", "string", swagger("resource/v1beta2 ResourceSliceSpec.driver")),
    Column("Pool", "string", swagger("resource/v1beta2 ResourcePool.name")),
    AGE,
)


@printer(GROUP, "ResourceSlice", RESOURCE_SLICE_COLUMNS)
def resource_slice_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [
        name(obj),
        str(dig(obj, "spec", "nodeName", default="")),
        str(dig(obj, "spec", "driver", default="")),
        str(dig(obj, "spec", "pool", "name", default="")),
        age(obj, now),
    ]


DEVICE_TAINT_RULE_COLUMNS = (
    NAME,
    Column("Key", "string", swagger("resource/v1beta2 DeviceTaint.key")),
    Column("Value", "string", swagger("resource/v1beta2 DeviceTaint.value")),
    Column("Effect", "string", swagger("resource/v1beta2 DeviceTaint.effect")),
    Column("TimeAdded", "string", swagger("resource/v1beta2 DeviceTaint.timeAdded")),
    AGE,
)


@printer(GROUP, "DeviceTaintRule", DEVICE_TAINT_RULE_COLUMNS)
def device_taint_rule_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    taint = dig(obj, "spec", "taint", default={})
    added = dig(taint, "timeAdded")
    return [
        name(obj),
        str(dig(taint, "key", default="")),
        str(dig(taint, "value", default="")),
        str(dig(taint, "effect", default="")),
        "" if added is None else since(added, now),
        age(obj, now),
    ]
