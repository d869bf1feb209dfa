"""The catalog of built-in resources: what discovery advertises and what the registry serves.

Each resource is one declaration. The apiserver's discovery documents, routing and the
generic registry all read this catalog, so adding a built-in kind means adding a line here
(and, where the kind needs special behaviour, a small strategy in the apiserver).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    kind: str  # the kind it answers with
    verbs: tuple[str, ...] = STATUS_VERBS
    group: str | None = None  # None: the parent's group and version
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    # Whether metadata.generation is kept and bumped on every change outside status/metadata.
    generation: bool = False
    singular: str = field(default="")

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_kind(self) -> str:
        """`Kind.group` as upstream error messages write it (`Deployment.apps`, `Pod`)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_prefix(self) -> str:
        """All versions of one group/resource share one storage prefix."""
        return f"/registry/{self.group or 'core'}/{self.plural}/"

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def has_status(self) -> bool:
        return self.subresource("status") is not None


def _status(kind: str) -> Subresource:
    return Subresource("status", kind)


def _scale() -> Subresource:
    return Subresource("scale", "Scale", group="autoscaling", version="v1")


def _r(group: str, version: str, kind: str, plural: str, namespaced: bool = True, **kw: object) -> Resource:
    return Resource(group, version, kind, plural, namespaced, **kw)  # type: ignore[arg-type]


ALL = ("all",)
EXT = ("api-extensions",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("", "v1", "Binding", "bindings", verbs=CREATE_ONLY),
    _r("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("", "v1", "Endpoints", "endpoints", short_names=("ep",), singular="endpoints"),
    _r("", "v1", "Event", "events", short_names=("ev",)),
    _r("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _r(
        "", "v1", "Namespace", "namespaces", False, short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(Subresource("finalize", "Namespace", ("update",)), _status("Namespace")),
    ),
    _r(
        "", "v1", "Node", "nodes", False, short_names=("no",),
        subresources=(Subresource("proxy", "NodeProxyOptions", ("create", "delete", "get", "patch", "update")),
                      _status("Node")),
    ),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
       subresources=(_status("PersistentVolumeClaim"),)),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, short_names=("pv",),
       subresources=(_status("PersistentVolume"),)),
    _r(
        "", "v1", "Pod", "pods", short_names=("po",), categories=ALL, generation=True,
        subresources=(
            Subresource("attach", "PodAttachOptions", ("create", "get")),
            Subresource("binding", "Binding", ("create",)),
            Subresource("ephemeralcontainers", "Pod"),
            Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("log", "Pod", ("get",)),
            Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
            Subresource("proxy", "PodProxyOptions", ("create", "delete", "get", "patch", "update")),
            Subresource("resize", "Pod"),
            _status("Pod"),
        ),
    ),
    _r("", "v1", "PodTemplate", "podtemplates"),
    _r("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=ALL,
       generation=True, subresources=(_scale(), _status("ReplicationController"))),
    _r("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",),
       subresources=(_status("ResourceQuota"),)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",),
       subresources=(Subresource("token", "TokenRequest", ("create",), group="authentication.k8s.io",
                                 version="v1"),)),
    _r("", "v1", "Service", "services", short_names=("svc",), categories=ALL,
       subresources=(Subresource("proxy", "ServiceProxyOptions", ("create", "delete", "get", "patch", "update")),
                     _status("Service"))),
    # apps/v1
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _r("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=ALL, generation=True,
       subresources=(_status("DaemonSet"),)),
    _r("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=ALL, generation=True,
       subresources=(_scale(), _status("Deployment"))),
    _r("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=ALL, generation=True,
       subresources=(_scale(), _status("ReplicaSet"))),
    _r("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=ALL, generation=True,
       subresources=(_scale(), _status("StatefulSet"))),
    # events.k8s.io/v1
    _r("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    # authentication / authorization (create-only reviews)
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=CREATE_ONLY),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=CREATE_ONLY),
    # v1beta1 is what `kubectl auth whoami` of kubectl 1.27 asks for; upstream 1.27-1.32 serve it only when
    # enabled (--runtime-config) and 1.33 no longer does: kept here so the oldest supported kubectl works
    _r("authentication.k8s.io", "v1beta1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=CREATE_ONLY),
    # autoscaling: v2 is preferred, v1 served from the same storage
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
       categories=ALL, subresources=(_status("HorizontalPodAutoscaler"),)),
    _r("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
       categories=ALL, subresources=(_status("HorizontalPodAutoscaler"),)),
    # batch/v1
    _r("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=ALL, generation=True,
       subresources=(_status("CronJob"),)),
    _r("batch", "v1", "Job", "jobs", categories=ALL, generation=True, subresources=(_status("Job"),)),
    # certificates.k8s.io/v1
    _r("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False,
       short_names=("csr",),
       subresources=(Subresource("approval", "CertificateSigningRequest"),
                     _status("CertificateSigningRequest"))),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), generation=True,
       subresources=(_status("Ingress"),)),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",),
       generation=True),
    # policy/v1
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",), generation=True,
       subresources=(_status("PodDisruptionBudget"),)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    _r("storage.k8s.io", "v1", "CSINode", "csinodes", False),
    _r("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities"),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=("sc",)),
    _r("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False,
       subresources=(_status("VolumeAttachment"),)),
    # admissionregistration.k8s.io/v1
    _r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
       False, categories=EXT, generation=True),
    _r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
       False, categories=EXT, generation=True, subresources=(_status("ValidatingAdmissionPolicy"),)),
    _r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
       "validatingadmissionpolicybindings", False, categories=EXT, generation=True),
    _r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
       "validatingwebhookconfigurations", False, categories=EXT, generation=True),
    # apiextensions.k8s.io/v1
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
       short_names=("crd", "crds"), categories=EXT, generation=True,
       subresources=(_status("CustomResourceDefinition"),)),
    # scheduling.k8s.io/v1
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, short_names=("pc",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # node.k8s.io/v1
    _r("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", False),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
)

# Group order as upstream's /apis lists them; within a group, the first version is preferred.
GROUP_ORDER = (
    "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
    "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
    "node.k8s.io", "discovery.k8s.io",
)

# Resources whose objects are only ever computed, never stored.
VIRTUAL_KINDS = frozenset({
    "Binding", "SelfSubjectReview", "TokenReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview",
    "SelfSubjectRulesReview", "SubjectAccessReview",
})


class Catalog:
    """Look-ups over a set of resources: by group/version/plural, and group versions in order."""

    def __init__(self, resources: tuple[Resource, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.group, r.version, r.kind): r for r in resources}
        versions: dict[str, list[str]] = {}
        for r in resources:
            if r.version not in versions.setdefault(r.group, []):
                versions[r.group].append(r.version)
        self.group_versions = versions

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_kind.get((group, version, kind))

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]

    def groups(self) -> list[str]:
        """Named groups (not core) in upstream's order, unknown ones after, alphabetically."""
        named = [g for g in self.group_versions if g]
        known = [g for g in GROUP_ORDER if g in named]
        return known + sorted(g for g in named if g not in GROUP_ORDER)

    def preferred_version(self, group: str) -> str:
        return self.group_versions[group][0]

    def stored(self) -> list[Resource]:
        """One resource per storage prefix (the preferred version), for the watch cache."""
        seen: dict[str, Resource] = {}
        for r in self.resources:
            if r.kind not in VIRTUAL_KINDS:
                seen.setdefault(r.storage_prefix, r)
        return list(seen.values())


CATALOG = Catalog()
