"""EndpointSlices: the Service's endpoints as `discovery.k8s.io/v1` slices of at most 100.

Each sync compares the pods a Service selects (the same membership rules as the Endpoints
controller, except that terminating pods stay, marked `terminating`) with the slices that
already carry `kubernetes.io/service-name=<svc>` and
`endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io`, following upstream's
reconciler (`k8s.io/endpointslice/reconciler.go`):

- Endpoints are grouped by their resolved port list (pods resolving a named targetPort to
  different numbers land in different slices) and by address type (IPv4/IPv6 from the
  Service's ipFamilies).
- Existing slices are kept and edited in place: endpoints that left are removed, changed ones
  replaced, new ones fill slices being updated anyway, then the unchanged slice closest to
  full, and only then new slices (generateName `<svc>-`, ownerReference to the Service). A slice
  that would be deleted while another is created is reused instead. So a pod turning ready
  rewrites one slice and never churns names.
- A Service that selects nothing keeps one empty placeholder slice, as upstream.
- Each endpoint has `addresses`, `conditions` {ready, serving, terminating}, `targetRef`,
  `nodeName`, `zone` (the node's `topology.kubernetes.io/zone`) and `hostname`; a pod whose
  node does not exist is skipped and the Service retried (unless it publishes not-ready
  addresses).

Writes made by this controller are remembered until the informer shows them, so a sync on a
cache that has not caught up with our own creates does not create duplicates (upstream's
EndpointSliceTracker). That memory is only an optimisation: everything else is derived from
the API on every sync. When the Service is gone its slices are deleted here too (upstream leaves
that to the garbage collector through the ownerReference; doing both is harmless).
"""

from __future__ import annotations

import copy
import datetime
import time
from typing import Any

from kubeherd.client import APIStatusError, split_key
from kubeherd.controllers.base import (
    ENDPOINTSLICES,
    NODES,
    PODS,
    SERVICES,
    Context,
    Controller,
    owner_reference,
)
from kubeherd.controllers.endpoints import (
    LAST_CHANGE_TRIGGER_TIME,
    TriggerTimeTracker,
    find_port,
    is_ipv6,
    is_service_ip_set,
    pod_ips,
    rfc3339_nano,
    selects,
    service_selector,
    services_to_update,
    should_pod_be_in_endpoints,
    should_set_hostname,
    target_ref,
)
from kubeherd.controllers.podutil import is_ready

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
# How long a write of ours may stay invisible in the informer before we stop waiting for it.
EXPECTATION_TIMEOUT = 5.0
RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS)


class NodeMissing(Exception):
    """Some selected pods name a node that does not exist; retried with back-off."""


def address_types(service: Obj, pods: list[Obj]) -> list[str]:
    """The address types a Service's slices carry: its ipFamilies; without them, the family of
    its clusterIP; for a headless Service without families, the families its pods have (IPv4
    when none has an IP yet)."""
    spec = service.get("spec") or {}
    families = [f for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return families
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(spec["clusterIP"]) else "IPv4"]
    found = {"IPv6" if is_ipv6(ip) else "IPv4" for pod in pods for ip in pod_ips(pod)}
    return sorted(found) or ["IPv4"]


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    spec = service.get("spec") or {}
    ports = []
    for service_port in spec.get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "protocol": service_port.get("protocol") or "TCP",
                     "port": number}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def port_key(ports: list[Obj]) -> tuple[Any, ...]:
    return tuple(sorted(tuple(sorted(p.items())) for p in ports))


def pod_to_endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    serving = is_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    # never "ready" while terminating, unless the Service publishes not-ready addresses
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == (address_type == "IPv6")],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = target_ref(pod)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_key(endpoint: Obj) -> tuple[Any, ...]:
    """What identifies an endpoint across syncs (upstream's endpoint hash)."""
    ref = endpoint.get("targetRef") or {}
    return (tuple(sorted(endpoint.get("addresses") or [])), endpoint.get("hostname") or "",
            ref.get("namespace", ""), ref.get("name", ""))


def _comparable(endpoint: Obj) -> Obj:
    ref = {k: v for k, v in (endpoint.get("targetRef") or {}).items() if k != "resourceVersion"}
    return {"nodeName": endpoint.get("nodeName"), "zone": endpoint.get("zone"),
            "conditions": endpoint.get("conditions") or {}, "targetRef": ref}


def owned_by(slice_: Obj, service: Obj) -> bool:
    uid = service["metadata"].get("uid")
    return any(ref.get("uid") == uid and ref.get("kind") == "Service" and ref.get("apiVersion") == "v1"
               for ref in slice_["metadata"].get("ownerReferences") or [])


def slice_labels(slice_: Obj, service: Obj) -> tuple[dict[str, str], bool]:
    """The labels a slice should carry (the Service's, plus the reserved ones) and whether the
    Service's own labels differ from the slice's."""
    current = {k: v for k, v in (slice_["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    wanted = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    if not is_service_ip_set(service):
        wanted[HEADLESS] = ""
    wanted[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    wanted[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return wanted, changed


def new_slice(service: Obj, ports: list[Obj], address_type: str) -> Obj:
    meta = service["metadata"]
    slice_: Obj = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"], "labels": {},
                     "ownerReferences": [owner_reference({**service, "apiVersion": "v1", "kind": "Service"})]},
        "addressType": address_type, "endpoints": [], "ports": copy.deepcopy(ports),
    }
    slice_["metadata"]["labels"], _ = slice_labels(slice_, service)
    return slice_


def _is_placeholder_of(slice_: Obj, placeholder: Obj) -> bool:
    return (slice_["metadata"].get("namespace") == placeholder["metadata"]["namespace"]
            and (slice_["metadata"].get("labels") or {}) == placeholder["metadata"]["labels"]
            and slice_.get("addressType") == placeholder["addressType"]
            and not slice_.get("endpoints") and not slice_.get("ports"))


class Plan:
    """The writes one sync decided on."""

    def __init__(self) -> None:
        self.create: list[Obj] = []
        self.update: list[Obj] = []
        self.delete: list[Obj] = []


def reconcile_port_mapping(service: Obj, existing: list[Obj], desired: dict[tuple[Any, ...], Obj],
                           ports: list[Obj], address_type: str, plan: Plan) -> None:
    """Fit the desired endpoints of one port list into that port list's existing slices."""
    by_name: dict[str, Obj] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    for slice_ in existing:
        name = slice_["metadata"]["name"]
        by_name[name] = slice_
        kept = []
        changed = False
        for endpoint in slice_.get("endpoints") or []:
            want = desired.pop(endpoint_key(endpoint), None)
            if want is not None:
                kept.append(want)
                changed = changed or _comparable(want) != _comparable(endpoint)
        labels, labels_changed = slice_labels(slice_, service)
        if changed or len(kept) != len(slice_.get("endpoints") or []):
            if not kept:
                plan.delete.append(slice_)
                continue
            edited = copy.deepcopy(slice_)
            edited["endpoints"] = kept
            edited["metadata"]["labels"] = labels
            by_name[name] = edited
            to_update.append(name)
        elif labels_changed:
            edited = copy.deepcopy(slice_)
            edited["metadata"]["labels"] = labels
            by_name[name] = edited
            to_update.append(name)
        else:
            unchanged.append(name)
    remaining = [desired[k] for k in sorted(desired, key=lambda k: (k[3], k[0]))]
    # fill the slices we write anyway, fullest first
    for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
        room = MAX_ENDPOINTS_PER_SLICE - len(by_name[name]["endpoints"])
        if room > 0 and remaining:
            by_name[name]["endpoints"].extend(remaining[:room])
            remaining = remaining[room:]
    while remaining:
        target: Obj | None = None
        if len(remaining) < MAX_ENDPOINTS_PER_SLICE and unchanged:
            target = _slice_to_fill([by_name[n] for n in unchanged], len(remaining))
        if target is None:
            target = new_slice(service, ports, address_type)
        else:
            target = copy.deepcopy(target)
            by_name[target["metadata"]["name"]] = target
        room = MAX_ENDPOINTS_PER_SLICE - len(target["endpoints"])
        target["endpoints"].extend(remaining[:room])
        remaining = remaining[room:]
        name = target["metadata"].get("name")
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            plan.create.append(target)
    plan.update.extend(by_name[n] for n in to_update)


def _slice_to_fill(slices: list[Obj], count: int) -> Obj | None:
    """The unchanged slice that ends up closest to full when `count` endpoints are added."""
    best, best_gap = None, MAX_ENDPOINTS_PER_SLICE
    for slice_ in slices:
        gap = MAX_ENDPOINTS_PER_SLICE - (count + len(slice_.get("endpoints") or []))
        if 0 <= gap < best_gap:
            best, best_gap = slice_, gap
            if gap == 0:
                break
    return best


class EndpointSliceController(Controller):
    name = "endpointslice"
    workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.slices = self.informer(ENDPOINTSLICES)
        self.nodes = self.informer(NODES)
        self.trigger_times = TriggerTimeTracker()
        # service key -> slice name -> (resourceVersion we wrote, or None for a delete; deadline)
        self.expected: dict[str, dict[str, tuple[int | None, float]]] = {}
        self.watch(self.services)
        self.pods.add_handlers(on_add=lambda pod: self._pod_event(None, pod), on_update=self._pod_event,
                               on_delete=lambda pod: self._pod_event(pod, None))
        self.watch(self.slices, self._service_of_slice)

    def _pod_event(self, old: Obj | None, new: Obj | None) -> None:
        pod = new if new is not None else old
        assert pod is not None
        for key in services_to_update(self.services.indexer.objects(pod["metadata"].get("namespace", "")), old, new):
            self.queue.add(key)

    @staticmethod
    def _service_of_slice(slice_: Obj) -> list[str]:
        labels = slice_["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
            return []
        return [f"{slice_['metadata'].get('namespace', '')}/{labels[SERVICE_NAME_LABEL]}"]

    def _managed_slices(self, namespace: str, service_name: str) -> list[Obj]:
        return [s for s in self.slices.indexer.objects(namespace)
                if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service_name
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME]

    # --- our own writes, until the informer shows them
    def _cache_caught_up(self, key: str, namespace: str) -> bool:
        pending = self.expected.get(key)
        if not pending:
            return True
        now = time.monotonic()
        for name, (version, deadline) in list(pending.items()):
            cached = self.slices.indexer.get_by_name(namespace, name)
            if version is None:
                seen = cached is None
            else:
                seen = cached is not None and int(cached["metadata"].get("resourceVersion") or 0) >= version
            if seen or now > deadline:
                del pending[name]
        if not pending:
            del self.expected[key]
            return True
        return False

    def _remember(self, key: str, name: str, version: int | None) -> None:
        self.expected.setdefault(key, {})[name] = (version, time.monotonic() + EXPECTATION_TIMEOUT)

    # --- reconcile
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        if not self._cache_caught_up(key, namespace):
            self.queue.add_after(key, 0.1)
            return
        service = self.services.indexer.get(key)
        if service is None:
            self.trigger_times.forget(key)
            for slice_ in self._managed_slices(namespace, name):
                await self._delete(key, slice_)
            return
        spec = service.get("spec") or {}
        selector = service_selector(service)
        if spec.get("type") == "ExternalName" or selector is None:
            return  # no slices from this controller: selector-less Services' slices are managed by hand
        pods = [p for p in self.pods.indexer.objects(namespace) if selects(selector, p["metadata"].get("labels"))]
        trigger = self.trigger_times.compute(service, pods)
        plan = Plan()
        types = address_types(service, pods)
        by_type: dict[str, list[Obj]] = {}
        for slice_ in self._managed_slices(namespace, name):
            if slice_.get("addressType") in types:
                by_type.setdefault(slice_["addressType"], []).append(slice_)
            else:
                plan.delete.append(slice_)
        missing_node = False
        for address_type in types:
            missing_node |= self._plan_address_type(service, pods, by_type.get(address_type, []), address_type, plan)
        try:
            await self._finalize(key, service, plan, trigger)
        except APIStatusError as exc:
            self.recorder.record(service, "Warning", "FailedToUpdateEndpointSlices",
                                 f"Error updating Endpoint Slices for Service {key}: {exc}")
            raise
        if missing_node:
            raise NodeMissing(f"some pods of Service {key} are on nodes that do not exist")

    def _plan_address_type(self, service: Obj, pods: list[Obj], existing: list[Obj], address_type: str,
                           plan: Plan) -> bool:
        publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        deletes_before = len(plan.delete)
        creates_before = len(plan.create)
        existing_by_ports: dict[tuple[Any, ...], list[Obj]] = {}
        for slice_ in existing:
            if owned_by(slice_, service):
                existing_by_ports.setdefault(port_key(slice_.get("ports") or []), []).append(slice_)
            else:
                plan.delete.append(slice_)  # left by an earlier Service of the same name
        desired: dict[tuple[Any, ...], dict[tuple[Any, ...], Obj]] = {}
        desired_ports: dict[tuple[Any, ...], list[Obj]] = {}
        missing_node = False
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, True):
                continue
            ports = endpoint_ports(service, pod)
            pkey = port_key(ports)
            desired.setdefault(pkey, {})
            desired_ports.setdefault(pkey, ports)
            node_name = (pod.get("spec") or {}).get("nodeName")
            node = self.nodes.indexer.get(node_name) if node_name else None
            if node_name and node is None and not publish_not_ready:
                missing_node = True
                continue
            endpoint = pod_to_endpoint(pod, node, service, address_type)
            if endpoint["addresses"]:
                desired[pkey][endpoint_key(endpoint)] = endpoint
        for pkey, endpoints in desired.items():
            reconcile_port_mapping(service, existing_by_ports.get(pkey, []), endpoints, desired_ports[pkey],
                                   address_type, plan)
        for pkey, slices in existing_by_ports.items():
            if pkey not in desired:
                plan.delete.extend(slices)
        deleting = plan.delete[deletes_before:]
        if len(existing) == len(deleting) and len(plan.create) == creates_before:
            placeholder = new_slice(service, [], address_type)
            if len(deleting) == 1 and _is_placeholder_of(deleting[0], placeholder):
                plan.delete.pop()  # the placeholder we have is the one we want
            else:
                plan.create.append(placeholder)
        return missing_node

    async def _finalize(self, key: str, service: Obj, plan: Plan, trigger: datetime.datetime | None) -> None:
        # reuse slices we were about to delete for the ones we were about to create
        i = 0
        while i < len(plan.delete) and plan.create:
            doomed = plan.delete[i]
            fresh = plan.create[-1]
            if doomed.get("addressType") == fresh["addressType"] and owned_by(doomed, service):
                plan.create.pop()
                fresh["metadata"]["name"] = doomed["metadata"]["name"]
                fresh["metadata"]["resourceVersion"] = doomed["metadata"].get("resourceVersion")
                fresh["metadata"].pop("generateName", None)
                plan.update.append(fresh)
                plan.delete.pop(i)
            else:
                i += 1
        if not service["metadata"].get("deletionTimestamp"):
            for slice_ in plan.create:
                _set_trigger_time(slice_, trigger)
                try:
                    created = await self.client.create(ENDPOINTSLICES, slice_)
                except APIStatusError as exc:
                    causes = (exc.status.get("details") or {}).get("causes") or []
                    if any(c.get("reason") == "NamespaceTerminating" for c in causes):
                        return
                    raise
                self._remember(key, created["metadata"]["name"], int(created["metadata"]["resourceVersion"]))
        for slice_ in plan.update:
            _set_trigger_time(slice_, trigger)
            updated = await self.client.update(ENDPOINTSLICES, slice_)
            self._remember(key, updated["metadata"]["name"], int(updated["metadata"]["resourceVersion"]))
        for slice_ in plan.delete:
            await self._delete(key, slice_)

    async def _delete(self, key: str, slice_: Obj) -> None:
        name = slice_["metadata"]["name"]
        try:
            await self.client.delete(ENDPOINTSLICES, name, slice_["metadata"]["namespace"])
        except APIStatusError as exc:
            if exc.code != 404:
                raise
        self._remember(key, name, None)


def _set_trigger_time(slice_: Obj, trigger: datetime.datetime | None) -> None:
    annotations = dict(slice_["metadata"].get("annotations") or {})
    if trigger is not None:
        annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339_nano(trigger)
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if annotations:
        slice_["metadata"]["annotations"] = annotations
    else:
        slice_["metadata"].pop("annotations", None)
