"""Printers for ``storage.k8s.io``: classes, CSI objects and volume attachments."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, mapping, name, quantity, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

GROUP = "storage.k8s.io"

STORAGE_CLASS_COLUMNS = (
    NAME,
    Column("Provisioner", "string", swagger("storage/v1 StorageClass.provisioner")),
    Column("ReclaimPolicy", "string", swagger("storage/v1 StorageClass.reclaimPolicy")),
    Column("VolumeBindingMode", "string", swagger("storage/v1 StorageClass.volumeBindingMode")),
    Column("AllowVolumeExpansion", "string", swagger("storage/v1 StorageClass.allowVolumeExpansion")),
    AGE,
)

_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_DEFAULT_VOLUME_ATTRIBUTES_CLASS = "volumeattributesclass.alpha.kubernetes.io/is-default-class"


@printer(GROUP, "StorageClass", STORAGE_CLASS_COLUMNS)
def storage_class_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    annotations = mapping(dig(obj, "metadata", "annotations"))
    display = name(obj)
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS):
        display += " (default)"
    # ALLOWVOLUMEEXPANSION is declared a string but sent as a boolean, as upstream does.
    return [
        display,
        str(obj.get("provisioner") or ""),
        str(obj.get("reclaimPolicy") or "Delete"),
        str(obj.get("volumeBindingMode") or "Immediate"),
        obj.get("allowVolumeExpansion") is True,
        age(obj, now),
    ]


VOLUME_ATTRIBUTES_CLASS_COLUMNS = (
    NAME,
    Column("DriverName", "string", swagger("storage/v1beta1 VolumeAttributesClass.driverName")),
    AGE,
)


@printer(GROUP, "VolumeAttributesClass", VOLUME_ATTRIBUTES_CLASS_COLUMNS)
def volume_attributes_class_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    display = name(obj)
    if mapping(dig(obj, "metadata", "annotations")).get(_DEFAULT_VOLUME_ATTRIBUTES_CLASS) == "true":
        display += " (default)"
    return [display, str(obj.get("driverName") or ""), age(obj, now)]


VOLUME_ATTACHMENT_COLUMNS = (
    NAME,
    Column("Attacher", "string", swagger("storage/v1 VolumeAttachmentSpec.attacher"), format="name"),
    Column("PV", "string", swagger("storage/v1 VolumeAttachmentSource.persistentVolumeName")),
    Column("Node", "string", swagger("storage/v1 VolumeAttachmentSpec.nodeName")),
    Column("Attached", "boolean", swagger("storage/v1 VolumeAttachmentStatus.attached")),
    AGE,
)


@printer(GROUP, "VolumeAttachment", VOLUME_ATTACHMENT_COLUMNS)
def volume_attachment_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    return [
        name(obj),
        str(spec.get("attacher") or ""),
        str(dig(spec, "source", "persistentVolumeName", default="")),
        str(spec.get("nodeName") or ""),
        dig(obj, "status", "attached") is True,
        age(obj, now),
    ]


CSI_DRIVER_COLUMNS = (
    NAME,
    Column("AttachRequired", "boolean", swagger("storage/v1 CSIDriverSpec.attachRequired")),
    Column("PodInfoOnMount", "boolean", swagger("storage/v1 CSIDriverSpec.podInfoOnMount")),
    Column("StorageCapacity", "boolean", swagger("storage/v1 CSIDriverSpec.storageCapacity")),
    Column("TokenRequests", "string", swagger("storage/v1 CSIDriverSpec.tokenRequests")),
    Column("RequiresRepublish", "boolean", swagger("storage/v1 CSIDriverSpec.requiresRepublish")),
    Column("Modes", "string", swagger("storage/v1 CSIDriverSpec.volumeLifecycleModes")),
    AGE,
)


@printer(GROUP, "CSIDriver", CSI_DRIVER_COLUMNS)
def csi_driver_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    token_requests = spec.get("tokenRequests")
    audiences = "<unset>"
    if isinstance(token_requests, list):  # an empty list is set, just empty
        audiences = ",".join(str(dig(t, "audience", default="")) for t in token_requests)
    return [
        name(obj),
        spec.get("attachRequired") is not False,
        spec.get("podInfoOnMount") is True,
        spec.get("storageCapacity") is True,
        audiences,
        spec.get("requiresRepublish") is True,
        ",".join(str(m) for m in seq(spec.get("volumeLifecycleModes"))) or "<none>",
        age(obj, now),
    ]


CSI_NODE_COLUMNS = (
    NAME,
    Column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
    AGE,
)


@printer(GROUP, "CSINode", CSI_NODE_COLUMNS)
def csi_node_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), len(seq(dig(obj, "spec", "drivers"))), age(obj, now)]


CSI_STORAGE_CAPACITY_COLUMNS = (
    NAME,
    Column("StorageClassName", "string", swagger("storage/v1 CSIStorageCapacity.storageClassName")),
    Column("Capacity", "string", swagger("storage/v1 CSIStorageCapacity.capacity")),
)


@printer(GROUP, "CSIStorageCapacity", CSI_STORAGE_CAPACITY_COLUMNS)
def csi_storage_capacity_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    capacity = obj.get("capacity")
    return [
        name(obj),
        str(obj.get("storageClassName") or ""),
        "<unset>" if capacity is None else quantity(capacity),
    ]
