"""Per-kind strategies: the small differences between kinds that the generic registry asks about.

A strategy only answers questions (what to default on create, what to keep on update, how a
delete is graceful); the registry does all storage and bookkeeping. Kinds without a strategy of
their own get `Strategy`, which is right for most of them.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.services import fields as service_fields

Obj = dict[str, Any]


def rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_of(obj: Obj) -> Obj:
    """Everything but metadata and status: what a change to bumps metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Strategy:
    # Deleting returns the object (true) or a Status {status: Success} (false), as upstream.
    return_deleted_object = False

    def prepare_for_create(self, obj: Obj) -> None:
        """Defaults and reset fields on a new object (status is already handled by the registry)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Carry over what a client may not change through this path."""

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds the object lives on after a delete (0: delete now, unless finalizers hold it)."""
        return 0

    def on_delete_requested(self, obj: Obj) -> None:
        """Changes made to an object that a delete marks for deletion rather than removes."""

    def can_remove(self, obj: Obj) -> bool:
        """Whether an object marked for deletion may now leave storage (finalizers aside)."""
        return True


def _image_pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_pod_spec(spec: Obj) -> None:
    """The defaults upstream fills into every pod spec (and pod template spec)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            if isinstance(container.get("image"), str):
                container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def mirror_pod_refusal(spec: Obj) -> str:
    """Why a mirror pod may not be created (upstream's ServiceAccount admission), or "".

    A mirror pod stands for a static pod the kubelet runs from a file, so it may not lean on
    API objects: no service account, no secrets, no service account token projections."""
    if spec.get("serviceAccountName") or spec.get("serviceAccount"):
        return "a mirror pod may not reference service accounts"
    containers = [c for key in ("initContainers", "containers", "ephemeralContainers")
                  for c in spec.get(key) or [] if isinstance(c, dict)]
    secret = bool(spec.get("imagePullSecrets")) or any(
        isinstance(e, dict) and "secretRef" in e for c in containers for e in c.get("envFrom") or []) or any(
        isinstance(e, dict) and "secretKeyRef" in (e.get("valueFrom") or {}) for c in containers for e in c.get("env") or [])
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        sources = [s for s in ((volume.get("projected") or {}).get("sources") or []) if isinstance(s, dict)]
        if any("serviceAccountToken" in s for s in sources):
            return "a mirror pod may not use ServiceAccountToken volume projections"
        secret = secret or "secret" in volume or any("secret" in s for s in sources) or any(
            isinstance(volume.get(kind), dict) and "secretRef" in volume[kind]
            for kind in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos", "csi",
                         "azureFile"))
    return "a mirror pod may not reference secrets" if secret else ""


class PodStrategy(Strategy):
    return_deleted_object = True

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        annotations = (obj.get("metadata") or {}).get("annotations")
        mirror = isinstance(annotations, dict) and MIRROR_ANNOTATION in annotations
        if mirror and isinstance(spec, dict) and (refusal := mirror_pod_refusal(spec)):
            name = str((obj.get("metadata") or {}).get("name") or "")
            raise errors.APIError(403, "Forbidden", f'pods "{name}" is forbidden: {refusal}',
                                  {"name": name, "kind": "pods"})
        if isinstance(spec, dict):
            default_pod_spec(spec)
            spec.setdefault("enableServiceLinks", True)
            if not mirror:  # a mirror pod runs without a service account
                if "serviceAccountName" not in spec:
                    spec["serviceAccountName"] = spec.get("serviceAccount", "default")
                spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("tolerations", [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
            ])
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec if isinstance(spec, dict) else {})}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        # the Priority admission plugin set these at creation; a client that leaves them out keeps them
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict):
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old_spec.get(key) is not None:
                    spec[key] = old_spec[key]

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        spec = obj.get("spec", {})
        if not spec.get("nodeName"):
            return 0  # never ran anywhere: nothing to stop
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        return grace if isinstance(grace, int) and grace >= 0 else 30


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                  if isinstance(c, dict)]
    any_set = False
    guaranteed = True
    for c in containers:
        resources = c.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in limits or res in requests and str(requests[res]) != str(limits[res]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"


class NamespaceStrategy(Strategy):
    return_deleted_object = True

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec["finalizers"] = ["kubernetes"]
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        # spec.finalizers change only through the finalize subresource
        new["spec"] = {**(new.get("spec") or {}), "finalizers": (old.get("spec") or {}).get("finalizers", [])}
        labels = new["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = new["metadata"]["name"]

    def on_delete_requested(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"

    def can_remove(self, obj: Obj) -> bool:
        return not (obj.get("spec") or {}).get("finalizers")


# What upstream's defaulting fills into workload specs when the client leaves it out.
_SPEC_DEFAULTS: dict[str, Obj] = {
    "Deployment": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                   "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}},
    "ReplicaSet": {"replicas": 1},
    "ReplicationController": {"replicas": 1},
    "StatefulSet": {"replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
    "DaemonSet": {"revisionHistoryLimit": 10,
                  "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
    "CronJob": {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1},
}


class WorkloadStrategy(Strategy):
    """Objects with a pod template get the pod spec defaults in the template."""

    def prepare_for_create(self, obj: Obj) -> None:
        self._default(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        self._default(new)

    @staticmethod
    def _default(obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        for key, value in _SPEC_DEFAULTS.get(obj.get("kind", ""), {}).items():
            if key not in spec:
                spec[key] = copy.deepcopy(value)
        if obj.get("kind") == "ReplicationController" and not spec.get("selector"):
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
            if labels:
                spec["selector"] = dict(labels)
        template = spec.get("template")
        if isinstance(spec.get("jobTemplate"), dict):
            template = (spec["jobTemplate"].get("spec") or {}).get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])


class JobStrategy(WorkloadStrategy):
    """A Job selects its pods by its own uid unless the user asked for a manual selector."""

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector") is True:
            return
        uid = obj["metadata"]["uid"]
        name = obj["metadata"].get("name", "")
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        if isinstance(template, dict):
            meta = template.setdefault("metadata", {})
            if isinstance(meta, dict):
                meta.setdefault("labels", {}).update({
                    "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid, "job-name": name,
                })
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("backoffLimit", 6)
        if "completions" not in spec and "parallelism" not in spec:
            spec["completions"] = 1  # neither given: one pod, run to completion once
        spec.setdefault("parallelism", 1)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")


class ServiceStrategy(Strategy):
    """Defaults and the linked cluster-IP and node-port fields; the values themselves are
    allocated after validation by the Service write hooks (apiserver/services)."""

    return_deleted_object = True

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        service_fields.default_service(obj)
        service_fields.normalize_cluster_ips(obj, None)
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if not isinstance(new.get("spec"), dict):
            return
        service_fields.default_service(new)
        service_fields.drop_type_dependent_fields(new, old)
        service_fields.patch_allocated_values(new, old)
        service_fields.normalize_cluster_ips(new, old)
        if service_fields.service_type(new) == "ExternalName":
            new["spec"].pop("internalTrafficPolicy", None)  # upstream hides it on read


class PriorityClassStrategy(Strategy):
    """A PriorityClass preempts lower priorities unless it says otherwise (upstream's default)."""

    def prepare_for_create(self, obj: Obj) -> None:
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        new.setdefault("preemptionPolicy", "PreemptLowerPriority")


_WORKLOAD = WorkloadStrategy()
STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "Pod"): PodStrategy(),
    ("", "Namespace"): NamespaceStrategy(),
    ("", "Service"): ServiceStrategy(),
    ("", "Node"): Strategy(),
    ("", "ReplicationController"): _WORKLOAD,
    ("", "PodTemplate"): _WORKLOAD,
    ("apps", "Deployment"): _WORKLOAD,
    ("apps", "ReplicaSet"): _WORKLOAD,
    ("apps", "StatefulSet"): _WORKLOAD,
    ("apps", "DaemonSet"): _WORKLOAD,
    ("batch", "Job"): JobStrategy(),
    ("batch", "CronJob"): _WORKLOAD,
    ("scheduling.k8s.io", "PriorityClass"): PriorityClassStrategy(),
}
_DEFAULT = Strategy()


def strategy_for(resource: Resource) -> Strategy:
    return STRATEGIES.get((resource.group, resource.kind), _DEFAULT)
