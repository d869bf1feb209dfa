"""A pod as the scheduler sees it: parsed once, read by every plugin on every node.

`PodInfo.from_pod` turns the API object into what plugins ask about — the pod's resource
request (upstream's rules: app containers add up, init containers run one at a time, sidecars
stay running, overhead on top), host ports, tolerations, node selector and affinity terms,
topology spread constraints, images and claims — so a cycle over a thousand nodes never
re-reads the JSON. The priority comes from a resolver (the PriorityClass the pod names), since
the API server of this project does not stamp `spec.priority` from the class yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kubeherd.api.selectors import (
    EVERYTHING,
    IN,
    NOT_IN,
    LabelSelector,
    SelectorError,
    label_selector_from_dict,
    new_requirement,
)
from kubeherd.scheduler.types import (
    CPU,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    MEMORY,
    HostPort,
    Obj,
    Resource,
    Toleration,
)

PriorityResolver = Callable[[Obj], tuple[int, str]]
NamespaceLabels = Callable[[str], Mapping[str, str] | None]


# ------------------------------------------------------------------------------ node selectors
@dataclass(frozen=True, slots=True)
class Requirement:
    """One NodeSelectorRequirement: In, NotIn, Exists, DoesNotExist, Gt, Lt."""

    key: str
    operator: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return self.key in labels and labels[self.key] in self.values
        if op == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        if op in ("Gt", "Lt"):
            if self.key not in labels or len(self.values) != 1:
                return False
            try:
                have = int(labels[self.key])
                want = int(next(iter(self.values)))
            except ValueError:
                return False
            return have > want if op == "Gt" else have < want
        return False


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """Expressions on labels AND fields (only `metadata.name`); an empty term matches nothing."""

    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]

    @classmethod
    def parse(cls, term: Mapping[str, Any] | None) -> NodeSelectorTerm:
        term = term or {}

        def reqs(items: Any) -> tuple[Requirement, ...]:
            return tuple(Requirement(str(r.get("key") or ""), str(r.get("operator") or ""),
                                     frozenset(str(v) for v in r.get("values") or []))
                         for r in items or [] if isinstance(r, dict))

        return cls(reqs(term.get("matchExpressions")), reqs(term.get("matchFields")))

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        if not self.expressions and not self.fields:
            return False
        if not all(r.matches(labels) for r in self.expressions):
            return False
        if self.fields:
            node_fields = {"metadata.name": name}
            if not all(r.key == "metadata.name" and r.matches(node_fields) for r in self.fields):
                return False
        return True


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """Required node affinity: the terms are ORed; no terms match no node."""

    terms: tuple[NodeSelectorTerm, ...]

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> NodeSelector:
        return cls(tuple(NodeSelectorTerm.parse(t) for t in obj.get("nodeSelectorTerms") or []))

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        return any(t.matches(labels, name) for t in self.terms)


# ------------------------------------------------------------------------------ pod affinity
@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A PodAffinityTerm with its selectors parsed: which pods, in which namespaces, per which key."""

    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    selector: LabelSelector
    topology_key: str

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: NamespaceLabels) -> bool:
        if namespace not in self.namespaces:
            if self.namespace_selector is None:
                return False
            if not self.namespace_selector.empty:
                have = ns_labels(namespace)
                if have is None or not self.namespace_selector.matches(have):
                    return False
        return self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    weight: int
    term: AffinityTerm


# Parsed terms, shared by every pod that carries the same term (a workload's replicas), so that
# the parse happens once and plugins can memoise per term.
_TERMS: dict[tuple[Any, ...], AffinityTerm] = {}
_TERMS_LIMIT = 20_000


def _affinity_term(owner_ns: str, owner_labels: Mapping[str, str], term: Mapping[str, Any]) -> AffinityTerm:
    keys = [*(term.get("matchLabelKeys") or ()), *(term.get("mismatchLabelKeys") or ())]
    cache_key = (owner_ns, orjson.dumps(term, option=orjson.OPT_SORT_KEYS),
                 tuple(owner_labels.get(str(k)) for k in keys))
    parsed = _TERMS.get(cache_key)
    if parsed is None:
        if len(_TERMS) >= _TERMS_LIMIT:
            _TERMS.clear()
        parsed = _TERMS[cache_key] = _parse_affinity_term(owner_ns, owner_labels, term)
    return parsed


def _parse_affinity_term(owner_ns: str, owner_labels: Mapping[str, str], term: Mapping[str, Any]) -> AffinityTerm:
    selector_obj = term.get("labelSelector")
    selector = label_selector_from_dict(selector_obj)
    # matchLabelKeys / mismatchLabelKeys narrow the selector by the owning pod's own labels
    extra = []
    for key in term.get("matchLabelKeys") or []:
        if key in owner_labels and selector_obj is not None:
            extra.append(new_requirement(str(key), IN, [owner_labels[key]]))
    for key in term.get("mismatchLabelKeys") or []:
        if key in owner_labels and selector_obj is not None:
            extra.append(new_requirement(str(key), NOT_IN, [owner_labels[key]]))
    if extra:
        selector = selector.add(*extra)
    namespaces = frozenset(str(n) for n in term.get("namespaces") or [])
    ns_selector_obj = term.get("namespaceSelector")
    ns_selector = None if ns_selector_obj is None else label_selector_from_dict(ns_selector_obj)
    if not namespaces and ns_selector is None:
        namespaces = frozenset([owner_ns])
    return AffinityTerm(namespaces, ns_selector, selector, str(term.get("topologyKey") or ""))


# ------------------------------------------------------------------------------ requests
def _container_requests(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((container.get("resources") or {}).get("requests")) or {}


def _non_zero(requests: Mapping[str, Any]) -> Resource:
    r = Resource.from_list(requests)
    if CPU not in requests:
        r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
    if MEMORY not in requests:
        r.memory = DEFAULT_MEMORY_REQUEST
    return r


def pod_requests(spec: Mapping[str, Any], non_zero: bool = False) -> Resource:
    """What a pod asks of a node (upstream's resource.PodRequests).

    App containers run together, so their requests add up; init containers run one after the
    other, so only the largest counts — except restartable ("sidecar") init containers, which keep
    running: each adds to the total and to every init container started after it. The pod needs
    max(app containers + sidecars, the largest init step), plus its overhead. With `non_zero`, a
    container that requests no cpu/memory counts as 100m / 200MB (used only for scoring).
    """
    def of(container: Mapping[str, Any]) -> Resource:
        requests = _container_requests(container)
        return _non_zero(requests) if non_zero else Resource.from_list(requests)

    total = Resource()
    for c in spec.get("containers") or []:
        if isinstance(c, dict):
            total.add(of(c))
    sidecars = Resource()
    init_max = Resource()
    for c in spec.get("initContainers") or []:
        if not isinstance(c, dict):
            continue
        req = of(c)
        if c.get("restartPolicy") == "Always":
            total.add(req)
            sidecars.add(req)
            step = sidecars.copy()
        else:
            step = req.copy()
            step.add(sidecars)
        init_max.set_max(step)
    total.set_max(init_max)
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resource.from_list(overhead))
    return total


def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    host_network = bool(spec.get("hostNetwork"))
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    containers += [c for c in spec.get("initContainers") or []
                   if isinstance(c, dict) and c.get("restartPolicy") == "Always"]
    ports = []
    for c in containers:
        for p in c.get("ports") or []:
            if not isinstance(p, dict):
                continue
            host_port = p.get("hostPort") or (p.get("containerPort") if host_network else 0)
            if isinstance(host_port, int) and host_port > 0:
                ports.append(HostPort.of(p.get("hostIP"), p.get("protocol"), host_port))
    return tuple(ports)


def _claim_names(name: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    claims = []
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        pvc = volume.get("persistentVolumeClaim")
        if isinstance(pvc, dict) and pvc.get("claimName"):
            claims.append(str(pvc["claimName"]))
        elif isinstance(volume.get("ephemeral"), dict):
            claims.append(f"{name}-{volume.get('name')}")
    return tuple(claims)


def default_priority(pod: Obj) -> tuple[int, str]:
    spec = pod.get("spec") or {}
    priority = spec.get("priority")
    return (priority if isinstance(priority, int) else 0), str(spec.get("preemptionPolicy") or "PreemptLowerPriority")


class PodInfo:
    """Everything plugins read about one pod, computed once per version of the pod."""

    __slots__ = (
        "affinity_parse_error", "has_affinity", "has_required_anti_affinity", "host_ports", "images", "key",
        "labels", "labels_key", "name", "namespace", "node_name", "node_selector", "nominated_node_name",
        "non_zero_cpu", "non_zero_memory", "owner_uid", "pod", "preemption_policy", "preferred_affinity_terms",
        "preferred_anti_affinity_terms", "preferred_node_affinity", "priority", "pvc_names", "requests",
        "required_affinity_terms", "required_anti_affinity_terms", "required_node_affinity", "scheduler_name",
        "scheduling_gated", "spread_constraints", "start_time", "terminal", "terminating", "tolerations", "uid",
    )

    def __init__(self, pod: Obj, priority: PriorityResolver | None = None) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.name: str = meta.get("name", "")
        self.namespace: str = meta.get("namespace", "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or self.key
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.labels_key = tuple(sorted(self.labels.items()))
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        self.priority, self.preemption_policy = (priority or default_priority)(pod)
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.terminal = status.get("phase") in ("Succeeded", "Failed")
        self.start_time: str = status.get("startTime") or meta.get("creationTimestamp") or ""
        self.nominated_node_name: str = status.get("nominatedNodeName") or ""
        self.scheduling_gated = bool(spec.get("schedulingGates"))
        owner = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        self.owner_uid: str = (owner or {}).get("uid", "")
        self.requests = pod_requests(spec)
        non_zero = pod_requests(spec, non_zero=True)
        self.non_zero_cpu = non_zero.milli_cpu
        self.non_zero_memory = non_zero.memory
        self.host_ports = _host_ports(spec)
        self.tolerations = tuple(Toleration.parse(t) for t in spec.get("tolerations") or [] if isinstance(t, dict))
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        self.images = tuple(str(c.get("image")) for key in ("initContainers", "containers")
                            for c in spec.get(key) or [] if isinstance(c, dict) and c.get("image"))
        self.pvc_names = _claim_names(self.name, spec)
        self.spread_constraints: list[Obj] = [c for c in spec.get("topologySpreadConstraints") or []
                                              if isinstance(c, dict)]
        affinity = spec.get("affinity") or {}
        node_affinity = affinity.get("nodeAffinity") or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.required_node_affinity = NodeSelector.parse(required) if isinstance(required, dict) else None
        self.preferred_node_affinity = tuple(
            (int(t.get("weight") or 0), NodeSelectorTerm.parse(t.get("preference")))
            for t in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if isinstance(t, dict) and t.get("weight"))
        self.affinity_parse_error = ""
        self._parse_pod_affinity(affinity)

    def _parse_pod_affinity(self, affinity: Mapping[str, Any]) -> None:
        pa = affinity.get("podAffinity") or {}
        paa = affinity.get("podAntiAffinity") or {}
        self.has_affinity = bool(pa or paa)
        self.required_affinity_terms: tuple[AffinityTerm, ...] = ()
        self.required_anti_affinity_terms: tuple[AffinityTerm, ...] = ()
        self.preferred_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
        self.preferred_anti_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
        self.has_required_anti_affinity = False
        if not self.has_affinity:
            return
        try:
            ns, labels = self.namespace, self.labels
            self.required_affinity_terms = tuple(
                _affinity_term(ns, labels, t) for t in pa.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
            self.required_anti_affinity_terms = tuple(
                _affinity_term(ns, labels, t) for t in paa.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
            self.preferred_affinity_terms = tuple(
                WeightedAffinityTerm(int(t.get("weight") or 0), _affinity_term(ns, labels, t.get("podAffinityTerm") or {}))
                for t in pa.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
            self.preferred_anti_affinity_terms = tuple(
                WeightedAffinityTerm(int(t.get("weight") or 0), _affinity_term(ns, labels, t.get("podAffinityTerm") or {}))
                for t in paa.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
        except (SelectorError, AttributeError, TypeError, ValueError) as exc:
            self.affinity_parse_error = str(exc)
        self.has_required_anti_affinity = bool(self.required_anti_affinity_terms)
        # terms that make this pod attract or repel others when *scoring*: required anti-affinity
        # only filters (and is indexed on its own), so it does not count here
        self.has_affinity = bool(self.required_affinity_terms or self.preferred_affinity_terms
                                 or self.preferred_anti_affinity_terms)

    @classmethod
    def from_pod(cls, pod: Obj, priority: PriorityResolver | None = None) -> PodInfo:
        return cls(pod, priority)

    def with_node(self, node_name: str) -> PodInfo:
        """The same pod placed on `node_name` (what the cache assumes before binding returns)."""
        other = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(other, slot, getattr(self, slot))
        other.node_name = node_name
        other.pod = {**self.pod, "spec": {**(self.pod.get("spec") or {}), "nodeName": node_name}}
        return other

    def matches_all_affinity_terms(self, terms: tuple[AffinityTerm, ...], ns_labels: NamespaceLabels) -> bool:
        if not terms:
            return False
        return all(t.matches(self.namespace, self.labels, ns_labels) for t in terms)

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name!r}, priority={self.priority})"


def no_namespace_labels(namespace: str) -> Mapping[str, str] | None:
    """A namespace-label lookup for callers that know no namespaces (every selector sees `{}`)."""
    return {}


__all__ = [
    "EVERYTHING", "AffinityTerm", "NodeSelector", "NodeSelectorTerm", "PodInfo", "Requirement",
    "WeightedAffinityTerm", "default_priority", "no_namespace_labels", "pod_requests",
]
